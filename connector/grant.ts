// Verifies a session grant: signed by an edge key this connector trusts (the one its `kid` names:
// keys/edge-keys.ts), with the pinned alg and typ, for this site, this session, and not expired.
// Anything else is refused.
import { importJWK, type JWK, jwtVerify } from "jose";
import { EDGE_ISSUER, GRANT_ALG, GRANT_TYP, GrantClaims, grantAudience } from "../protocol/index.ts";
import { keyFor } from "../keys/edge-keys.ts";

export class GrantRejected extends Error {
  override name = "GrantRejected";
}

export async function verifyGrant(
  grant: string,
  /** `edgeKey`: the trusted edge keys (or the one pinned key). */
  expected: { edgeKey: JWK | readonly JWK[]; siteId: string; sessionId: string; now?: Date },
): Promise<GrantClaims> {
  let payload: unknown;
  try {
    const trusted = await keyFor(grant, Array.isArray(expected.edgeKey) ? expected.edgeKey : [expected.edgeKey]);
    if (!trusted) throw new GrantRejected("grant signed by an edge key this connector does not trust");
    const key = await importJWK(trusted, GRANT_ALG);
    ({ payload } = await jwtVerify(grant, key, {
      algorithms: [GRANT_ALG],
      typ: GRANT_TYP,
      issuer: EDGE_ISSUER,
      audience: grantAudience(expected.siteId),
      subject: expected.sessionId,
      requiredClaims: ["exp", "iat", "jti"],
      currentDate: expected.now,
    }));
  } catch (err) {
    if (err instanceof GrantRejected) throw err;
    throw new GrantRejected(`grant verification failed: ${(err as { code?: string }).code ?? (err as Error).name}`);
  }
  const claims = GrantClaims.safeParse(payload);
  if (!claims.success) throw new GrantRejected("grant claims malformed");
  const now = (expected.now ?? new Date()).getTime() / 1000;
  if (claims.data.dl <= now) throw new GrantRejected("grant deadline already passed");
  return claims.data;
}
