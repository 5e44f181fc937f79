// Whether a private key's text is one the connector's SSH library (ssh2 1.17.0) loads without a passphrase,
// decided the way its parser (ssh2/lib/protocol/keyParser.js) decides, and if not, what is wrong in words an
// admin can act on. Pure and dependency-free beyond zod: the credential form runs it in the browser before
// sealing, `psm-connector seal` before sealing, and the connector before it hands a key to ssh2.
//
// What ssh2 loads (after trimming surrounding whitespace): OpenSSH `openssh-key-v1` (ed25519, ecdsa
// p256/384/521, rsa, dsa), PEM PKCS#1 RSA / SEC1 EC / DSA, PuTTY PPK v2 (rsa, dsa). Nothing before the
// BEGIN line or after the END line. No PKCS#8 (`BEGIN PRIVATE KEY`), no PPK v3, no security-key types. An
// encrypted key needs its passphrase, and credentials carry none, so encrypted keys are refused.
// The checks are structural, as ssh2's are: numbers that are wrong but well-formed pass here and fail at the
// target (`auth_failed`).
import { z } from "zod";

export const PrivateKeyProblem = z.enum([
  "empty",
  "public_key", // a public key (or certificate) where the private key belongs
  "encrypted", // protected by a passphrase
  "text_before", // something before the BEGIN line
  "text_after", // something after the END line (a comment, a second key, a shell prompt)
  "unsupported_format", // PKCS#8, PPK v3, an unknown PEM label, not a key at all
  "unsupported_type", // a key algorithm ssh2 cannot use (security keys, an unknown curve)
  "malformed", // the right wrapper, but the contents do not decode as a whole key
]);
export type PrivateKeyProblem = z.infer<typeof PrivateKeyProblem>;

export type PrivateKeyVerdict =
  | { ok: true; format: "openssh" | "pem" | "ppk"; type: string }
  | { ok: false; problem: PrivateKeyProblem; detail: string };

/** What to tell the admin about a refused key: one sentence naming what is wrong and what to do. */
export function privateKeyProblemText(verdict: Extract<PrivateKeyVerdict, { ok: false }>): string {
  switch (verdict.problem) {
    case "empty":
      return "Paste the private key.";
    case "public_key":
      return "This is a public key: paste the private key (the file without .pub).";
    case "encrypted":
      return "This key is encrypted with a passphrase, which credentials cannot carry: remove it (ssh-keygen -p -N '' -f KEYFILE) and paste the key again. The vault seals it instead.";
    case "text_before":
      return "Text before the BEGIN line: paste only the key, from -----BEGIN to -----END.";
    case "text_after":
      return "Text after the END line: remove everything after the -----END … PRIVATE KEY----- line.";
    case "unsupported_format":
      return `Unsupported key format (${verdict.detail}): save the key in OpenSSH format (ssh-keygen -p -f KEYFILE rewrites it) and paste it again.`;
    case "unsupported_type":
      return `Unsupported key type ${verdict.detail}: use an Ed25519, ECDSA or RSA key.`;
    case "malformed":
      return `This key is damaged (${verdict.detail}): paste the whole key file again.`;
  }
}

const refuse = (problem: PrivateKeyProblem, detail = ""): PrivateKeyVerdict => ({ ok: false, problem, detail });

// ssh2's own patterns, verbatim, so that what matches here matches there.
const OPENSSH_RE =
  /^-----BEGIN OPENSSH PRIVATE KEY-----(?:\r\n|\n)([\s\S]+)(?:\r\n|\n)-----END OPENSSH PRIVATE KEY-----$/;
const PEM_RE =
  /^-----BEGIN (RSA|DSA|EC) PRIVATE KEY-----(?:\r\n|\n)((?:[^:]+:\s*[\S].*(?:\r\n|\n))*)([\s\S]+)(?:\r\n|\n)-----END (RSA|DSA|EC) PRIVATE KEY-----$/;
const PPK_RE =
  /^PuTTY-User-Key-File-2: (ssh-(?:rsa|dss))\r?\nEncryption: (aes256-cbc|none)\r?\nComment: ([^\r\n]*)\r?\nPublic-Lines: \d+\r?\n([\s\S]+?)\r?\nPrivate-Lines: \d+\r?\n([\s\S]+?)\r?\nPrivate-MAC: ([^\r\n]+)/;
const OPENSSH_PUBLIC_RE =
  /^(((?:ssh-(?:rsa|dss|ed25519))|ecdsa-sha2-nistp(?:256|384|521))(?:-cert-v0[01]@openssh.com)?) ([A-Z0-9a-z/+=]+)(?:$|\s+([\S].*)?)$/;

