// The one owner of `session_extensions` (AGENTS.md, "One owner per table"): a session's requests for more time and
// their decisions. The pure rules are in extension.ts; routes/extensions.ts decides, audits and moves the deadline.

export type StoredExtension = {
  session_id: string;
  user_id: string;
  person_id: string;
  minutes: number;
  reason: string;
  status: string;
};

export async function loadExtension(db: D1Database, id: string): Promise<StoredExtension | null> {
  return db
    .prepare("SELECT session_id, user_id, person_id, minutes, reason, status FROM session_extensions WHERE id = ?")
    .bind(id)
    .first<StoredExtension>();
}

/** How many extensions the session was granted, and whether one waits for a decision. */
export async function extensionHistory(
  db: D1Database,
  sessionId: string,
): Promise<{ granted: number; pending: boolean }> {
  const counts = await db
    .prepare(
      `SELECT SUM(status = 'granted') AS granted, SUM(status = 'pending') AS pending FROM session_extensions WHERE session_id = ?`,
    )
    .bind(sessionId)
    .first<{ granted: number | null; pending: number | null }>();
  return { granted: counts?.granted ?? 0, pending: (counts?.pending ?? 0) > 0 };
}

/**
 * A request as the rules answered it (granted at once, or pending). Guarded in the INSERT: of two requests racing,
 * at most one is stored while one is pending. Returns whether it was stored.
 */
export async function insertExtension(
  db: D1Database,
  r: {
    id: string;
    sessionId: string;
    userId: string;
    personId: string;
    minutes: number;
    reason: string;
    status: "granted" | "pending";
    requestedAt: number;
    deadline: number;
  },
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO session_extensions (id, session_id, user_id, person_id, minutes, reason, status, requested_at, deadline)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM session_extensions WHERE session_id = ? AND status = 'pending')`,
    )
    .bind(
      r.id,
      r.sessionId,
      r.userId,
      r.personId,
      r.minutes,
      r.reason,
      r.status,
      r.requestedAt,
      r.deadline,
      r.sessionId,
    )
    .run();
  return meta.changes === 1;
}

/** An approver's decision on a pending request; false when it was decided meanwhile. */
export async function decideStoredExtension(
  db: D1Database,
  id: string,
  d: { status: "granted" | "denied" | "lapsed"; by: string; at: number; comment: string; deadline: number },
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE session_extensions SET status = ?, decided_by = ?, decided_at = ?, comment = ?, deadline = ?
       WHERE id = ? AND status = 'pending'`,
    )
    .bind(d.status, d.by, d.at, d.comment, d.deadline, id)
    .run();
  return meta.changes === 1;
}

/** A granted extension the checkout could not grow for (another exclusive checkout): denied after all. */
export async function denyForOverlap(db: D1Database, id: string, deadline: number): Promise<void> {
  await db
    .prepare("UPDATE session_extensions SET status = 'denied', decided_at = ?, comment = ?, deadline = ? WHERE id = ?")
    .bind(Date.now(), "overlaps another exclusive checkout of the credential", deadline, id)
    .run();
}
