// The edge's grant-signing key (Ed25519), from the EDGE_SIGNING_KEY secret, imported once per isolate.
import { type CryptoKey, importJWK, type JWK } from "jose";
import { GRANT_ALG } from "../protocol/index.ts";

let cached: { source: string; privateKey: CryptoKey; publicJwk: JWK } | undefined;

export async function edgeKey(secret: string): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  if (cached?.source === secret) return cached;
  const jwk = JSON.parse(secret) as JWK;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d)
    throw new Error("EDGE_SIGNING_KEY must be a private Ed25519 JWK");
  const privateKey = (await importJWK(jwk, GRANT_ALG)) as CryptoKey;
  const { d: _private, ...publicJwk } = jwk;
  cached = { source: secret, privateKey, publicJwk: { ...publicJwk, alg: GRANT_ALG, use: "sig" } };
  return cached;
}