/** Decides whether ssh2 1.17.0 would load this text as a private key with no passphrase. */
export function checkPrivateKey(text: string): PrivateKeyVerdict {
  const str = text.trim();
  if (str.length === 0) return refuse("empty");
  const openssh = OPENSSH_RE.exec(str);
  if (openssh) return orSecondKey(str, openSshKey(decodeBase64(openssh[1]!)));
  const pem = PEM_RE.exec(str);
  if (pem) return orSecondKey(str, pemKey(pem[1] as "RSA" | "DSA" | "EC", pem[2]!, decodeBase64(pem[3]!)));
  const ppk = PPK_RE.exec(str);
  if (ppk) return ppkKey(ppk);
  return diagnose(str);
}

/** Two keys pasted one after the other match the patterns whole and then fail to decode: say so. */
function orSecondKey(str: string, verdict: PrivateKeyVerdict): PrivateKeyVerdict {
  if (verdict.ok || (str.match(/-----BEGIN /g) ?? []).length < 2) return verdict;
  return refuse("text_after", "a second key");
}

/** Not loadable: say why, as precisely as the text allows. */
function diagnose(str: string): PrivateKeyVerdict {
  const firstLine = str.split(/\r?\n/, 1)[0]!;
  if (OPENSSH_PUBLIC_RE.test(firstLine) || /^(ssh|ecdsa|sk)-[\w@.-]+ AAAA/.test(firstLine))
    return refuse("public_key", firstLine.split(" ", 1)[0]);
  if (/^---- BEGIN SSH2 PUBLIC KEY ----/.test(str) || /-----BEGIN (RSA |EC |DSA )?PUBLIC KEY-----/.test(str))
    return refuse("public_key", "PEM public key");
  if (/^PuTTY-User-Key-File-(\d+): (\S+)/.test(str)) {
    const [, version, type] = /^PuTTY-User-Key-File-(\d+): (\S+)/.exec(str)!;
    if (version !== "2") return refuse("unsupported_format", `PuTTY key version ${version}`);
    if (type !== "ssh-rsa" && type !== "ssh-dss") return refuse("unsupported_type", `${type} (as a PuTTY key)`);
    if (/^Encryption: (?!none\r?$)/m.test(str)) return refuse("encrypted", "PuTTY");
    return refuse("malformed", "PuTTY key layout");
  }
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(str);
  if (!begin) return refuse("unsupported_format", "no -----BEGIN line");
  const label = begin[1]!;
  const known = label === "OPENSSH PRIVATE KEY" || /^(RSA|DSA|EC) PRIVATE KEY$/.test(label);
  if (label === "ENCRYPTED PRIVATE KEY") return refuse("encrypted", "PKCS#8");
  if (label === "PRIVATE KEY") return refuse("unsupported_format", "PKCS#8 “BEGIN PRIVATE KEY”");
  if (!known) return refuse("unsupported_format", `“BEGIN ${label}”`);
  if (begin.index > 0) return refuse("text_before");
  const end = /(?:\r\n|\n)-----END [A-Z0-9 ]+-----/.exec(str);
  if (!end) return refuse("malformed", "no -----END line");
  if (end.index + end[0].length < str.length) return refuse("text_after");
  return refuse("malformed", "the BEGIN and END lines do not match");
}

// ---- OpenSSH "openssh-key-v1" (PROTOCOL.key in OpenSSH) ----

/** Ciphers ssh2 knows for OpenSSH keys; any of them still needs a passphrase. */
const OPENSSH_CIPHERS = new Set([
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "chacha20-poly1305@openssh.com",
  "aes256-ctr",
  "aes256-cbc",
  "aes192-cbc",
  "aes128-cbc",
  "3des-cbc",
  "aes128-gcm",
  "aes256-gcm",
]);

