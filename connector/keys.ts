// Key material of a connector: generating it at enrollment and proving possession to the edge.
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { sealKid } from "../keys/seal-kid.ts";
import {
  CONNECTOR_TOKEN_ALG,
  CONNECTOR_TOKEN_AUD,
  CONNECTOR_TOKEN_TTL_SECONDS,
  CONNECTOR_TOKEN_TYP,
  SEAL_ALG,
} from "../protocol/index.ts";

export async function generateIdentityKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(CONNECTOR_TOKEN_ALG, { crv: "Ed25519", extractable: true });
  return exportJWK(privateKey);
}

export async function generateSealKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair(SEAL_ALG, { crv: "P-256", extractable: true });
  return { ...(await exportJWK(privateKey)), alg: SEAL_ALG, use: "enc" };
}

export function publicJwk(jwk: JWK): JWK {
  const { d: _private, ...rest } = jwk;
  return rest;
}

/** The public half of a seal key with its kid, so what is sealed to it names the key (the edge checks it). */
export async function publicWithKid(key: JWK): Promise<Record<string, unknown>> {
  return { ...publicJwk(key), kid: await sealKid(key) };
}

/**
 * A fresh, short-lived, single-use proof-of-key token for one request to one edge path (`endpoint`, from
 * `connectorEndpoint`), sent as `Authorization: Bearer`. Mint one per dial: the edge refuses a token twice.
 */
export async function connectorToken(connectorId: string, identityKey: JWK, endpoint: string): Promise<string> {
  const key = await importJWK(identityKey, CONNECTOR_TOKEN_ALG);
  return new SignJWT({ ep: endpoint })
    .setProtectedHeader({ alg: CONNECTOR_TOKEN_ALG, typ: CONNECTOR_TOKEN_TYP })
    .setIssuer(connectorId)
    .setSubject(connectorId)
    .setAudience(CONNECTOR_TOKEN_AUD)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(`${CONNECTOR_TOKEN_TTL_SECONDS}s`)
    .sign(key);
}
