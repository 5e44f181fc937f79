// checkPrivateKey against ssh2's own parser: for real keys made here by ssh-keygen and Node (none of them a
// secret: they live in a temp dir for this run), for the ways admins paste them wrong, and for random damage,
// the verdict is the one ssh2 1.17.0 reaches (the connector's Client.connect: parseKey, then a private part).
import { execFileSync } from "node:child_process";
import { createHash, createHmac, createPrivateKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { utils } from "ssh2";
import { afterAll, describe, expect, it } from "vitest";
import { checkPrivateKey, type PrivateKeyProblem, privateKeyProblemText } from "./private-key.ts";

/** What the connector's ssh2 Client.connect does with a privateKey: loads it, or throws. */
function ssh2Loads(text: string): { ok: boolean; type?: string } {
  try {
    const parsed = utils.parseKey(Buffer.from(text, "utf8")) as unknown;
    if (parsed instanceof Error || !parsed) return { ok: false };
    const key = (Array.isArray(parsed) ? parsed[0] : parsed) as { type: string; getPrivatePEM(): string | null };
    if (!key || key.getPrivatePEM() === null) return { ok: false };
    return { ok: true, type: key.type };
  } catch {
    return { ok: false };
  }
}

function expectAgreement(text: string, label: string): void {
  const ours = checkPrivateKey(text);
  const theirs = ssh2Loads(text);
  expect({ label, ok: ours.ok }).toEqual({ label, ok: theirs.ok });
  if (ours.ok) expect(ours.type).toBe(theirs.type);
}

const hasKeygen = existsSync("/usr/bin/ssh-keygen");
const dir = mkdtempSync(join(tmpdir(), "psm-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh key from ssh-keygen; returns the private and public file texts. */
function keygen(args: string[]): { priv: string; pub: string } {
  const file = join(dir, `k${++n}`);
  execFileSync("ssh-keygen", ["-q", "-N", "", "-C", "fixture", ...args, "-f", file]);
  return { priv: readFileSync(file, "utf8"), pub: readFileSync(`${file}.pub`, "utf8") };
}

/** A PuTTY v2 key file for an RSA key, with the MAC PuTTY computes (unencrypted: empty passphrase). */
function ppkV2(opts: { encryption?: string; badMac?: boolean } = {}): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const jwk = privateKey.export({ format: "jwk" });
  const mpint = (b64u: string) => {
    let b = Buffer.from(b64u, "base64url");
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return b;
  };
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const pub = Buffer.concat([field(Buffer.from("ssh-rsa")), field(mpint(jwk.e!)), field(mpint(jwk.n!))]);
  const priv = Buffer.concat([field(mpint(jwk.d!)), field(mpint(jwk.p!)), field(mpint(jwk.q!)), field(mpint(jwk.qi!))]);
  const encryption = opts.encryption ?? "none";
  const comment = "fixture";
  const macKey = createHash("sha1").update("putty-private-key-file-mac-key").digest();
  const mac = createHmac("sha1", macKey)
    .update(
      Buffer.concat([
        field(Buffer.from("ssh-rsa")),
        field(Buffer.from(encryption)),
        field(Buffer.from(comment)),
        field(pub),
        field(priv),
      ]),
    )
    .digest("hex");
  const lines = (b: Buffer) => b.toString("base64").match(/.{1,64}/g)!;
  return [
    "PuTTY-User-Key-File-2: ssh-rsa",
    `Encryption: ${encryption}`,
    `Comment: ${comment}`,
    `Public-Lines: ${lines(pub).length}`,
    ...lines(pub),
    `Private-Lines: ${lines(priv).length}`,
    ...lines(priv),
    `Private-MAC: ${opts.badMac ? mac.replace(/^./, (c) => (c === "0" ? "1" : "0")) : mac}`,
    "",
  ].join("\n");
}

/** Replaces the base64 body of a PEM-wrapped key with `f` applied to its decoded bytes. */
function reencode(key: string, f: (bytes: Buffer) => Buffer): string {
  const lines = key.trim().split("\n");
  const body = Buffer.from(lines.slice(1, -1).join(""), "base64");
  return [
    lines[0],
    ...f(body)
      .toString("base64")
      .match(/.{1,70}/g)!,
    lines.at(-1),
    "",
  ].join("\n");
}

describe.skipIf(!hasKeygen)("checkPrivateKey agrees with ssh2's parser", () => {
  const good = {
    ed25519: keygen(["-t", "ed25519"]),
    ecdsa256: keygen(["-t", "ecdsa", "-b", "256"]),
    ecdsa384: keygen(["-t", "ecdsa", "-b", "384"]),
    ecdsa521: keygen(["-t", "ecdsa", "-b", "521"]),
    rsa: keygen(["-t", "rsa", "-b", "1024"]),
    dsa: keygen(["-t", "dsa"]),
    rsaPem: keygen(["-t", "rsa", "-b", "1024", "-m", "PEM"]),
    ecdsaPem: keygen(["-t", "ecdsa", "-b", "384", "-m", "PEM"]),
    dsaPem: keygen(["-t", "dsa", "-m", "PEM"]),
  };
  const node = {
    pkcs1: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }),
    sec1: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }),
    pkcs8Ed25519: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }),
    pkcs8Rsa: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }),
    secp256k1: generateKeyPairSync("ec", { namedCurve: "secp256k1" }).privateKey.export({
      type: "sec1",
      format: "pem",
    }),
    encryptedPkcs8: createPrivateKey(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
    ).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "x" }),
  } as Record<string, string>;

  const cases: [string, string, PrivateKeyProblem | "ok"][] = [
    ...Object.entries(good).map(([name, k]) => [name, k.priv, "ok"] as [string, string, "ok"]),
    ["pkcs1 (node)", node.pkcs1!, "ok"],
    ["sec1 p256 (node)", node.sec1!, "ok"],
    ["ppk v2 rsa", ppkV2(), "ok"],
    ["ppk v2 with text after (ssh2 does not anchor the end)", `${ppkV2()}trailing words\n`, "ok"],
    ["crlf line endings", good.ed25519.priv.replace(/\n/g, "\r\n"), "ok"],
    ["surrounding blank lines", `\n\n  ${good.ed25519.priv}\n\n`, "ok"],
    ["trailing comment line", `${good.ed25519.priv}# laptop key\n`, "text_after"],
    ["trailing comment line (pem)", `${good.rsaPem.priv}comment\n`, "text_after"],
    ["text before", `id_ed25519:\n${good.ed25519.priv}`, "text_before"],
    // ssh2 reads the first: Node's base64 stops at its padding ("="), so what follows is never decoded.
    ["two keys, the first padded", good.ed25519.priv + good.ecdsa256.priv, "ok"],
    [
      "two keys, the first not padded",
      good.rsaPem.priv.replace(/=+\n-----END/, "\n-----END") + good.ed25519.priv,
      "text_after",
    ],
    ["public key", good.ed25519.pub, "public_key"],
    ["public rsa key", good.rsa.pub, "public_key"],
    ["encrypted openssh", keygen(["-t", "ed25519", "-N", "secret-pass"]).priv, "encrypted"],
    ["encrypted pem", keygen(["-t", "rsa", "-b", "1024", "-m", "PEM", "-N", "secret-pass"]).priv, "encrypted"],
    ["encrypted pkcs8", node.encryptedPkcs8!, "encrypted"],
    ["encrypted ppk", ppkV2({ encryption: "aes256-cbc" }), "encrypted"],
    ["ppk with a wrong MAC", ppkV2({ badMac: true }), "malformed"],
    ["ppk v3", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\n", "unsupported_format"],
    ["pkcs8 ed25519", node.pkcs8Ed25519!, "unsupported_format"],
    ["pkcs8 rsa", node.pkcs8Rsa!, "unsupported_format"],
    ["pkcs8 from ssh-keygen", keygen(["-t", "ecdsa", "-m", "PKCS8"]).priv, "unsupported_format"],
    ["secp256k1 (an unsupported curve)", node.secp256k1!, "unsupported_type"],
    [
      "an unknown openssh key type",
      reencode(good.ed25519.priv, (b) =>
        Buffer.from(b.toString("latin1").replaceAll("ssh-ed25519", "ssh-ed448xx"), "latin1"),
      ),
      "unsupported_type",
    ],
    ["garbage label", "-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----\n", "unsupported_format"],
    ["a password", "hunter2-correct-horse", "unsupported_format"],
    ["empty", "  \n", "empty"],
    ["no END line", good.ed25519.priv.trim().split("\n").slice(0, -1).join("\n"), "malformed"],
    [
      "a line missing",
      good.rsa.priv
        .split("\n")
        .filter((_, i) => i !== 3)
        .join("\n"),
      "malformed",
    ],
    [
      "pem with a line missing",
      good.rsaPem.priv
        .split("\n")
        .filter((_, i) => i !== 3)
        .join("\n"),
      "malformed",
    ],
    [
      "truncated pem",
      good.ecdsaPem.priv
        .split("\n")
        .filter((_, i) => i !== 1)
        .join("\n"),
      "malformed",
    ],
    ["mismatched pem labels", good.rsaPem.priv.replace("END RSA", "END EC"), "ok"],
    [
      "no key inside",
      reencode(good.ed25519.priv, (b) => Buffer.concat([b.subarray(0, 47), Buffer.alloc(4)])),
      "malformed",
    ],
  ];

  it.each(cases)("%s", (label, text, expected) => {
    expectAgreement(text, label);
    const verdict = checkPrivateKey(text);
    if (expected === "ok") expect(verdict.ok).toBe(true);
    else expect(verdict).toMatchObject({ ok: false, problem: expected });
  });

  it("agrees on randomly damaged keys (bytes flipped, cut or added inside the base64 body)", () => {
    const keys = [...Object.values(good).map((k) => k.priv), node.pkcs1!, node.sec1!];
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        fc.constantFrom("flip", "cut", "add"),
        (key, where, value, how) => {
          const text = reencode(key, (b) => {
            const at = where % b.length;
            if (how === "cut") return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
            if (how === "add") return Buffer.concat([b.subarray(0, at), Buffer.from([value]), b.subarray(at)]);
            const copy = Buffer.from(b);
            copy[at] = copy[at]! ^ value;
            return copy;
          });
          expectAgreement(text, `${how} at ${where % 1000}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("agrees on keys whose base64 text is damaged (characters Node skips, padding, url-safe letters)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(good.ed25519.priv, good.rsaPem.priv, ppkV2()),
        fc.nat(),
        fc.constantFrom("*", "=", "-", "_", " ", "A", "\t"),
        (key, where, ch) => {
          const at = where % key.length;
          expectAgreement(key.slice(0, at) + ch + key.slice(at), `${JSON.stringify(ch)} at ${at}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("what the admin is told", () => {
  it("names what is wrong in each refusal", () => {
    const text = (t: string) => {
      const v = checkPrivateKey(t);
      if (v.ok) throw new Error("accepted");
      return privateKeyProblemText(v);
    };
    expect(text("")).toMatch(/Paste the private key/);
    expect(text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA fixture")).toMatch(/public key/);
    expect(text("-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----")).toMatch(
      /Unsupported key format .*BEGIN FOO PRIVATE KEY/,
    );
    expect(text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")).toMatch(
      /encrypted/,
    );
    expect(text("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n# my laptop")).toMatch(
      /Text after the END line/,
    );
  });
});
