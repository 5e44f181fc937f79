// Which policy a caller may attach in a zone (D1 glue around policy-strength.ts): global admins any
// existing policy; zone admins only one a global admin allowed for the zone, and never one weaker than the
// zone's own. An id that names no policy is refused for everybody (a 400, not a foreign-key 500).
import type { Policy } from "../../protocol/index.ts";
import type { AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { DEFAULT_POLICY, type PolicyRow, policyFromRow } from "./policy.ts";
import { loadPolicy } from "./policy-store.ts";
import { weakerOn } from "./policy-strength.ts";

/** A policy id from a request body: it must name a policy. */
export async function requireKnownPolicy(db: D1Database, id: string): Promise<Policy> {
  const policy = await loadPolicy(db, id);
  if (!policy) throw new ApiFailure("unknown_policy", `policy ${id}`);
  return policy;
}

/** The zone's own policy (the built-in default when it names none); null when there is no such zone. */
export async function zoneFloor(
  db: D1Database,
  zoneId: string,
): Promise<{ policy: Policy; policyId: string | null } | null> {
  const zone = await db
    .prepare(
      "SELECT z.policy_id AS zone_policy, p.* FROM zones z LEFT JOIN policies p ON p.id = z.policy_id WHERE z.id = ?",
    )
    .bind(zoneId)
    .first<PolicyRow & { zone_policy: string | null }>();
  if (!zone) return null;
  return { policyId: zone.zone_policy, policy: zone.id ? policyFromRow(zone) : DEFAULT_POLICY };
}

/**
 * Refuses a policy the caller may not attach to a credential of `zoneId` (null: inherit the zone's,
 * always allowed). The caller's right to act in the zone at all is checked before this.
 */
export async function requireAttachablePolicy(
  db: D1Database,
  user: AuthUser,
  zoneId: string,
  policyId: string | null,
): Promise<void> {
  if (policyId === null) return;
  const policy = await requireKnownPolicy(db, policyId);
  if (user.roles.includes("admin")) return;
  const floor = await zoneFloor(db, zoneId);
  if (!floor) throw new ApiFailure("not_found", `zone ${zoneId}`);
  if (policyId === floor.policyId) return;
  const allowed = await db
    .prepare("SELECT 1 AS ok FROM zone_allowed_policies WHERE zone_id = ? AND policy_id = ?")
    .bind(zoneId, policyId)
    .first<{ ok: number }>();
  if (!allowed) throw new ApiFailure("policy_not_allowed", `policy ${policyId} not allowed in zone ${zoneId}`);
  const weaker = weakerOn(policy, floor.policy);
  if (weaker.length > 0)
    throw new ApiFailure(
      "policy_weaker_than_zone",
      `policy ${policyId} weaker than zone ${zoneId} on ${weaker.join(", ")}`,
    );
}
