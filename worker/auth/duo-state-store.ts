// The one owner of `duo_states` (AGENTS.md, "One owner per table"): the one-time state of a Duo Universal Prompt
// round trip, bound to the sign-in that started it, stored by hash. routes/duo.ts decides what a state allows.

export type DuoStateRow = {
  user_id: string;
  auth_session_id: string;
  nonce: string;
  return_to: string | null;
  expires_at: number;
};

/** A new state (by its hash) for the sign-in that asked; `purpose` says whether that is a sign-in or a step-up. */
export async function insertDuoState(
  db: D1Database,
  s: {
    stateHash: string;
    userId: string;
    authSessionId: string;
    purpose: "sign_in" | "step_up";
    nonce: string;
    returnTo: string | null;
    createdAt: number;
    expiresAt: number;
  },
): Promise<void> {
  await db
    .prepare(
      "INSERT INTO duo_states (state_hash, user_id, auth_session_id, purpose, nonce, return_to, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(s.stateHash, s.userId, s.authSessionId, s.purpose, s.nonce, s.returnTo, s.createdAt, s.expiresAt)
    .run();
}

/**
 * Spends a state, once, whatever else is wrong with it (a replayed callback finds it used): its row, or null for
 * an unknown or used one. Expiry and the sign-in it is bound to are the caller's to check.
 */
export async function spendDuoState(db: D1Database, stateHash: string, now: number): Promise<DuoStateRow | null> {
  return db
    .prepare(
      "UPDATE duo_states SET used_at = ? WHERE state_hash = ? AND used_at IS NULL RETURNING user_id, auth_session_id, nonce, return_to, expires_at",
    )
    .bind(now, stateHash)
    .first<DuoStateRow>();
}

/** The purge sweep's statement: states that expired before `before`. */
export function purgeDuoStates(db: D1Database, before: number): D1PreparedStatement {
  return db.prepare("DELETE FROM duo_states WHERE expires_at < ?").bind(before);
}
