// Who may moderate which live session (moderated sessions, docs/governance.md): one SQL definition, used by the
// moderation list, the moderator socket, and revocation (a moderator who loses the right has the socket closed).

/**
 * The one definition of who may moderate what: live sessions whose checkout's policy (as snapshotted) requires
 * moderators, where the caller is an enabled member of its moderator group and not the requester, counted by
 * person (a second account of the requester is the requester). `sessionId`: only that session.
 */
export async function moderatable(db: D1Database, userId: string, sessionId?: string) {
  const { results } = await db
    .prepare(
      `SELECT se.id, owner.username AS user, sv.name AS server, se.created_at, se.deadline,
         COALESCE(u.person_id, u.id) AS person,
         json_extract(ch.policy, '$.moderatorsRequired') AS required
       FROM sessions se JOIN checkouts ch ON ch.id = se.checkout_id
         JOIN users owner ON owner.id = se.user_id JOIN servers sv ON sv.id = se.server_id
         JOIN group_members gm ON gm.group_id = json_extract(ch.policy, '$.moderatorGroupId') AND gm.user_id = ?1
         JOIN users u ON u.id = gm.user_id
       WHERE se.status IN ('pending', 'active') AND u.disabled = 0
         AND json_extract(ch.policy, '$.moderatorsRequired') > 0
         AND COALESCE(u.person_id, u.id) != ch.person_id
         AND (?2 IS NULL OR se.id = ?2)
       ORDER BY se.created_at DESC LIMIT 200`,
    )
    .bind(userId, sessionId ?? null)
    .all<{
      id: string;
      user: string;
      server: string;
      created_at: number;
      deadline: number;
      required: number;
      /** The caller's person (their linked accounts share it). */
      person: string;
    }>();
  return results;
}
