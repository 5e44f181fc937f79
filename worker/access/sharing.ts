// Shared sessions (issue 19, docs/governance.md "Shared sessions"): who may join which live session with input, as
// one SQL definition, and the `session_invitations` rows (migration 0033), read and written only here. Used by the
// invitation routes, the `join` socket, and revocation (a person who can no longer join has their input socket closed).
import type { InvitationBasis, InvitationState, SessionInvitation } from "../../protocol/index.ts";
import { entitledSql } from "./catalog.ts";

/**
 * The one definition of who may join a session with input: a live terminal session whose checkout's policy (as
 * snapshotted) turned sharing on; the invitee is an enabled account, not the session's person (a second account of
 * the user is the user, as for approvals), and is entitled to the session's credential on its server themselves
 * (`entitled`) or is in the policy's helper group (`helper`). Selects `basis` (null: may not join) for `inv`.
 */
const ELIGIBLE = `
  CASE WHEN inv.disabled != 0 OR COALESCE(inv.person_id, inv.id) = ch.person_id THEN NULL
       WHEN ${entitledSql("inv.id", "se.server_id", "se.credential_id")} THEN 'entitled'
       WHEN EXISTS (SELECT 1 FROM group_members hg
                    WHERE hg.group_id = json_extract(ch.policy, '$.helperGroupId') AND hg.user_id = inv.id) THEN 'helper'
  END`;

/** SQL: session `se` (checkout `ch`, server `sv`) is live, a terminal, and its policy turned sharing on. */
const SHARED = `se.status IN ('pending', 'active') AND sv.protocol = 'ssh'
  AND json_extract(ch.policy, '$.sessionSharing') = 1`;
const SESSION_JOINS = "JOIN checkouts ch ON ch.id = se.checkout_id JOIN servers sv ON sv.id = se.server_id";

/** The session's user (`owner`) and server, whether it is live, and whether its policy lets its user invite. */
export async function sharingOf(db: D1Database, sessionId: string) {
  const row = await db
    .prepare(
      `SELECT se.user_id, se.server_id, sv.name AS server, se.status IN ('pending', 'active') AS live,
         sv.protocol = 'ssh' AS terminal,
         COALESCE(json_extract(ch.policy, '$.sessionSharing'), 0) AS sharing
       FROM sessions se ${SESSION_JOINS} WHERE se.id = ?`,
    )
    .bind(sessionId)
    .first<{ user_id: string; server_id: string; server: string; live: number; terminal: number; sharing: number }>();
  if (!row) return null;
  return {
    owner: row.user_id,
    serverId: row.server_id,
    server: row.server,
    live: !!row.live,
    allowed: !!(row.live && row.terminal && row.sharing),
  };
}

/** Why the account named `username` may join the session (null: it may not, or there is no such account). */
export async function eligibility(
  db: D1Database,
  sessionId: string,
  username: string,
): Promise<{ id: string; username: string; basis: InvitationBasis } | null> {
  const row = await db
    .prepare(
      `SELECT inv.id, inv.username, ${ELIGIBLE} AS basis
       FROM sessions se ${SESSION_JOINS} JOIN users inv ON inv.username = ?2
       WHERE se.id = ?1 AND ${SHARED}`,
    )
    .bind(sessionId, username)
    .first<{ id: string; username: string; basis: InvitationBasis | null }>();
  return row?.basis ? { id: row.id, username: row.username, basis: row.basis } : null;
}

/** Invites (or invites again: the same row, renewed and un-revoked, to be accepted anew). */
export async function invite(
  db: D1Database,
  i: { sessionId: string; inviterId: string; inviteeId: string; basis: InvitationBasis; now: number; minutes: number },
): Promise<{ id: string; expiresAt: number }> {
  const expiresAt = i.now + i.minutes * 60_000;
  const row = await db
    .prepare(
      `INSERT INTO session_invitations (id, session_id, inviter_id, invitee_id, basis, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (session_id, invitee_id) DO UPDATE SET basis = excluded.basis, created_at = excluded.created_at,
         expires_at = excluded.expires_at, accepted_at = NULL, accepted_sign_in = NULL, revoked_at = NULL
       RETURNING id`,
    )
    .bind(crypto.randomUUID(), i.sessionId, i.inviterId, i.inviteeId, i.basis, i.now, expiresAt)
    .first<{ id: string }>();
  return { id: row!.id, expiresAt };
}

/** An invitation's state now (the session's own state is given: a session that ended ends its invitations). */
export function stateOf(
  r: { accepted_at: number | null; revoked_at: number | null; expires_at: number },
  live: boolean,
  now: number,
): InvitationState {
  if (r.revoked_at !== null) return "revoked";
  if (!live) return "ended";
  if (r.accepted_at !== null) return "joined";
  return r.expires_at > now ? "pending" : "expired";
}

type InvitationRow = {
  id: string;
  session_id: string;
  invitee_id: string;
  invitee: string;
  basis: InvitationBasis;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_sign_in: string | null;
  revoked_at: number | null;
  live: number;
};

const INVITATION_FROM = `
  FROM session_invitations i JOIN users u ON u.id = i.invitee_id JOIN sessions se ON se.id = i.session_id`;
