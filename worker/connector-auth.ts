// Authenticates a connector by its proof-of-key token (Authorization: Bearer), signed with the
// Ed25519 key it registered at enrollment, minted for the one edge path it is presented to, and used
// once (its jti is claimed in D1, atomically). `requireConnector` runs before any body is read.
import type { MiddlewareHandler } from "hono";
import { decodeJwt, importJWK, type JWK, jwtVerify } from "jose";
import {
  CONNECTOR_TOKEN_ALG,
  CONNECTOR_TOKEN_AUD,
  CONNECTOR_TOKEN_TYP,
  ConnectorTokenClaims,
} from "../protocol/index.ts";
import type { AppContext } from "./env.ts";
import { ApiFailure } from "./errors.ts";

export type AuthConnector = { id: string; siteId: string };

/** Longest life a connector token may claim (exp - iat), and the most its iat may lag: 120 s. */
const MAX_TOKEN_LIFE_S = 120;
/** A used jti is kept this long past the moment its token stops verifying, for clock skew: 60 s. */
const JTI_KEEP_MARGIN_MS = 60_000;

/**
 * `endpoint`: the path the request was made to. The token must name exactly it (`ep`), so a token minted
 * for one session's data socket opens no other session's, nor the control socket, nor the inventory.
 */
export async function authenticateConnector(
  db: D1Database,
  authorization: string | undefined,
  endpoint: string,
): Promise<AuthConnector> {
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
  let claims: ConnectorTokenClaims;
  try {
    const key = await importJWK(JSON.parse(row.public_key) as JWK, CONNECTOR_TOKEN_ALG);
    const { payload } = await jwtVerify(token, key, {
      algorithms: [CONNECTOR_TOKEN_ALG],
      typ: CONNECTOR_TOKEN_TYP,
      audience: CONNECTOR_TOKEN_AUD,
      issuer: row.id,
      subject: row.id,
      maxTokenAge: `${MAX_TOKEN_LIFE_S}s`,
    });
    claims = ConnectorTokenClaims.parse(payload);
  } catch (err) {
    throw new ApiFailure("unauthorized", `connector token rejected: ${(err as Error).name}`);
  }
  if (claims.exp - claims.iat > MAX_TOKEN_LIFE_S)
    throw new ApiFailure("unauthorized", "connector token lives too long");
  if (claims.ep !== endpoint) throw new ApiFailure("unauthorized", "connector token minted for another endpoint");
  if (!(await claimJti(db, row.id, claims))) throw new ApiFailure("unauthorized", "connector token already used");
  return { id: row.id, siteId: row.site_id };
}

/**
 * Records the token's jti as used; false when it already was. One INSERT on the primary key is atomic,
 * so of two requests racing with one token exactly one wins. The row is kept until the token could no
 * longer verify anyway (its exp, or iat + 120 s); this connector's expired rows are pruned in the same batch.
 */
async function claimJti(db: D1Database, connectorId: string, claims: ConnectorTokenClaims): Promise<boolean> {
  const now = Date.now();
  const expiresAt = Math.min(claims.exp, claims.iat + MAX_TOKEN_LIFE_S) * 1000 + JTI_KEEP_MARGIN_MS;
  const [, inserted] = await db.batch<{ jti: string }>([
    db.prepare("DELETE FROM connector_token_uses WHERE connector_id = ? AND expires_at < ?").bind(connectorId, now),
    db
      .prepare(
        "INSERT INTO connector_token_uses (connector_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING jti",
      )
      .bind(connectorId, claims.jti, expiresAt),
  ]);
  return (inserted?.results.length ?? 0) === 1;
}

/**
 * Route middleware for a connector route with a body: the connector behind the request's token (minted
 * for `endpoint`) as `c.get("connector")`, or 401 before the body is read.
 */
export function requireConnector(endpoint: string): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    c.set("connector", await authenticateConnector(c.env.DB, c.req.header("Authorization"), endpoint));
    await next();
  };
}

/** As `requireConnector`, for a path with an `:id`: the token must have been minted for that id's own path. */
export function requireConnectorFor(endpointOf: (id: string) => string): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    const endpoint = endpointOf(c.req.param("id") ?? "");
    c.set("connector", await authenticateConnector(c.env.DB, c.req.header("Authorization"), endpoint));
    await next();
  };
}
