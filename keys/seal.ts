// Seals a secret to a site: a compact JWE to the site's P-256 seal key. The admin's browser seals credentials
// and the user's browser the master password with it; the connector seals rotated secrets; the edge seals the
// master password's verifier into a grant. Only a connector holding the private key can open any of them.
import { CompactEncrypt, importJWK, type JWK } from "jose";
import { SEAL_ALG, SEAL_CTY, SEAL_ENC, SealedSecret } from "../protocol/tokens.ts";

export class SealError extends Error {
  override name = "SealError";
}

/** Returns the compact JWE of `secret`. Refuses anything but a public EC P-256 key. */
export async function sealSecret(sealKeyJwk: Record<string, unknown>, secret: string): Promise<string> {
  if (secret.length === 0) throw new SealError("the secret is empty");
  if (sealKeyJwk.kty !== "EC" || sealKeyJwk.crv !== "P-256")
    throw new SealError("the site's seal key is not a P-256 key");
  if ("d" in sealKeyJwk) throw new SealError("the site's seal key holds private material");
  // Import only the public members, so a stray `alg`/`use`/`key_ops` cannot fight the pinned algorithm.
  const publicJwk: JWK = { kty: "EC", crv: "P-256", x: String(sealKeyJwk.x), y: String(sealKeyJwk.y) };
  const key = await importJWK(publicJwk, SEAL_ALG);
  const kid = typeof sealKeyJwk.kid === "string" && sealKeyJwk.kid.length > 0 ? sealKeyJwk.kid : undefined;
  const jwe = await new CompactEncrypt(new TextEncoder().encode(secret))
    .setProtectedHeader({ alg: SEAL_ALG, enc: SEAL_ENC, cty: SEAL_CTY, ...(kid ? { kid } : {}) })
    .encrypt(key);
  // The edge checks the same shape; failing here gives the admin a clear message instead of a 400.
  if (!SealedSecret.safeParse(jwe).success) throw new SealError("the sealed secret is too large");
  return jwe;
}
