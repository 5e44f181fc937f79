// The one owner of `auth_sessions` (AGENTS.md, "One owner per table"): every INSERT, UPDATE and DELETE on sign-ins
// is a named function here. user-token.ts makes the cookie and reads the row; routes decide and audit. A function
// that returns a D1PreparedStatement is for the caller's batch.
import type { SignInRisk } from "../env.ts";

export type NewSignIn = {
  id: string;
  userId: string;
  stage: "mfa" | "full";
  amr: string[];
  createdAt: number;
  expiresAt: number;
  mfaAt: number | null;
  ip: string | null;
  country: string | null;
  asn: string | null;
  deviceHash: string | null;
  risk: SignInRisk;
};

/** A new sign-in row, for a batch (with the previous one's revocation). */
export function insertSignIn(db: D1Database, s: NewSignIn): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO auth_sessions (id, user_id, stage, amr, created_at, expires_at, mfa_at, ip, country, asn, device_hash, risk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(
      s.id,
      s.userId,
      s.stage,
      JSON.stringify(s.amr),
      s.createdAt,
      s.expiresAt,
      s.mfaAt,
      s.ip,
      s.country,
      s.asn,
      s.deviceHash,
      JSON.stringify(s.risk),
    );
}

/** Ends one sign-in at `now` (a revoked one keeps its first revocation time), for a batch. */
export function revokeSignInStatement(db: D1Database, sid: string, now: number): D1PreparedStatement {
  return db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now, sid);
}

export async function revokeSignIn(db: D1Database, sid: string): Promise<void> {
  await revokeSignInStatement(db, sid, Date.now()).run();
}

/** Revokes every live sign-in of a user (password or MFA change, disable), optionally keeping one. */
export async function revokeSignIns(db: D1Database, userId: string, exceptSid: string | null = null): Promise<void> {
  await db
    .prepare("UPDATE auth_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id != ?")
    .bind(Date.now(), userId, exceptSid ?? "")
    .run();
}

/** Counts one wrong second-factor answer against a sign-in; the count after, or null for no such sign-in. */
export async function countMfaFailure(db: D1Database, sid: string): Promise<number | null> {
  const row = await db
    .prepare("UPDATE auth_sessions SET mfa_failures = mfa_failures + 1 WHERE id = ? RETURNING mfa_failures")
    .bind(sid)
    .first<{ mfa_failures: number }>();
  return row?.mfa_failures ?? null;
}

/** The purge sweep's statement: sign-ins expired, or revoked, before `before`. */
export function purgeSignIns(db: D1Database, before: number): D1PreparedStatement {
  return db.prepare("DELETE FROM auth_sessions WHERE expires_at < ? OR revoked_at < ?").bind(before, before);
}
