// Checkouts in D1, and the one owner of `checkouts` (AGENTS.md, "One owner per table"): rows to the pure state
// machine and back, with optimistic concurrency (`version`) so two decisions on one checkout can never both apply.
// Every INSERT and UPDATE on the table is here; checkouts.ts runs the machine, audits and notifies.
import type { CheckoutSummary, Policy } from "../../protocol/index.ts";
import type { Checkout, CheckoutPolicy, Hold, Person } from "./checkout.ts";
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

/** A stored checkout's hold on its credential, as exclusiveConflict / noExclusiveOverlap read it. */
export function holdOf(
  row: Pick<CheckoutRow, "id" | "credential_id" | "status" | "starts_at" | "ends_at" | "exclusive">,
): Hold {
  return {
    id: row.id,
    credentialId: row.credential_id,
    status: row.status,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    exclusive: !!row.exclusive,
  };
}

/**
 * Moves an active checkout's end to at least `endsAt` (an extension), checked like a new checkout: the
 * grown window may not run into another open checkout of the credential where either is exclusive. The
 * guard and the write are one UPDATE. Returns whether the checkout now reaches `endsAt`.
 */
export async function extendWindow(db: D1Database, checkoutId: string, endsAt: number): Promise<boolean> {
  const row = await db
    .prepare("SELECT id, credential_id, status, starts_at, ends_at, exclusive FROM checkouts WHERE id = ?")
    .bind(checkoutId)
    .first<Pick<CheckoutRow, "id" | "credential_id" | "status" | "starts_at" | "ends_at" | "exclusive">>();
  if (row?.status !== "active") return false;
  if (row.ends_at >= endsAt) return true;
  // credential, start and exclusivity never change on a row, so reading them first is not a race.
  const guard = noExclusiveOverlap({ ...holdOf(row), endsAt });
  const { meta } = await db
    .prepare(
      `UPDATE checkouts SET ends_at = MAX(ends_at, ?1), next_transition_at = MAX(ends_at, ?1), version = version + 1
       WHERE id = ?2 AND status = 'active' AND ${guard.sql}`,
    )
    .bind(endsAt, checkoutId, ...guard.binds)
    .run();
  return meta.changes === 1;
}

/**
 * A checkout as the machine requested it. One that opens at once (approved or active) goes in only if no other open
 * checkout of the credential overlaps it where either is exclusive: check and write are one statement, so two racers
 * cannot both win. Returns whether the row went in.
 */
export async function insertCheckout(
  db: D1Database,
  c: Checkout,
  request: {
    cartId: string;
    serverId: string;
    credentialId: string;
    zoneId: string;
    /** Snapshotted into the row: later changes to the policy do not reach this checkout. */
    policy: Policy;
    exclusive: boolean;
    justification: string;
  },
): Promise<boolean> {
  const open = c.status === "approved" || c.status === "active";
  const guard = noExclusiveOverlap({
    id: c.id,
    credentialId: request.credentialId,
    startsAt: c.startsAt,
    endsAt: c.endsAt,
    exclusive: request.exclusive,
  });
  const { meta } = await db
    .prepare(
      `INSERT INTO checkouts (id, cart_id, user_id, person_id, server_id, credential_id, zone_id, policy, exclusive, status,
         justification, requested_at, starts_at, ends_at, next_transition_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ? = 0 OR ${guard.sql}`,
    )
    .bind(
      c.id,
      request.cartId,
      c.requester.userId,
      c.requester.personId,
      request.serverId,
      request.credentialId,
      request.zoneId,
      JSON.stringify(request.policy),
      request.exclusive ? 1 : 0,
      c.status,
      request.justification,
      c.requestedAt,
      c.startsAt,
      c.endsAt,
      nextTransitionAt(c, machinePolicy(request.policy)),
      open ? 1 : 0,
      ...guard.binds,
    )
    .run();
  return meta.changes > 0;
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
