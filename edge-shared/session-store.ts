// The one owner of `sessions` (AGENTS.md, "One owner per table"): the Worker opens a session's row and moves its
// deadline, the session's room marks it active and ended. Here because both halves of the edge write it, and
// durable/ may not import worker/ at run time. Callers decide and audit; this file does the SQL.
import type { EndReason } from "../protocol/index.ts";

export type NewSession = {
  id: string;
  userId: string;
  serverId: string;
  credentialId: string;
  siteId: string;
  checkoutId: string;
  /** The sign-in that opened it. */
  authSessionId: string;
  createdAt: number;
  deadline: number;
  sourceIp: string | null;
};

/** A session as it starts: pending until the room pairs the browser with the connector. */
export async function insertSession(db: D1Database, s: NewSession): Promise<void> {
  await db
    .prepare(
      "INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, checkout_id, auth_session_id, status, created_at, deadline, source_ip) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
    )
    .bind(
      s.id,
      s.userId,
      s.serverId,
      s.credentialId,
      s.siteId,
      s.checkoutId,
      s.authSessionId,
      s.createdAt,
      s.deadline,
      s.sourceIp,
    )
    .run();
}

/** Pending to active; a session that already ended stays ended. */
/** The session went active; true the first time (the row was still pending). */
export async function markSessionActive(db: D1Database, sessionId: string): Promise<boolean> {
  const row = await db
    .prepare("UPDATE sessions SET status = 'active' WHERE id = ? AND status = 'pending' RETURNING id")
    .bind(sessionId)
    .first();
  return row !== null;
}

/** Whether the session is still pending (its connector has not reached the target yet). */
export async function sessionPending(db: D1Database, sessionId: string): Promise<boolean> {
  const row = await db.prepare("SELECT status FROM sessions WHERE id = ?").bind(sessionId).first<{ status: string }>();
  return row?.status === "pending";
}

export async function markSessionEnded(
  db: D1Database,
  sessionId: string,
  reason: EndReason,
  endedAt: number,
): Promise<void> {
  await db
    .prepare("UPDATE sessions SET status = 'ended', ended_at = ?, end_reason = ? WHERE id = ?")
    .bind(endedAt, reason, sessionId)
    .run();
}

/** An extension's new deadline; an ended session keeps the one it ended with. */
export async function moveSessionDeadline(db: D1Database, sessionId: string, deadline: number): Promise<void> {
  await db
    .prepare("UPDATE sessions SET deadline = ? WHERE id = ? AND status != 'ended'")
    .bind(deadline, sessionId)
    .run();
}
