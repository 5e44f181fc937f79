// Access ends when authority ends. Every change that can remove a person's right (their account, sign-ins,
// groups, zone grants, a server, a credential, a policy) calls `enforceAccess` with what changed; it
// re-checks every open checkout that depended on it (requalify.ts) and revokes those that no longer
// stand, which ends their sessions with `access_revoked`; it ends sessions opened by revoked sign-ins,
// spends the person's unused socket tickets, and closes live views the viewer may no longer watch.
// Session starts and socket upgrades ask again (`requireStanding`), and the minute sweep runs it over
// everything, so a change made past the API (a direct database edit) is caught within a minute.
import type { Policy } from "../../protocol/index.ts";
import { actorOf, record } from "../audit.ts";
import { dropUnusedTickets } from "../auth/socket-ticket.ts";
import type { AuthUser, Env } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { CHECKOUT_ENTITLED } from "./catalog.ts";
import { CHECKOUT_COLUMNS, CHECKOUT_FROM, type CheckoutRow, rowPolicy } from "./checkout-store.ts";
import { revoke } from "./checkouts.ts";
import { selectZonesAdministered } from "./group-store.ts";
import { moderatable } from "./moderation.ts";
import { acceptedSessions, joinedSessions } from "./sharing.ts";
import { effectivePolicies } from "./policy.ts";
import { type Held, mayWatch, requalify } from "./requalify.ts";

export type AccessChange =
  /** The account changed: disabled, roles, groups, zones administered, person. */
  | { kind: "user"; userId: string }
  /** The person's sign-ins were revoked (all but `except`, the one making the change, when given). */
  | { kind: "sign_ins"; userId: string; except?: string | null }
  | { kind: "zone"; zoneId: string }
  | { kind: "server"; serverId: string }
  | { kind: "credential"; credentialId: string }
  | { kind: "checkout"; checkoutId: string }
  /** A policy changed (it may be any zone's or credential's), or the sweep. */
  | { kind: "all" };

export type Enforced = { checkouts: string[]; sessions: string[]; viewers: number };

const OPEN = "ch.status IN ('pending_approval','approved','active')";

function checkoutScope(change: AccessChange): { sql: string; binds: string[] } {
  switch (change.kind) {
    case "user":
    case "sign_ins":
      return { sql: "ch.user_id = ?", binds: [change.userId] };
    case "zone":
      return { sql: "ch.zone_id = ?", binds: [change.zoneId] };
    case "server":
      return { sql: "ch.server_id = ?", binds: [change.serverId] };
    case "credential":
      return { sql: "ch.credential_id = ?", binds: [change.credentialId] };
    case "checkout":
      return { sql: "ch.id = ?", binds: [change.checkoutId] };
    case "all":
      return { sql: "1 = 1", binds: [] };
  }
}

type OpenRow = CheckoutRow & { entitled: number };

function heldOf(row: OpenRow): Held {
  return {
    status: row.status as Held["status"],
    granted: rowPolicy(row),
    approvals: (JSON.parse(row.approvals) as unknown[]).length,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
  };
}

/** Open checkouts in the change's scope that no longer stand, with why. Two queries whatever their number. */
async function fallen(env: Env, change: AccessChange): Promise<Array<{ row: OpenRow; why: string }>> {
  const { sql, binds } = checkoutScope(change);
  const { results } = await env.DB.prepare(
    `SELECT ${CHECKOUT_COLUMNS}, ${CHECKOUT_ENTITLED} AS entitled ${CHECKOUT_FROM} WHERE ${OPEN} AND ${sql}`,
  )
    .bind(...binds)
    .all<OpenRow>();
  const policies = await effectivePolicies(env.DB, [...new Set(results.map((r) => r.credential_id))]);
  const out: Array<{ row: OpenRow; why: string }> = [];
  for (const row of results) {
    const now: Policy | null = row.entitled ? (policies.get(row.credential_id) ?? null) : null;
    const standing = requalify(heldOf(row), now);
    if (!standing.ok) out.push({ row, why: standing.why });
  }
  return out;
}

/**
 * Ends what no longer stands after `change`. `cause` says what changed (for the checkout's revoke reason
 * and the ledger); `actor` is the admin who changed it, null for the system (a sweep, a reconnect).
 */
export async function enforceAccess(
  env: Env,
  change: AccessChange,
  cause: string,
  actor: AuthUser | null,
  now = Date.now(),
): Promise<Enforced> {
  const done: Enforced = { checkouts: [], sessions: [], viewers: 0 };
  if (change.kind !== "sign_ins") {
    for (const { row, why } of await fallen(env, change)) {
      try {
        await revoke(env, actor, row, `${cause}: ${why}`, now, "access_revoked");
        done.checkouts.push(row.id);
      } catch (err) {
        // Changed meanwhile (checked in, expired, revoked by someone else): it no longer holds anything.
        if (!(err instanceof ApiFailure)) throw err;
      }
    }
  }
  if (change.kind === "sign_ins" || change.kind === "all") await endSessionsOfRevokedSignIns(env, change, done);
  if (change.kind === "checkout" || change.kind === "all") await endSessionsOfClosedCheckouts(env, change, done);
  if (change.kind === "user" || change.kind === "sign_ins") {
    await dropUnusedTickets(env.DB, change.userId);
    done.viewers = await dropLostViews(env, change.userId, change.kind === "sign_ins");
  }
  if (done.checkouts.length + done.sessions.length + done.viewers > 0) {
    await record(env, {
      actor: actorOf(actor),
      action: "access.revoked",
      target: targetOf(change),
      refs: change.kind === "user" || change.kind === "sign_ins" ? { userId: change.userId } : {},
      data: { cause, checkouts: done.checkouts, sessions: done.sessions, viewers: done.viewers },
    });
  }
  return done;
}

