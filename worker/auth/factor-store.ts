// The one owner of the second-factor tables `totp_factors`, `recovery_codes` and `webauthn_credentials` (AGENTS.md,
// "One owner per table"): every INSERT, UPDATE and DELETE on them is a named function here. The routes (mfa.ts,
// webauthn.ts, admin-auth.ts) check codes and keys, decide and audit. A function that returns D1PreparedStatements is
// for the caller's batch; one that answers a boolean says whether its conditional write took (one use, no race).

// ---- TOTP ------------------------------------------------------------------------------------------------

/** A new, unconfirmed secret (sealed at rest by the caller); an earlier unconfirmed one is replaced, its step reset. */
export async function saveTotpSecret(db: D1Database, userId: string, secretEnc: string, now: number): Promise<void> {
  await db
    .prepare(
      "INSERT INTO totp_factors (user_id, secret_enc, created_at) VALUES (?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET secret_enc = excluded.secret_enc, created_at = excluded.created_at, last_step = 0",
    )
    .bind(userId, secretEnc, now)
    .run();
}

/** Moves last_step forward to `step`, atomically: false when it is already there (the code was used). */
export async function advanceTotpStep(db: D1Database, userId: string, step: number): Promise<boolean> {
  const res = await db
    .prepare("UPDATE totp_factors SET last_step = ? WHERE user_id = ? AND last_step < ?")
    .bind(step, userId, step)
    .run();
  return res.meta.changes === 1;
}

/** Enrolment done, for a batch (with the first recovery codes). */
export function confirmTotp(db: D1Database, userId: string, now: number): D1PreparedStatement {
  return db.prepare("UPDATE totp_factors SET confirmed_at = ? WHERE user_id = ?").bind(now, userId);
}

export async function removeTotp(db: D1Database, userId: string): Promise<void> {
  await db.prepare("DELETE FROM totp_factors WHERE user_id = ?").bind(userId).run();
}

// ---- Recovery codes --------------------------------------------------------------------------------------

/** The user's recovery codes are exactly these (hashes; the old ones stop working), for one batch. */
export function replaceRecoveryCodes(db: D1Database, userId: string, hashes: string[]): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(userId),
    ...hashes.map((h) => db.prepare("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)").bind(userId, h)),
  ];
}

/** Spends one unused code (by hash): false when there is none such (wrong, or used already). */
export async function useRecoveryCode(db: D1Database, userId: string, hash: string, now: number): Promise<boolean> {
  const res = await db
    .prepare("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL")
    .bind(now, userId, hash)
    .run();
  return res.meta.changes === 1;
}

// ---- WebAuthn credentials --------------------------------------------------------------------------------

export type NewWebAuthnCredential = {
  id: string;
  userId: string;
  /** base64url */
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
};

/** Stores a verified registration. A key id already stored fails the statement (the caller's 409). */
export async function insertWebAuthnCredential(db: D1Database, k: NewWebAuthnCredential): Promise<void> {
  await db
    .prepare(
      "INSERT INTO webauthn_credentials (id, user_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(k.id, k.userId, k.publicKey, k.counter, JSON.stringify(k.transports), k.name, k.createdAt)
    .run();
}

/** Compare-and-set of the signature counter: false when it moved since `from` was read (a racing use). */
export async function advanceWebAuthnCounter(
  db: D1Database,
  id: string,
  from: number,
  to: number,
  now: number,
): Promise<boolean> {
  const res = await db
    .prepare("UPDATE webauthn_credentials SET counter = ?, last_used_at = ? WHERE id = ? AND counter = ?")
    .bind(to, now, id, from)
    .run();
  return res.meta.changes === 1;
}

/** Removes one of the user's keys: false when it is not (or no longer) theirs. */
export async function removeWebAuthnCredential(db: D1Database, userId: string, id: string): Promise<boolean> {
  const res = await db.prepare("DELETE FROM webauthn_credentials WHERE id = ? AND user_id = ?").bind(id, userId).run();
  return res.meta.changes === 1;
}

// ---- All of them -----------------------------------------------------------------------------------------

/** An admin's reset: no TOTP, no recovery codes, no keys, for one batch. */
export function removeAllFactors(db: D1Database, userId: string): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM totp_factors WHERE user_id = ?").bind(userId),
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(userId),
    db.prepare("DELETE FROM webauthn_credentials WHERE user_id = ?").bind(userId),
  ];
}
