// Sealed credentials: JWE (ECDH-ES+A256KW, A256GCM) to the site's P-256 key. The connector is the
// only place one is opened, in memory, for a session whose grant it verified.
import { CompactEncrypt, compactDecrypt, importJWK, type JWK } from "jose";
import { SEAL_ALG, SEAL_CTY, SEAL_ENC } from "../protocol/index.ts";

export async function sealSecret(sealPublicKey: JWK, secret: string): Promise<string> {
  const key = await importJWK(sealPublicKey, SEAL_ALG);
  return new CompactEncrypt(new TextEncoder().encode(secret))
    .setProtectedHeader({
      alg: SEAL_ALG,
      enc: SEAL_ENC,
      cty: SEAL_CTY,
      ...(sealPublicKey.kid ? { kid: sealPublicKey.kid } : {}),
    })
    .encrypt(key);
}

/** Opens a sealed secret. The caller holds the result only as long as the SSH handshake needs it. */
export async function openSealed(sealPrivateKey: JWK, sealed: string): Promise<Buffer> {
  const key = await importJWK(sealPrivateKey, SEAL_ALG);
  const { plaintext } = await compactDecrypt(sealed, key, {
    keyManagementAlgorithms: [SEAL_ALG],
    contentEncryptionAlgorithms: [SEAL_ENC],
  });
  return Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
}