function openSshKey(data: Uint8Array): PrivateKeyVerdict {
  // magic "openssh-key-v1\0" | string cipher | string kdf | string kdfoptions | uint32 nkeys |
  // string publickey × nkeys | string private section (checkints, keys, comments, padding 1,2,3…)
  if (data.length < 31) return refuse("malformed", "too short");
  if (utf8(data.subarray(0, 15)) !== "openssh-key-v1\0") return refuse("malformed", "not openssh-key-v1");
  const b = new SshBuffer(data);
  const cipher = b.text(15);
  if (cipher === undefined) return refuse("malformed", "cipher name");
  if (cipher !== "none" && !OPENSSH_CIPHERS.has(cipher)) return refuse("encrypted", `cipher ${cipher}`);
  const kdf = b.text(b.pos);
  if (kdf === undefined) return refuse("malformed", "kdf name");
  if (kdf !== "none") return cipher === "none" ? refuse("malformed", "kdf without cipher") : refuse("encrypted");
  if (cipher !== "none") return refuse("malformed", "cipher without kdf");
  const kdfOptions = b.string(b.pos);
  if (kdfOptions === undefined || kdfOptions.length > 0) return refuse("malformed", "kdf options");
  if (b.pos! + 3 >= data.length) return refuse("malformed", "key count");
  const keyCount = readUInt32(data, b.pos!);
  b.pos! += 4;
  if (keyCount === 0) return refuse("malformed", "no key inside");
  for (let i = 0; i < keyCount; ++i) {
    const pub = b.string(b.pos);
    if (pub === undefined || new SshBuffer(pub).text(0) === undefined) return refuse("malformed", "public key");
  }
  const priv = b.string(b.pos);
  if (priv === undefined || b.pos !== data.length) return refuse("malformed", "private section");
  return openSshPrivateSection(new SshBuffer(priv), keyCount);
}

function openSshPrivateSection(b: SshBuffer, keyCount: number): PrivateKeyVerdict {
  const data = b.bytes;
  if (data.length < 8) return refuse("malformed", "private section");
  if (readUInt32(data, 0) !== readUInt32(data, 4)) return refuse("malformed", "integrity check failed");
  b.pos = 8;
  let first = "";
  for (let i = 0; i < keyCount; ++i) {
    const type = b.text(b.pos);
    if (type === undefined) return refuse("malformed", "key type");
    switch (type) {
      case "ssh-rsa": {
        // n, e, d, iqmp, p, q
        const f = b.strings(6);
        if (!f || !rsaNumbersUsable(f[2]!, f[4]!, f[5]!)) return refuse("malformed", "RSA fields");
        break;
      }
      case "ssh-dss":
        if (!b.strings(5)) return refuse("malformed", "DSA fields");
        break;
      case "ssh-ed25519": {
        const pub = b.string(b.pos);
        if (pub === undefined || pub.length !== 32) return refuse("malformed", "Ed25519 public key");
        const secret = b.string(b.pos);
        if (secret === undefined || secret.length !== 64) return refuse("malformed", "Ed25519 private key");
        break;
      }
      case "ecdsa-sha2-nistp256":
      case "ecdsa-sha2-nistp384":
      case "ecdsa-sha2-nistp521":
        // curve name (skipped), Q, d
        if (!b.skip(1) || !b.strings(2)) return refuse("malformed", "ECDSA fields");
        break;
      default:
        return refuse("unsupported_type", type);
    }
    if (b.text(b.pos) === undefined) return refuse("malformed", "comment");
    if (i === 0) first = type;
  }
  // Padding: 1, 2, 3, … (mod 255) to the end.
  let count = 0;
  for (let i = b.pos!; i < data.length; ++i) if (data[i] !== ++count % 255) return refuse("malformed", "padding");
  return { ok: true, format: "openssh", type: first };
}

// ---- PEM: PKCS#1 RSA, SEC1 EC, OpenSSL DSA (with optional RFC 1421 headers) ----