function targetOf(change: AccessChange): { type: string; id: string } {
  switch (change.kind) {
    case "user":
    case "sign_ins":
      return { type: "user", id: change.userId };
    case "zone":
      return { type: "zone", id: change.zoneId };
    case "server":
      return { type: "server", id: change.serverId };
    case "credential":
      return { type: "credential", id: change.credentialId };
    case "checkout":
      return { type: "checkout", id: change.checkoutId };
    case "all":
      return { type: "policy", id: "*" };
  }
}

/** Live sessions opened under a sign-in that has since been revoked end: the person signed in is no longer trusted. */
async function endSessionsOfRevokedSignIns(
  env: Env,
  change: Extract<AccessChange, { kind: "sign_ins" | "all" }>,
  done: Enforced,
): Promise<void> {
  const byUser = change.kind === "sign_ins";
  const { results } = await env.DB.prepare(
    `SELECT se.id FROM sessions se JOIN auth_sessions a ON a.id = se.auth_session_id
     WHERE se.status != 'ended' AND a.revoked_at IS NOT NULL ${byUser ? "AND se.user_id = ? AND a.id IS NOT ?" : ""}`,
  )
    .bind(...(byUser ? [change.userId, change.except ?? null] : []))
    .all<{ id: string }>();
  for (const s of results) {
    const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(s.id));
    if (await room.end("access_revoked", { note: "the sign-in that opened it was revoked" })) done.sessions.push(s.id);
  }
}

/**
 * Live sessions whose checkout is no longer open end. A revocation or expiry ends its sessions itself;
 * this catches a session started in the moment between a start's check and such an ending, which found
 * no session to end yet.
 */
async function endSessionsOfClosedCheckouts(
  env: Env,
  change: Extract<AccessChange, { kind: "checkout" | "all" }>,
  done: Enforced,
): Promise<void> {
  const one = change.kind === "checkout";
  const { results } = await env.DB.prepare(
    `SELECT se.id, ch.status FROM sessions se JOIN checkouts ch ON ch.id = se.checkout_id
     WHERE se.status != 'ended' AND ch.status NOT IN ('approved', 'active') ${one ? "AND ch.id = ?" : ""}`,
  )
    .bind(...(one ? [change.checkoutId] : []))
    .all<{ id: string; status: string }>();
  for (const s of results) {
    const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(s.id));
    if (await room.end(s.status === "revoked" ? "checkout_revoked" : "checkout_ended")) done.sessions.push(s.id);
  }
}

/**
 * Closes the person's live views of sessions they may no longer watch, moderate nor join (all of them when `all`),
 * and their input sockets in shared sessions they may no longer join (their entitlement or helper group gone).
 */
async function dropLostViews(env: Env, userId: string, all: boolean): Promise<number> {
  const [who, zones, live] = await env.DB.batch<{ disabled?: number; roles?: string; zone_id?: string; id?: string }>([
    env.DB.prepare("SELECT disabled, roles FROM users WHERE id = ?").bind(userId),
    selectZonesAdministered(env.DB, userId),
    env.DB.prepare(
      "SELECT se.id, sv.zone_id FROM sessions se JOIN servers sv ON sv.id = se.server_id WHERE se.status != 'ended'",
    ),
  ]);
  const user = who?.results[0];
  const viewer = {
    disabled: !user || !!user.disabled,
    roles: user?.roles ? (JSON.parse(user.roles) as string[]) : [],
    zones: new Set((zones?.results ?? []).map((z) => z.zone_id!)),
  };
  // A session the person still moderates or has joined is kept: its socket is one they may still have.
  const now = Date.now();
  const [moderates, joins] = all
    ? [new Set<string>(), new Set<string>()]
    : [new Set((await moderatable(env.DB, userId)).map((s) => s.id)), await joinedSessions(env.DB, userId, now)];
  const lost = (live?.results ?? []).filter(
    (s) => all || (!mayWatch(viewer, s.zone_id!) && !moderates.has(s.id!) && !joins.has(s.id!)),
  );
  const lostIds = new Set(lost.map((s) => s.id!));
  // Joined once, and may still watch but no longer join: only the input socket closes.
  const lostInput = (await acceptedSessions(env.DB, userId)).filter((id) => !joins.has(id) && !lostIds.has(id));
  const room = (id: string) => env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(id));
  const dropped = await Promise.all([
    ...lost.map((s) => room(s.id!).dropViewer(userId)),
    ...lostInput.map((id) => room(id).dropViewer(userId, true)),
  ]);
  return dropped.reduce((a, b) => a + b, 0);
}

/**
 * At a session start or a socket upgrade: the checkout must still stand, not only be held. One that
 * no longer does is revoked here (its sessions end) and the request is refused.
 */
export async function requireStanding(env: Env, checkoutId: string, what: string): Promise<void> {
  const ended = await enforceAccess(env, { kind: "checkout", checkoutId }, what, null);
  if (ended.checkouts.length + ended.sessions.length > 0)
    throw new ApiFailure("forbidden", `checkout ${checkoutId} no longer stands (${what})`);
}
