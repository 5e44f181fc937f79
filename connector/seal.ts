// Sealed credentials: JWE (ECDH-ES+A256KW, A256GCM) to the site's P-256 key. The connector is the
// only place one is opened, in memory, for a session whose grant it verified.
import { compactDecrypt, decodeProtectedHeader, importJWK, type JWK } from "jose";
import ssh2 from "ssh2";
import { type CredentialKind, SEAL_ALG, SEAL_ENC } from "../protocol/index.ts";
import { sealKid } from "../keys/seal-kid.ts";
import { checkPrivateKey, privateKeyProblemText } from "../protocol/private-key.ts";

export { sealSecret } from "../keys/seal.ts";

/** A blob sealed to a key this connector no longer holds (a rotated site key). */
export class RetiredSealKey extends Error {
  override name = "RetiredSealKey";
}

/**
 * Opens a sealed secret. The caller holds the result only as long as the SSH handshake needs it. A blob
 * that names another key (`kid`, set since seal keys rotate) is refused as such before any decryption.
 */
export async function openSealed(sealPrivateKey: JWK, sealed: string): Promise<Buffer> {
  const { kid } = decodeProtectedHeader(sealed);
  if (kid !== undefined && kid !== (await sealKid(sealPrivateKey)))
    throw new RetiredSealKey(`sealed to key ${kid}, which this connector does not hold (rotated?)`);
  const key = await importJWK(sealPrivateKey, SEAL_ALG);
  const { plaintext } = await compactDecrypt(sealed, key, {
    keyManagementAlgorithms: [SEAL_ALG],
    contentEncryptionAlgorithms: [SEAL_ENC],
  });
  return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
}

/** Text that is some kind of key (private, public, PuTTY), not a password. */
const looksLikeKey = (secret: string) =>
  /-----BEGIN [A-Z0-9 ]*KEY-----|^\s*PuTTY-User-Key-File-|^\s*---- BEGIN SSH2 |^\s*(ssh|ecdsa|sk)-[\w@.-]+ AAAA/.test(
    secret,
  );

/**
 * Why `secret` must not be sealed as a credential of `kind` (the kind guessed from the text when not
 * given), or undefined when it may. A private key must pass the check the credential form makes and load
 * in ssh2 itself (this runs in Node, where ssh2 is at hand): a key that fails either would end every
 * session that uses it with `credential_invalid`.
 */
export function sealingProblem(secret: string, kind?: CredentialKind): string | undefined {
  if (secret.length === 0) return "the secret is empty";
  const asKey = kind === "private_key" || (kind === undefined && looksLikeKey(secret));
  if (!asKey) {
    if (looksLikeKey(secret)) return "this is a key, not a password: seal it with --kind private_key";
    return undefined;
  }
  const verdict = checkPrivateKey(secret);
  if (!verdict.ok) return privateKeyProblemText(verdict);
  let loads = false;
  try {
    const parsed = ssh2.utils.parseKey(secret);
    loads = !(parsed instanceof Error) && (Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey() === true;
  } catch {
    loads = false;
  }
  return loads ? undefined : "the SSH library the connector uses cannot load this key";
}