const INVITATION_COLUMNS = `i.*, u.username AS invitee, se.status IN ('pending', 'active') AS live`;

/** A session's invitations, newest first (at most a page: a session invites at most a few people at a time). */
export async function invitationsOf(db: D1Database, sessionId: string, now: number): Promise<SessionInvitation[]> {
  const { results } = await db
    .prepare(
      `SELECT ${INVITATION_COLUMNS} ${INVITATION_FROM} WHERE i.session_id = ? ORDER BY i.created_at DESC LIMIT 50`,
    )
    .bind(sessionId)
    .all<InvitationRow>();
  return results.map((r) => ({
    id: r.id,
    invitee: r.invitee,
    basis: r.basis,
    state: stateOf(r, !!r.live, now),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    acceptedAt: r.accepted_at,
  }));
}

/** How many people are invited to the session now (pending or joined), other than `except`. */
export async function openInvitations(db: D1Database, sessionId: string, except: string, now: number) {
  const row = await db
    .prepare(
      `SELECT count(*) AS n FROM session_invitations WHERE session_id = ? AND invitee_id != ? AND revoked_at IS NULL
         AND (accepted_at IS NOT NULL OR expires_at > ?)`,
    )
    .bind(sessionId, except, now)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** One invitation of the session, by id. */
export async function invitation(db: D1Database, sessionId: string, id: string): Promise<InvitationRow | null> {
  return db
    .prepare(`SELECT ${INVITATION_COLUMNS} ${INVITATION_FROM} WHERE i.session_id = ? AND i.id = ?`)
    .bind(sessionId, id)
    .first<InvitationRow>();
}

/** Takes an invitation back; false when it was already. */
export async function revokeInvitation(db: D1Database, id: string, now: number): Promise<boolean> {
  const row = await db
    .prepare("UPDATE session_invitations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id")
    .bind(now, id)
    .first<{ id: string }>();
  return row !== null;
}

/**
 * Invitations to `userId` that they may act on now: not taken back, on a live shared session they may still join,
 * pending (before its expiry) or joined. `id`: only that invitation; `sessionId`: only that session's.
 */
export async function invitationsTo(
  db: D1Database,
  userId: string,
  now: number,
  only: { id?: string; sessionId?: string } = {},
) {
  const { results } = await db
    .prepare(
      `SELECT i.id, i.session_id, i.expires_at, i.accepted_at, i.accepted_sign_in, owner.username AS owner,
         sv.name AS server, se.deadline, se.checkout_id, ${ELIGIBLE} AS basis
       FROM session_invitations i JOIN users inv ON inv.id = i.invitee_id JOIN sessions se ON se.id = i.session_id
         ${SESSION_JOINS} JOIN users owner ON owner.id = se.user_id
       WHERE ${SHARED} AND i.invitee_id = ?1 AND i.revoked_at IS NULL AND (i.accepted_at IS NOT NULL OR i.expires_at > ?2)
         AND (?3 IS NULL OR i.id = ?3) AND (?4 IS NULL OR i.session_id = ?4)
       ORDER BY i.created_at DESC LIMIT 50`,
    )
    .bind(userId, now, only.id ?? null, only.sessionId ?? null)
    .all<{
      id: string;
      session_id: string;
      expires_at: number;
      accepted_at: number | null;
      accepted_sign_in: string | null;
      owner: string;
      server: string;
      deadline: number;
      checkout_id: string;
      basis: InvitationBasis | null;
    }>();
  // Still eligible: an invitee who lost the entitlement or left the helper group since may no longer join.
  return results.filter((r) => r.basis !== null);
}

/** The invitee accepted, under sign-in `signInId` (the one that passed their step-up); false when it is not open. */
export async function acceptInvitation(db: D1Database, id: string, signInId: string, now: number): Promise<boolean> {
  const row = await db
    .prepare(
      `UPDATE session_invitations SET accepted_at = COALESCE(accepted_at, ?1), accepted_sign_in = ?2
       WHERE id = ?3 AND revoked_at IS NULL AND (accepted_at IS NOT NULL OR expires_at > ?1) RETURNING id`,
    )
    .bind(now, signInId, id)
    .first<{ id: string }>();
  return row !== null;
}

/** The live sessions whose invitation `userId` accepted and that was not taken back (whether they may still join). */
export async function acceptedSessions(db: D1Database, userId: string): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT i.session_id FROM session_invitations i JOIN sessions se ON se.id = i.session_id
       WHERE i.invitee_id = ? AND i.accepted_at IS NOT NULL AND i.revoked_at IS NULL AND se.status IN ('pending', 'active')`,
    )
    .bind(userId)
    .all<{ session_id: string }>();
  return results.map((r) => r.session_id);
}

/** The live sessions `userId` has joined with input and may still join (for revocation: the others are dropped). */
export async function joinedSessions(db: D1Database, userId: string, now: number): Promise<Set<string>> {
  const joined = await invitationsTo(db, userId, now);
  return new Set(joined.filter((r) => r.accepted_at !== null).map((r) => r.session_id));
}
