// The one owner of `command_reviews` (migration 0031; command review, docs/governance.md): the session room opens
// and closes rows as its core decides, the Worker lists the open ones a reviewer may answer and checks that right.
// Who may review: an enabled member of the checkout's policy's approver group or moderator group (as snapshotted
// into the checkout), never the requester, counted by person (a second account of the requester is the requester).
import type { CommandReviewDecision, CommandReviewItem } from "../protocol/index.ts";

export async function openReview(
  db: D1Database,
  sessionId: string,
  review: { id: string; line: string; rule: number; message: string; requestedAt: number; expiresAt: number },
): Promise<void> {
  await db
    .prepare(
      "INSERT OR IGNORE INTO command_reviews (session_id, id, line, rule, message, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(sessionId, review.id, review.line, review.rule, review.message, review.requestedAt, review.expiresAt)
    .run();
}

/** Closes one review (`id`), or every open one of the session (`id` null: the session ended). */
export async function closeReview(
  db: D1Database,
  sessionId: string,
  id: string | null,
  decision: CommandReviewDecision,
  by: string | null,
  at: number,
): Promise<void> {
  await db
    .prepare(
      "UPDATE command_reviews SET decided_at = ?, decision = ?, decided_by = ? WHERE session_id = ? AND (? IS NULL OR id = ?) AND decided_at IS NULL",
    )
    .bind(at, decision, by, sessionId, id, id)
    .run();
}

/**
 * The open reviews `userId` may answer, oldest first; `only`: that one review, open or answered (`open` says which),
 * so that a reviewer who answers late hears it was answered rather than that it does not exist.
 */
export async function reviewable(
  db: D1Database,
  userId: string,
  now: number,
  only?: { sessionId: string; id: string },
): Promise<(CommandReviewItem & { open: boolean })[]> {
  const { results } = await db
    .prepare(
      `SELECT r.session_id, r.id, r.line, r.rule, r.message, r.requested_at, r.expires_at,
         owner.username AS user, sv.name AS server,
         r.decided_at IS NULL AND r.expires_at > ?2 AND se.status IN ('pending', 'active') AS open
       FROM command_reviews r JOIN sessions se ON se.id = r.session_id JOIN checkouts ch ON ch.id = se.checkout_id
         JOIN users owner ON owner.id = se.user_id JOIN servers sv ON sv.id = se.server_id
       WHERE (?3 IS NULL AND r.decided_at IS NULL AND r.expires_at > ?2 AND se.status IN ('pending', 'active')
           OR r.session_id = ?3 AND r.id = ?4)
         AND EXISTS (
           SELECT 1 FROM group_members gm JOIN users u ON u.id = gm.user_id
           WHERE gm.user_id = ?1 AND u.disabled = 0 AND COALESCE(u.person_id, u.id) != ch.person_id
             AND COALESCE(u.person_id, u.id) != (SELECT COALESCE(o.person_id, o.id) FROM users o WHERE o.id = se.user_id)
             AND gm.group_id IN (json_extract(ch.policy, '$.approverGroupId'), json_extract(ch.policy, '$.moderatorGroupId'))
         )
       ORDER BY r.requested_at LIMIT 200`,
    )
    .bind(userId, now, only?.sessionId ?? null, only?.id ?? null)
    .all<{
      session_id: string;
      id: string;
      line: string;
      rule: number;
      message: string;
      requested_at: number;
      expires_at: number;
      user: string;
      server: string;
      open: number;
    }>();
  return results.map((r) => ({
    sessionId: r.session_id,
    id: r.id,
    line: r.line,
    rule: r.rule,
    message: r.message,
    user: r.user,
    server: r.server,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    open: r.open === 1,
  }));
}

/**
 * Everyone who may answer the session's held commands (the same rule as `reviewable`), with the names a notice
 * uses: for telling them a line waits.
 */
export async function reviewersOf(
  db: D1Database,
  sessionId: string,
): Promise<{ userIds: string[]; user: string; server: string } | null> {
  const { results } = await db
    .prepare(
      `SELECT u.id, owner.username AS user, sv.name AS server
       FROM sessions se JOIN checkouts ch ON ch.id = se.checkout_id
         JOIN users owner ON owner.id = se.user_id JOIN servers sv ON sv.id = se.server_id
         JOIN group_members gm ON gm.group_id IN (json_extract(ch.policy, '$.approverGroupId'), json_extract(ch.policy, '$.moderatorGroupId'))
         JOIN users u ON u.id = gm.user_id
       WHERE se.id = ? AND u.disabled = 0 AND COALESCE(u.person_id, u.id) != ch.person_id
         AND COALESCE(u.person_id, u.id) != COALESCE(owner.person_id, owner.id)`,
    )
    .bind(sessionId)
    .all<{ id: string; user: string; server: string }>();
  if (results.length === 0) return null;
  return { userIds: [...new Set(results.map((r) => r.id))], user: results[0]!.user, server: results[0]!.server };
}
