// Authenticates a connector by its proof-of-key token (Authorization: Bearer), signed with the
// Ed25519 key it registered at enrollment.
import { decodeJwt, importJWK, type JWK, jwtVerify } from "jose";
import {
  CONNECTOR_TOKEN_ALG,
  CONNECTOR_TOKEN_AUD,
  CONNECTOR_TOKEN_TYP,
  ConnectorTokenClaims,
} from "../protocol/index.ts";
import { ApiFailure } from "./errors.ts";

export type AuthConnector = { id: string; siteId: string };

export async function authenticateConnector(db: D1Database, authorization: string | undefined): Promise<AuthConnector> {
  const token = authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
  if (!token) throw new ApiFailure("unauthorized", "connector token missing");
  let subject: string | undefined;
  try {
    subject = decodeJwt(token).sub;
  } catch {
    throw new ApiFailure("unauthorized", "connector token malformed");
  }
  if (!subject) throw new ApiFailure("unauthorized", "connector token has no subject");
  const row = await db
    .prepare("SELECT id, site_id, public_key FROM connectors WHERE id = ? AND revoked_at IS NULL")
    .bind(subject)
    .first<{ id: string; site_id: string; public_key: string }>();
  if (!row) throw new ApiFailure("unauthorized", "unknown or revoked connector");
  try {
    const key = await importJWK(JSON.parse(row.public_key) as JWK, CONNECTOR_TOKEN_ALG);
    const { payload } = await jwtVerify(token, key, {
      algorithms: [CONNECTOR_TOKEN_ALG],
      typ: CONNECTOR_TOKEN_TYP,
      audience: CONNECTOR_TOKEN_AUD,
      issuer: row.id,
      subject: row.id,
      maxTokenAge: "120s",
    });
    ConnectorTokenClaims.parse(payload);
  } catch (err) {
    throw new ApiFailure("unauthorized", `connector token rejected: ${(err as Error).name}`);
  }
  return { id: row.id, siteId: row.site_id };
}