const CURVES: Record<string, { type: string; order: bigint }> = {
  "1.2.840.10045.3.1.7": {
    type: "ecdsa-sha2-nistp256",
    order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  "1.3.132.0.34": {
    type: "ecdsa-sha2-nistp384",
    order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  "1.3.132.0.35": {
    type: "ecdsa-sha2-nistp521",
    order:
      0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
};

function pemKey(kind: "RSA" | "DSA" | "EC", headers: string, der: Uint8Array): PrivateKeyVerdict {
  // A DEK-Info header "CIPHER,IV" marks an encrypted key; without a comma ssh2 ignores the header.
  for (const header of headers.split(/\r\n|\n/g)) {
    const sep = header.indexOf(":");
    if (header.slice(0, sep) === "DEK-Info" && header.slice(sep + 2).includes(",")) return refuse("encrypted", "PEM");
  }
  const r = new BerReader(der);
  try {
    switch (kind) {
      case "RSA": {
        // SEQUENCE { version, n, e, … }: ssh2 reads as far as e.
        r.readSequence();
        r.readInt();
        if (r.readInteger() === null || r.readInteger() === null) return refuse("malformed", "RSA fields");
        return { ok: true, format: "pem", type: "ssh-rsa" };
      }
      case "DSA": {
        r.readSequence();
        r.readInt();
        for (let i = 0; i < 4; ++i) if (r.readInteger() === null) return refuse("malformed", "DSA fields");
        return { ok: true, format: "pem", type: "ssh-dss" };
      }
      case "EC": {
        // SEQUENCE { version, OCTET STRING d, [0] { OID curve }, … }
        r.readSequence();
        r.readInt();
        const d = r.readString(0x04);
        r.readByte();
        const offset = r.readLength();
        if (offset === null) return refuse("malformed", "EC fields");
        r.offset = offset;
        const oid = r.readOid();
        if (oid === null) return refuse("malformed", "EC curve");
        const curve = CURVES[oid];
        if (!curve) return refuse("unsupported_type", `EC curve ${oid}`);
        // ssh2 derives the public point from d, which must lie in 1 … order-1.
        if (d === null) return refuse("malformed", "EC private key");
        const scalar = toBigInt(d);
        if (scalar === 0n || scalar >= curve.order) return refuse("malformed", "EC private key");
        return { ok: true, format: "pem", type: curve.type };
      }
    }
  } catch {
    return refuse("malformed", `${kind} structure`);
  }
}

/** The parts of ASN.1 BER reading ssh2 does (through the `asn1` package), with its quirks. */
class BerReader {
  offset = 0;
  length = 0;
  constructor(private readonly buf: Uint8Array) {}

  readByte(): number | null {
    return this.offset < this.buf.length ? this.buf[this.offset++]! : null;
  }

  readLength(at = this.offset): number | null {
    if (at >= this.buf.length) return null;
    let lenB = this.buf[at++]!;
    if ((lenB & 0x80) === 0x80) {
      lenB &= 0x7f;
      if (lenB === 0) throw new Error("indefinite length");
      if (lenB > 4) throw new Error("length too long");
      if (this.buf.length - at < lenB) return null;
      this.length = 0;
      for (let i = 0; i < lenB; i++) this.length = (this.length << 8) + this.buf[at++]!;
    } else this.length = lenB;
    return at;
  }

  readSequence(): void {
    if (this.offset >= this.buf.length) return;
    const next = this.readLength(this.offset + 1);
    if (next !== null) this.offset = next;
  }

  /** A small INTEGER (the version): at most 4 bytes. */
  readInt(): void {
    const tag = this.offset < this.buf.length ? this.buf[this.offset] : null;
    if (tag === null || tag === undefined) return;
    if (tag !== 0x02) throw new Error("expected INTEGER");
    const next = this.readLength(this.offset + 1);
    if (next === null) return;
    if (this.length > 4) throw new Error("integer too long");
    if (this.length > this.buf.length - next) return;
    this.offset = next + this.length;
  }

  readString(tag: number): Uint8Array | null {
    if (this.offset >= this.buf.length) return null;
    if (this.buf[this.offset] !== tag) throw new Error(`expected tag ${tag}`);
    const next = this.readLength(this.offset + 1);
    if (next === null || this.length > this.buf.length - next) return null;
    this.offset = next;
    const bytes = this.buf.slice(this.offset, this.offset + this.length);
    this.offset += this.length;
    return bytes;
  }

  readInteger(): Uint8Array | null {
    return this.readString(0x02);
  }

  readOid(): string | null {
    const b = this.readString(0x06);
    if (b === null) return null;
    const values: number[] = [];
    let value = 0;
    for (const byte of b) {
      value = (value << 7) + (byte & 0x7f);
      if ((byte & 0x80) === 0) {
        values.push(value);
        value = 0;
      }
    }
    const head = values.shift()!;
    return [(head / 40) >> 0, head % 40, ...values].join(".");
  }
}

// ---- PuTTY PPK v2 ----

function ppkKey(m: RegExpExecArray): PrivateKeyVerdict {
  const [, type, encryption, comment, pubText, privText, mac] = m as unknown as string[];
  if (encryption !== "none") return refuse("encrypted", "PuTTY");
  const pub = decodeBase64(pubText!);
  const priv = decodeBase64(privText!);
  // The MAC covers type, encryption, comment, public blob, private blob; keyed with SHA-1 of a fixed label.
  const enc = new TextEncoder();
  const macData = concat(
    ...[enc.encode(type), enc.encode(encryption), enc.encode(comment), pub, priv].flatMap((part) => [
      uint32(part.length),
      part,
    ]),
  );
  const key = sha1(enc.encode("putty-private-key-file-mac-key"));
  if (toHex(hmacSha1(key, macData)) !== mac) return refuse("malformed", "PuTTY integrity check failed");
  const p = new SshBuffer(pub);
  p.pos = 0;
  p.skip(1); // the key type again; ssh2 reads on from the start when it is missing
  const s = new SshBuffer(priv);
  if (type === "ssh-rsa") {
    if (!p.strings(2)) return refuse("malformed", "PuTTY public key");
    const d = s.string(0);
    const rest = d === undefined ? undefined : s.strings(3); // p, q, iqmp
    if (!d || !rest || !rsaNumbersUsable(d, rest[0]!, rest[1]!)) return refuse("malformed", "PuTTY private key");
  } else {
    if (!p.strings(4)) return refuse("malformed", "PuTTY public key");
    if (s.string(0) === undefined) return refuse("malformed", "PuTTY private key");
  }
  return { ok: true, format: "ppk", type: type! };
}

/** ssh2 derives d mod (p-1) and d mod (q-1): an empty number or a prime of 1 makes it throw. */
function rsaNumbersUsable(d: Uint8Array, p: Uint8Array, q: Uint8Array): boolean {
  return d.length > 0 && p.length > 0 && q.length > 0 && toBigInt(p) !== 1n && toBigInt(q) !== 1n;
}

// ---- bytes ----

/** SSH wire strings (uint32 length + bytes) read the way ssh2's readString does: `pos` moves on success only. */
class SshBuffer {
  pos: number | undefined;
  constructor(readonly bytes: Uint8Array) {}

  string(start = 0): Uint8Array | undefined {
    const left = this.bytes.length - start;
    if (start < 0 || start >= this.bytes.length || left < 4) return undefined;
    const len = readUInt32(this.bytes, start);
    if (left < 4 + len) return undefined;
    this.pos = start + 4 + len;
    return this.bytes.subarray(start + 4, start + 4 + len);
  }

  text(start = 0): string | undefined {
    const bytes = this.string(start);
    return bytes === undefined ? undefined : utf8(bytes);
  }

  /** `count` strings in a row from `pos`; undefined when any is missing. */
  strings(count: number): Uint8Array[] | undefined {
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; ++i) {
      const s = this.string(this.pos);
      if (s === undefined) return undefined;
      out.push(s);
    }
    return out;
  }

  skip(count: number): boolean {
    let pos = this.pos ?? 0;
    for (let i = 0; i < count; ++i) {
      const left = this.bytes.length - pos;
      if (pos >= this.bytes.length || left < 4) return false;
      const len = readUInt32(this.bytes, pos);
      if (left < 4 + len) return false;
      pos += 4 + len;
    }
    this.pos = pos;
    return true;
  }
}

const readUInt32 = (b: Uint8Array, at: number) =>
  b[at]! * 0x1000000 + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
const uint32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const toBigInt = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${toHex(b)}`));

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * Base64 the way Node's Buffer.from(…, "base64") reads it (ssh2 decodes with it): both alphabets, any other
 * character skipped, stop at the first "=". `atob` is stricter and would refuse keys ssh2 loads.
 */
function decodeBase64(text: string): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    if (ch === "=") break;
    const v = ch === "-" ? 62 : ch === "_" ? 63 : BASE64.indexOf(ch);
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

// SHA-1 and HMAC-SHA-1 (RFC 3174, RFC 2104), only to check a PuTTY key's MAC as ssh2 does; synchronous,
// so that the check stays one pure function in the browser too.
function sha1(message: Uint8Array): Uint8Array {
  const bitLength = message.length * 8;
  const padded = new Uint8Array((((message.length + 8) >> 6) + 1) * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Uint32Array(80);
  const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) w[t] = rotl(w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!, 1);
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let t = 0; t < 80; t++) {
      const f =
        t < 20
          ? ((b & c) | (~b & d)) + 0x5a827999
          : t < 40
            ? (b ^ c ^ d) + 0x6ed9eba1
            : t < 60
              ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
              : (b ^ c ^ d) + 0xca62c1d6;
      const temp = (rotl(a, 5) + f + e + w[t]!) >>> 0;
      e = d;
      d = c;
      c = rotl(b, 30) >>> 0;
      b = a;
      a = temp;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
  }
  const out = new Uint8Array(20);
  const outView = new DataView(out.buffer);
  for (const [i, x] of h.entries()) outView.setUint32(i * 4, x);
  return out;
}

function hmacSha1(key: Uint8Array, message: Uint8Array): Uint8Array {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha1(key) : key);
  const inner = block.map((x) => x ^ 0x36);
  const outer = block.map((x) => x ^ 0x5c);
  return sha1(concat(outer, sha1(concat(inner, message))));
}
