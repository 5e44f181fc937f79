// Checkout operations: cart submission, decisions, withdraw, check-in, revoke and the passage of
// time. Each runs the pure state machine, stores the result guarded by the row's version (and,
// for exclusive credentials, by the absence of an overlapping open checkout), then audits,
// notifies, and ends live sessions when a checkout closes.
import type {
  ApprovalItem,
  AuditAction,
  CartItem,
  CartResult,
  CheckoutSummary,
  EndReason,
} from "../../protocol/index.ts";
import type { z } from "zod";
import { actorOf, record } from "../audit.ts";
import type { AuthUser, Env } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import type { ZoneScope } from "./scope.ts";
import { entitlement, retiredEntitlement } from "./catalog.ts";
import { applyEvent, type Checkout, type CheckoutEvent, type CheckoutStatus, requestCheckout } from "./checkout.ts";
import {
  type CheckoutRow,
  holdOf,
  insertCheckout,
  machinePolicy,
  type NamedPerson,
  noExclusiveOverlap,
  OPEN_STATUSES,
  rowPolicy,
  rowToCheckout,
  SELECT_CHECKOUT,
  saveStatement,
  toSummary,
} from "./checkout-store.ts";
import { approvalContext } from "./approval-context.ts";
import { notifyCheckout } from "./notify-checkout.ts";
import { personIdOf } from "./user-store.ts";
import { effectivePolicies } from "./policy.ts";
import { credentialHandedOut, requestRotation } from "./rotations.ts";

export async function personOf(db: D1Database, user: AuthUser): Promise<NamedPerson> {
  return { userId: user.id, personId: await personIdOf(db, user.id), name: user.username };
}

export async function approversOf(db: D1Database, groupId: string | null): Promise<NamedPerson[]> {
  if (!groupId) return [];
  const { results } = await db
    .prepare(
      `SELECT u.id, u.username, COALESCE(u.person_id, u.id) AS person FROM group_members gm
       JOIN users u ON u.id = gm.user_id WHERE gm.group_id = ? AND u.disabled = 0`,
    )
    .bind(groupId)
    .all<{ id: string; username: string; person: string }>();
  return results.map((r) => ({ userId: r.id, personId: r.person, name: r.username }));
}

export async function loadRow(db: D1Database, id: string): Promise<CheckoutRow | null> {
  return db.prepare(`${SELECT_CHECKOUT} WHERE ch.id = ?`).bind(id).first<CheckoutRow>();
}

const ACTION_FOR: Partial<Record<CheckoutStatus, AuditAction>> = {
  approved: "checkout.approved",
  denied: "checkout.denied",
  withdrawn: "checkout.withdrawn",
  expired: "checkout.expired",
  checked_in: "checkout.checked_in",
  revoked: "checkout.revoked",
};

async function afterChange(
  env: Env,
  before: CheckoutRow,
  after: Checkout,
  actor: AuthUser | null,
  action?: AuditAction,
  endReason?: EndReason,
) {
  const auditAction = action ?? ACTION_FOR[after.status];
  if (auditAction) {
    await record(env, {
      actor: actorOf(actor),
      action: auditAction,
      target: { type: "checkout", id: before.id, name: `${before.credential_name} on ${before.server_name}` },
      refs: { userId: before.user_id, serverId: before.server_id, checkoutId: before.id },
      data: { from: before.status, to: after.status, approvals: after.approvals.length },
    });
  }
  if (before.status !== after.status) await notifyCheckout(env, after.status, before, after);
  const closing: Partial<Record<CheckoutStatus, EndReason>> = {
    expired: "checkout_ended",
    checked_in: "checkout_ended",
    revoked: "checkout_revoked",
  };
  const reason = closing[after.status];
  if (!reason) return;
  await endSessions(env, before.id, after.status === "revoked" ? (endReason ?? reason) : reason);
  // Rotation on check-in (expiry and revocation too): the connector changes the secret once the last
  // checkout of it is closed, so nobody who saw it in a session can reuse it.
  if (rowPolicy(before).resetOnCheckin)
    await requestRotation(env, before.credential_id, "rotate", "checkin", actorOf(actor));
}

export async function endSessions(env: Env, checkoutId: string, reason: EndReason): Promise<void> {
  const { results } = await env.DB.prepare("SELECT id FROM sessions WHERE checkout_id = ? AND status != 'ended'")
    .bind(checkoutId)
    .all<{ id: string }>();
  await Promise.all(results.map((s) => env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(s.id)).end(reason)));
}

