// Verifies a session grant: signed by an edge key this connector trusts (the one its `kid` names:
// keys/edge-keys.ts), with the pinned alg and typ, for this site, this session, and not expired.
// Anything else is refused, and so is a grant already used to open a session here (`GrantsSeen`).
import { importJWK, type JWK, jwtVerify } from "jose";
import { EDGE_ISSUER, GRANT_ALG, GRANT_TYP, GrantClaims, grantAudience } from "../protocol/index.ts";
import { keyFor } from "../keys/edge-keys.ts";

export class GrantRejected extends Error {
  override name = "GrantRejected";
}

/** Grants remembered at most: 10,000 (one per `open` within a grant's 60 s life; past that the oldest is forgotten). */
const MAX_GRANTS_SEEN = 10_000;

/**
 * The grants (by `jti`) this connector has opened a session with, each until it expires. The edge signs a fresh
 * grant, for a fresh session id, for every start: an `open` that carries one already seen is a replay, or a
 * duplicate still being verified, and must not release the credential and reach the target a second time.
 * Memory: entries leave when their grant expires, and at most MAX_GRANTS_SEEN are kept.
 */
export class GrantsSeen {
  private readonly expiries = new Map<string, number>();

  /** True the first time a grant is claimed; false while a claim of the same grant stands. */
  claim(jti: string, exp: number, now: number): boolean {
    for (const [seen, until] of this.expiries) if (until <= now) this.expiries.delete(seen);
    if (this.expiries.has(jti)) return false;
    if (this.expiries.size >= MAX_GRANTS_SEEN) this.expiries.delete(this.expiries.keys().next().value!);
    this.expiries.set(jti, exp);
    return true;
  }
}

export async function verifyGrant(
  grant: string,
  /**
   * `edgeKey`: the trusted edge keys (or the one pinned key). `seen`: when given, a grant it has seen is refused
   * (a session `open`; an extension's grant only moves a live session's deadline).
   */
  expected: { edgeKey: JWK | readonly JWK[]; siteId: string; sessionId: string; now?: Date; seen?: GrantsSeen },
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
  if (expected.seen && !expected.seen.claim(claims.data.jti, claims.data.exp, now)) {
    throw new GrantRejected("grant already used");
  }
  return claims.data;
}
