// The one owner of `auth_challenges` (AGENTS.md, "One owner per table"): every INSERT, UPDATE and DELETE on the
// one-time challenges of WebAuthn ceremonies, push approvals and OIDC flows is a named function here. The routes
// (webauthn.ts, push.ts, oidc.ts) decide and audit. A function that returns D1PreparedStatements is for the
// caller's batch; one that answers a boolean says whether its conditional write took (one use, no race).

// ---- WebAuthn ceremonies ---------------------------------------------------------------------------------

export type CeremonyKind = "webauthn_reg" | "webauthn_auth";

/** A new ceremony of a sign-in, voiding its pending one of the same kind (one at a time), for one batch. */
export function startCeremony(
  db: D1Database,
  c: {
    id: string;
    kind: CeremonyKind;
    userId: string;
    sessionId: string;
    challenge: string;
    createdAt: number;
    expiresAt: number;
  },
): D1PreparedStatement[] {
  return [
    db
      .prepare("UPDATE auth_challenges SET status = 'used' WHERE session_id = ? AND kind = ? AND status = 'pending'")
      .bind(c.sessionId, c.kind),
    db
      .prepare(
        "INSERT INTO auth_challenges (id, kind, user_id, session_id, challenge, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .bind(c.id, c.kind, c.userId, c.sessionId, c.challenge, c.createdAt, c.expiresAt),
  ];
}

/** Takes the sign-in's pending, unexpired challenge, once: a second take finds none (null). */
export async function takeCeremony(
  db: D1Database,
  sessionId: string,
  kind: CeremonyKind,
  now: number,
): Promise<string | null> {
  const row = await db
    .prepare(
      "UPDATE auth_challenges SET status = 'used' WHERE session_id = ? AND kind = ? AND status = 'pending' AND expires_at > ? RETURNING challenge",
    )
    .bind(sessionId, kind, now)
    .first<{ challenge: string }>();
  return row?.challenge ?? null;
}

// ---- Push approvals --------------------------------------------------------------------------------------

/** A new push request of a sign-in, denying its pending one (one at a time), for one batch. */
export function startPush(
  db: D1Database,
  p: {
    id: string;
    userId: string;
    sessionId: string;
    /** The two-digit number the waiting device shows. */
    number: number;
    /** JSON: where the request comes from, as listed to the approving device. */
    data: string;
    createdAt: number;
    expiresAt: number;
  },
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        "UPDATE auth_challenges SET status = 'denied' WHERE session_id = ? AND kind = 'push' AND status = 'pending'",
      )
      .bind(p.sessionId),
    db
      .prepare(
        "INSERT INTO auth_challenges (id, kind, user_id, session_id, challenge, data, created_at, expires_at) VALUES (?, 'push', ?, ?, ?, ?, ?, ?)",
      )
      .bind(p.id, p.userId, p.sessionId, String(p.number), p.data, p.createdAt, p.expiresAt),
  ];
}

/** Push is locked for the user: every pending request of theirs is denied. */
export async function denyPendingPushes(db: D1Database, userId: string): Promise<void> {
  await db
    .prepare("UPDATE auth_challenges SET status = 'denied' WHERE user_id = ? AND kind = 'push' AND status = 'pending'")
    .bind(userId)
    .run();
}

/** The approving device's answer on a pending, unexpired request: false when it was no longer pending. */
export async function answerPush(db: D1Database, id: string, approved: boolean, now: number): Promise<boolean> {
  const res = await db
    .prepare("UPDATE auth_challenges SET status = ? WHERE id = ? AND status = 'pending' AND expires_at > ?")
    .bind(approved ? "approved" : "denied", id, now)
    .run();
  return res.meta.changes === 1;
}

/** The user refuses a request: false when it was no longer pending. */
export async function denyPush(db: D1Database, id: string): Promise<boolean> {
  const res = await db
    .prepare("UPDATE auth_challenges SET status = 'denied' WHERE id = ? AND status = 'pending'")
    .bind(id)
    .run();
  return res.meta.changes === 1;
}

/** The waiting device collects an approval, once: false when it was collected already. */
export async function collectPush(db: D1Database, id: string): Promise<boolean> {
  const res = await db
    .prepare("UPDATE auth_challenges SET status = 'used' WHERE id = ? AND status = 'approved'")
    .bind(id)
    .run();
  return res.meta.changes === 1;
}

// ---- OIDC flows ------------------------------------------------------------------------------------------

/** A sign-in flow's state and (JSON) PKCE verifier and nonce, until the IdP sends the browser back. */
export async function startOidcFlow(
  db: D1Database,
  f: { id: string; state: string; data: string; createdAt: number; expiresAt: number },
): Promise<void> {
  await db
    .prepare(
      "INSERT INTO auth_challenges (id, kind, challenge, data, created_at, expires_at) VALUES (?, 'oidc', ?, ?, ?, ?)",
    )
    .bind(f.id, f.state, f.data, f.createdAt, f.expiresAt)
    .run();
}

/** Spends a pending, unexpired flow, once: its state and data, or null (unknown, used or expired). */
export async function takeOidcFlow(
  db: D1Database,
  id: string,
  now: number,
): Promise<{ challenge: string; data: string } | null> {
  return db
    .prepare(
      "UPDATE auth_challenges SET status = 'used' WHERE id = ? AND kind = 'oidc' AND status = 'pending' AND expires_at > ? RETURNING challenge, data",
    )
    .bind(id, now)
    .first<{ challenge: string; data: string }>();
}

// ---- Purge -----------------------------------------------------------------------------------------------

/** The purge sweep's statement: challenges of every kind that expired before `before`. */
export function purgeChallenges(db: D1Database, before: number): D1PreparedStatement {
  return db.prepare("DELETE FROM auth_challenges WHERE expires_at < ?").bind(before);
}