/** Applies an event and stores it; throws the API failure the machine's refusal maps to. */
async function transition(
  env: Env,
  row: CheckoutRow,
  event: CheckoutEvent,
  actor: AuthUser | null,
  endReason?: EndReason,
): Promise<CheckoutSummary> {
  const result = applyEvent(rowToCheckout(row), event, machinePolicy(rowPolicy(row)));
  if (!result.ok) {
    const forbidden = ["self_approval", "not_an_approver", "not_requester"].includes(result.error);
    throw new ApiFailure(forbidden ? "forbidden" : "conflict", `checkout ${row.id}: ${result.error}`);
  }
  if (!result.changed) return toSummary(row, result.checkout);
  const next = result.checkout;
  const becomesOpen = (next.status === "approved" || next.status === "active") && row.status === "pending_approval";
  const guard = noExclusiveOverlap(holdOf(row));
  const stmt = becomesOpen
    ? saveStatement(env.DB, row, next, `AND ${guard.sql}`, guard.binds)
    : saveStatement(env.DB, row, next);
  const { meta } = await stmt.run();
  if (!meta.changes)
    throw new ApiFailure("conflict", `checkout ${row.id} changed concurrently or overlaps an exclusive checkout`);
  // Every approval is audited: one short of the quorum leaves the status pending, and one that reaches it
  // inside the window goes straight to active; neither status names the approval.
  await afterChange(env, row, next, actor, event.type === "approve" ? "checkout.approved" : undefined, endReason);
  return toSummary(row, next);
}

/** Lets time pass for one checkout: activation, expiry. Returns the current summary. */
export async function advance(env: Env, row: CheckoutRow, now: number): Promise<CheckoutSummary> {
  try {
    return await transition(env, row, { type: "tick", at: now }, null);
  } catch (err) {
    if (!(err instanceof ApiFailure)) throw err;
    // Someone else advanced it first: read it again.
    const fresh = await loadRow(env.DB, row.id);
    return fresh ? toSummary(fresh) : toSummary(row);
  }
}

export async function submitCart(
  env: Env,
  user: AuthUser,
  items: z.infer<typeof CartItem>[],
  now: number,
): Promise<CartResult> {
  const cartId = crypto.randomUUID();
  const requester = await personOf(env.DB, user);
  const policies = await effectivePolicies(
    env.DB,
    items.map((i) => i.credentialId),
  );
  const results: CartResult["results"] = [];
  for (const item of items) {
    const entitled = await entitlement(env.DB, user, item.serverId, item.credentialId);
    const policy = policies.get(item.credentialId);
    if (!entitled || !policy) {
      // A server whose discovered host no rerun has seen for the site's retire days cannot be checked out.
      const retired = !entitled && (await retiredEntitlement(env.DB, user, item.serverId, item.credentialId));
      results.push({ ok: false, error: retired ? "server_retired" : "not_found" });
      continue;
    }
    if (!(await credentialHandedOut(env.DB, item.credentialId))) {
      results.push({ ok: false, error: "credential_rotating" });
      continue;
    }
    const startsAt = item.startsAt ?? now;
    const endsAt = item.endsAt ?? startsAt + (item.minutes ?? policy.maxCheckoutMinutes) * 60_000;
    const approvers = await approversOf(env.DB, policy.approverGroupId);
    const id = crypto.randomUUID();
    const requested = requestCheckout({
      id,
      requester,
      startsAt,
      endsAt,
      at: now,
      policy: machinePolicy(policy),
      approvers,
    });
    if (!requested.ok) {
      results.push({ ok: false, error: requested.error });
      continue;
    }
    const c = requested.checkout;
    const open = c.status === "approved" || c.status === "active";
    const inserted = await insertCheckout(env.DB, c, {
      cartId,
      serverId: item.serverId,
      credentialId: item.credentialId,
      zoneId: entitled.zone_id,
      policy,
      // A credential that rotates on check-in is exclusive: one holder between two rotations.
      exclusive: policy.exclusive || policy.resetOnCheckin,
      justification: item.justification,
    });
    if (!inserted) {
      results.push({ ok: false, error: "conflict" });
      continue;
    }
    const row = (await loadRow(env.DB, id))!;
    await record(env, {
      actor: actorOf(user),
      action: "checkout.requested",
      target: { type: "checkout", id, name: `${row.credential_name} on ${row.server_name}` },
      refs: { userId: user.id, serverId: item.serverId, checkoutId: id },
      data: { startsAt, endsAt, justification: item.justification, status: c.status },
    });
    if (open)
      await record(env, {
        actor: null,
        action: "checkout.approved",
        target: { type: "checkout", id, name: `${row.credential_name} on ${row.server_name}` },
        refs: { userId: user.id, serverId: item.serverId, checkoutId: id },
        data: { auto: true },
      });
    await notifyCheckout(env, "requested", row, c);
    results.push({ ok: true, checkout: toSummary(row, c) });
  }
  return { cartId, results };
}

export async function listMine(env: Env, user: AuthUser, now: number): Promise<CheckoutSummary[]> {
  const { results } = await env.DB.prepare(
    `${SELECT_CHECKOUT} WHERE ch.user_id = ? ORDER BY ch.requested_at DESC LIMIT 200`,
  )
    .bind(user.id)
    .all<CheckoutRow>();
  return Promise.all(
    results.map((row) =>
      row.next_transition_at !== null && row.next_transition_at <= now ? advance(env, row, now) : toSummary(row),
    ),
  );
}

