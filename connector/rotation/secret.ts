// New secrets, generated on the connector and nowhere else.
import { randomInt } from "node:crypto";
import ssh2 from "ssh2";

const LOWER = "abcdefghijkmnopqrstuvwxyz";
const UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS = "23456789";
/** No quote, backslash, colon, space or shell metacharacter: the secret passes through chpasswd and prompts as is. */
const SYMBOLS = "-_.+=@%#";
const ALL = LOWER + UPPER + DIGITS + SYMBOLS;

/** 28 characters (about 170 bits) with at least one of each class, so complexity rules (AD's too) accept it. */
export function generatePassword(length = 28): string {
  const chars = [LOWER, UPPER, DIGITS, SYMBOLS].map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(ALL[randomInt(ALL.length)]!);
  // Fisher-Yates, so the guaranteed classes are not always in front.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join("");
}

/**
 * A new Ed25519 key pair in OpenSSH formats (`private`, and `public` as an authorized_keys line) that ssh2 itself
 * parses: its generator emits one it refuses about once in 250 (79 of 20,000 here), which would fail a rotation or
 * a host key. Such a pair is dropped and another made.
 */
export function ed25519KeyPair(comment?: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync("ed25519", comment ? { comment } : {});
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
  throw new Error("ssh2 made no Ed25519 key it can parse in 20 tries");
}

/** A new Ed25519 key pair: the private key in OpenSSH format, the public one as an authorized_keys line. */
export function generateSshKey(): { privateKey: string; publicLine: string; blob: string } {
  const pair = ed25519KeyPair(`psm-rotated-${new Date().toISOString().slice(0, 10)}`);
  return { privateKey: pair.private, publicLine: pair.public, blob: publicBlob(pair.private) };
}

/** The base64 public key blob of a private key: what identifies its line in authorized_keys. */
export function publicBlob(privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error("the vaulted private key does not parse");
  return key.getPublicSSH().toString("base64");
}
