// Checkouts in D1: rows to the pure state machine and back, with optimistic concurrency
// (`version`) so two decisions on one checkout can never both apply.
import type { CheckoutSummary, Policy } from "../../protocol/index.ts";
import type { Checkout, CheckoutPolicy, Person } from "./checkout.ts";
import { nextTransitionAt } from "./checkout.ts";

/** A Person as stored in decisions: the machine keeps the whole object, so the name travels with it. */
export type NamedPerson = Person & { name: string };

export type CheckoutRow = {
  id: string;
  cart_id: string;
  user_id: string;
  person_id: string;
  server_id: string;
  credential_id: string;
  zone_id: string;
  policy: string;
  exclusive: number;
  status: Checkout["status"];
  justification: string;
  requested_at: number;
  starts_at: number;
  ends_at: number;
  approvals: string;
  denial: string | null;
  ended_at: number | null;
  ended_by: string | null;
  revoke_reason: string | null;
  next_transition_at: number | null;
  version: number;
  server_name: string;
  credential_name: string;
  account_username: string;
  zone_name: string;
  requester_name: string;
  approver_group: string | null;
};

/** A checkout row's columns with the names it is shown by; `SELECT ${CHECKOUT_COLUMNS}, <more> ${CHECKOUT_FROM}`. */
export const CHECKOUT_COLUMNS = `ch.*, s.name AS server_name, c.name AS credential_name, c.username AS account_username,
         z.name AS zone_name, u.username AS requester_name,
         (SELECT g.name FROM groups g WHERE g.id = json_extract(ch.policy, '$.approverGroupId')) AS approver_group`;

export const CHECKOUT_FROM = `
  FROM checkouts ch
  JOIN servers s ON s.id = ch.server_id
  JOIN credentials c ON c.id = ch.credential_id
  JOIN zones z ON z.id = ch.zone_id
  JOIN users u ON u.id = ch.user_id`;

export const SELECT_CHECKOUT = `SELECT ${CHECKOUT_COLUMNS} ${CHECKOUT_FROM}`;

export const OPEN_STATUSES = "('approved','active')";

/**
 * `exclusiveConflict` (checkout.ts) as a SQL guard: true when no other open checkout of the credential
 * overlaps [startsAt, endsAt) where either is exclusive. Put it in the WHERE of the INSERT or UPDATE that
 * opens or grows a checkout, so the check and the write are one statement and two racers cannot both win.
 */
export function noExclusiveOverlap(hold: {
  id: string;
  credentialId: string;
  startsAt: number;
  endsAt: number;
  exclusive: boolean;
}): { sql: string; binds: (string | number)[] } {
  return {
    sql: `NOT EXISTS (
      SELECT 1 FROM checkouts o WHERE o.credential_id = ? AND o.id != ? AND o.status IN ${OPEN_STATUSES}
        AND o.starts_at < ? AND o.ends_at > ? AND (o.exclusive = 1 OR ? = 1))`,
    binds: [hold.credentialId, hold.id, hold.endsAt, hold.startsAt, hold.exclusive ? 1 : 0],
  };
}

export function machinePolicy(p: Policy): CheckoutPolicy {
  return {
    approvalRequired: p.approvalRequired,
    quorum: p.quorum,
    pendingTtlMs: p.pendingTtlMinutes * 60_000,
    maxCheckoutMs: p.maxCheckoutMinutes * 60_000,
  };
}

export function rowPolicy(row: CheckoutRow): Policy {
  return JSON.parse(row.policy) as Policy;
}

export function rowToCheckout(row: CheckoutRow): Checkout {
  return {
    id: row.id,
    requester: { userId: row.user_id, personId: row.person_id, name: row.requester_name } as NamedPerson,
    status: row.status,
    requestedAt: row.requested_at,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    approvals: JSON.parse(row.approvals),
    ...(row.denial ? { denial: JSON.parse(row.denial) } : {}),
    ...(row.ended_at !== null ? { endedAt: row.ended_at } : {}),
    ...(row.ended_by ? { endedBy: JSON.parse(row.ended_by) } : {}),
    ...(row.revoke_reason !== null ? { revokeReason: row.revoke_reason } : {}),
  };
}

/** The UPDATE that stores a new machine state, applying only if nobody changed the row meanwhile. */
export function saveStatement(
  db: D1Database,
  row: CheckoutRow,
  next: Checkout,
  extraGuard = "",
  guardBinds: unknown[] = [],
) {
  const policy = machinePolicy(rowPolicy(row));
  return db
    .prepare(
      `UPDATE checkouts SET status = ?, approvals = ?, denial = ?, ended_at = ?, ended_by = ?, revoke_reason = ?,
         next_transition_at = ?, version = version + 1
       WHERE id = ? AND version = ? ${extraGuard}`,
    )
    .bind(
      next.status,
      JSON.stringify(next.approvals),
      next.denial ? JSON.stringify(next.denial) : null,
      next.endedAt ?? null,
      next.endedBy ? JSON.stringify(next.endedBy) : null,
      next.revokeReason ?? null,
      nextTransitionAt(next, policy),
      row.id,
      row.version,
      ...guardBinds,
    );
}

const nameOf = (p: Person) => (p as Partial<NamedPerson>).name ?? p.userId;

export function toSummary(row: CheckoutRow, c: Checkout = rowToCheckout(row)): CheckoutSummary {
  const policy = rowPolicy(row);
  return {
    id: row.id,
    cartId: row.cart_id,
    requester: { id: row.user_id, username: row.requester_name },
    serverId: row.server_id,
    serverName: row.server_name,
    credentialId: row.credential_id,
    credentialName: row.credential_name,
    accountUsername: row.account_username,
    zoneName: row.zone_name,
    status: c.status,
    justification: row.justification,
    requestedAt: c.requestedAt,
    startsAt: c.startsAt,
    endsAt: c.endsAt,
    approvalRequired: policy.approvalRequired,
    approverGroup: policy.approvalRequired ? row.approver_group : null,
    quorum: policy.quorum,
    approvals: c.approvals.map((d) => ({ by: nameOf(d.by), at: d.at, comment: d.comment })),
    denial: c.denial ? { by: nameOf(c.denial.by), at: c.denial.at, comment: c.denial.comment } : null,
    endedAt: c.endedAt ?? null,
    revokeReason: c.revokeReason ?? null,
  };
}