/** Everyone's checkouts in the admin's zones, newest first, by state and a partial name (Admin › Checkouts). */
export async function listForAdmin(
  env: Env,
  scope: ZoneScope,
  filter: { state: "open" | "pending" | "ended" | "all"; q: string; id?: string | undefined },
  now: number,
): Promise<CheckoutSummary[]> {
  const like = `%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  const statuses = { open: OPEN_STATUSES, pending: "('pending_approval')", ended: null, all: null }[filter.state];
  const { results } = await env.DB.prepare(
    `${SELECT_CHECKOUT}
     WHERE (?1 = 1 OR ch.zone_id IN (SELECT value FROM json_each(?2)))
       AND ${statuses ? `ch.status IN ${statuses}` : filter.state === "ended" ? `ch.status NOT IN ('pending_approval', 'approved', 'active')` : "1"}
       AND (?3 = '%%' OR u.username LIKE ?3 ESCAPE '\\' OR s.name LIKE ?3 ESCAPE '\\' OR c.username LIKE ?3 ESCAPE '\\')
       AND (?4 IS NULL OR ch.id = ?4)
     ORDER BY ch.requested_at DESC LIMIT 200`,
  )
    .bind(scope.all ? 1 : 0, JSON.stringify(scope.all ? [] : [...scope.zones]), like, filter.id ?? null)
    .all<CheckoutRow>();
  return Promise.all(
    results.map((row) =>
      row.next_transition_at !== null && row.next_transition_at <= now ? advance(env, row, now) : toSummary(row),
    ),
  );
}

/** Pending requests the user may decide: member of the approver group, not the requester's person. */
export async function inbox(env: Env, user: AuthUser, now: number): Promise<ApprovalItem[]> {
  const me = await personOf(env.DB, user);
  const { results } = await env.DB.prepare(
    `${SELECT_CHECKOUT}
     JOIN group_members gm ON gm.group_id = json_extract(ch.policy, '$.approverGroupId') AND gm.user_id = ?
     WHERE ch.status = 'pending_approval' AND ch.person_id != ? ORDER BY ch.requested_at`,
  )
    .bind(user.id, me.personId)
    .all<CheckoutRow>();
  const current = await Promise.all(
    results.map(async (row) => {
      const summary = await advance(env, row, now);
      return summary.status === "pending_approval"
        ? { ...summary, context: await approvalContext(env, row, now) }
        : null;
    }),
  );
  return current.filter((c) => c !== null);
}

export async function decide(
  env: Env,
  user: AuthUser,
  id: string,
  verdict: "approve" | "deny",
  comment: string,
  now: number,
) {
  const row = await loadRow(env.DB, id);
  if (!row) throw new ApiFailure("not_found");
  const by = await personOf(env.DB, user);
  const approvers = await approversOf(env.DB, rowPolicy(row).approverGroupId);
  // Who may decide is settled before anything about the request's state is revealed. The requester's person
  // is both the one stored with the request and the one now: a link made since (SSO sign-in) counts too.
  if (by.personId === row.person_id || by.personId === (await personIdOf(env.DB, row.user_id)))
    throw new ApiFailure("forbidden", `self-approval of ${row.id}`);
  if (!approvers.some((a) => a.userId === user.id)) throw new ApiFailure("forbidden", `not an approver of ${row.id}`);
  return transition(env, row, { type: verdict, by, approvers, at: now, comment }, user);
}

export async function requesterAction(
  env: Env,
  user: AuthUser,
  id: string,
  type: "withdraw" | "check_in",
  now: number,
) {
  const row = await loadRow(env.DB, id);
  if (!row || row.user_id !== user.id) throw new ApiFailure("not_found");
  return transition(env, row, { type, by: await personOf(env.DB, user), at: now }, user);
}

/** Who revokes when no person does: the access sweep (worker/access/revocation.ts). */
const SYSTEM: NamedPerson = { userId: "system", personId: "system", name: "system" };

/**
 * Revokes a checkout: by an admin (`user`), or, with `user` null, by the system because a right it
 * depended on was removed. Its sessions end with `endReason`.
 */
export async function revoke(
  env: Env,
  user: AuthUser | null,
  row: CheckoutRow,
  reason: string,
  now: number,
  endReason: EndReason = "checkout_revoked",
) {
  const by = user ? await personOf(env.DB, user) : SYSTEM;
  return transition(env, row, { type: "revoke", by, at: now, reason }, user, endReason);
}

/** The scheduler's sweep: every checkout whose next transition is due. */
export async function advanceDue(env: Env, now: number, limit = 200): Promise<number> {
  const { results } = await env.DB.prepare(
    `${SELECT_CHECKOUT} WHERE ch.next_transition_at <= ? ORDER BY ch.next_transition_at LIMIT ?`,
  )
    .bind(now, limit)
    .all<CheckoutRow>();
  for (const row of results) await advance(env, row, now);
  return results.length;
}
