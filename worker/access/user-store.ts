// The `users` table's one owner (AGENTS.md, "One owner per table"): every INSERT and UPDATE of an account is a named
// function here, with the roles a new account starts with. Callers decide, audit and call enforceAccess; this file
// does the SQL. A function that returns a D1PreparedStatement is for the caller's batch or `insertOrConflict`.
import type { KeyboardLayout, Role } from "../../protocol/index.ts";
import { storedKeyboardLayout } from "../keyboard-layouts.ts";
import type { UserState } from "../scim/patch.ts";
import type { PersonSource } from "./person-link.ts";

/** The first admin (bootstrap) holds every global role. */
export const FIRST_ADMIN_ROLES: Role[] = ["admin", "requester", "auditor", "approver"];
/** A user SCIM provisions may request access; anything more is our admins' to give. */
export const PROVISIONED_ROLES: Role[] = ["requester"];
/** The password hash of an account that signs in only through SSO: verifyPassword never accepts it. */
export const NO_PASSWORD = "!";

// ---- Creating accounts -----------------------------------------------------------------------------------

/** A local account with a password (Admin › Users). A taken username fails the statement (the caller's 409). */
export function insertLocalUser(
  db: D1Database,
  user: { id: string; username: string; passwordHash: string; roles: Role[] },
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO users (id, username, password_hash, roles, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(user.id, user.username, user.passwordHash, JSON.stringify(user.roles), Date.now());
}

/** The first admin, only while the table is empty, in one statement (two racing bootstraps cannot both win). */
export async function insertFirstAdmin(
  db: D1Database,
  user: { id: string; username: string; passwordHash: string },
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `INSERT INTO users (id, username, password_hash, roles, created_at)
       SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users)`,
    )
    .bind(user.id, user.username, user.passwordHash, JSON.stringify(FIRST_ADMIN_ROLES), Date.now())
    .run();
  return meta.changes > 0;
}

/** An account made at its first single sign-on: no password, bound to the IdP's subject. */
export async function insertSsoUser(
  db: D1Database,
  user: { id: string; username: string; roles: Role[]; email: string | null; subject: string },
): Promise<void> {
  await db
    .prepare(
      "INSERT INTO users (id, username, password_hash, roles, email, oidc_subject, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id, user.username, NO_PASSWORD, JSON.stringify(user.roles), user.email, user.subject, Date.now())
    .run();
}

// ---- SCIM ------------------------------------------------------------------------------------------------

const profileValues = (s: UserState, now: number) => [
  s.userName,
  s.externalId,
  s.displayName,
  s.givenName,
  s.familyName,
  s.email,
  s.active ? 0 : 1,
  now,
];

/** A user SCIM provisions: no password (they sign in through SSO), PROVISIONED_ROLES. */
export async function insertProvisionedUser(db: D1Database, id: string, s: UserState, now: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO users (username, external_id, display_name, given_name, family_name, email, disabled, modified_at,
       id, password_hash, roles, created_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scim')`,
    )
    .bind(...profileValues(s, now), id, NO_PASSWORD, JSON.stringify(PROVISIONED_ROLES), now)
    .run();
}

/** SCIM takes an existing account (one it deleted, or one SSO made) as a provisioned one again. */
export async function reprovisionUser(db: D1Database, id: string, s: UserState, now: number): Promise<void> {
  await db
    .prepare(
      `UPDATE users SET username = ?, external_id = ?, display_name = ?, given_name = ?, family_name = ?, email = ?,
       disabled = ?, modified_at = ?, source = 'scim', deleted_at = NULL WHERE id = ?`,
    )
    .bind(...profileValues(s, now), id)
    .run();
}

/** SCIM's replace of a provisioned user's profile and status. */
export async function saveProvisionedUser(db: D1Database, id: string, s: UserState, now: number): Promise<void> {
  await db
    .prepare(
      `UPDATE users SET username = ?, external_id = ?, display_name = ?, given_name = ?, family_name = ?, email = ?,
       disabled = ?, modified_at = ? WHERE id = ?`,
    )
    .bind(...profileValues(s, now), id)
    .run();
}

/** SCIM's delete: the account stays, disabled, for the record; its externalId is free again. For a batch. */
export function markProvisionedDeleted(db: D1Database, id: string, now: number): D1PreparedStatement {
  return db
    .prepare("UPDATE users SET disabled = 1, deleted_at = ?, modified_at = ?, external_id = NULL WHERE id = ?")
    .bind(now, now, id);
}

// ---- Roles, status and person ----------------------------------------------------------------------------

/** The fields of an admin's change (`UpdateUserRequest`) that live in `users`. */
export type UserChange = { roles?: Role[]; email?: string | null; personId?: string | null; disabled?: boolean };

/**
 * An admin's change (Admin › Users), for a batch: a field left out stays as it is. A person set here is the admin's
 * (`person_source` 'admin'), which SSO linking never moves.
 */
export function updateUser(db: D1Database, id: string, change: UserChange): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE users SET roles = COALESCE(?, roles), email = CASE WHEN ? THEN ? ELSE email END,
       person_id = CASE WHEN ? THEN ? ELSE person_id END, person_source = CASE WHEN ? THEN 'admin' ELSE person_source END,
       disabled = COALESCE(?, disabled) WHERE id = ?`,
    )
    .bind(
      change.roles ? JSON.stringify(change.roles) : null,
      change.email !== undefined ? 1 : 0,
      change.email ?? null,
      change.personId !== undefined ? 1 : 0,
      change.personId ?? null,
      change.personId !== undefined ? 1 : 0,
      change.disabled === undefined ? null : change.disabled ? 1 : 0,
      id,
    );
}

/** Replaces an account's roles (what the IdP's groups map to), for a batch. */
export function setRoles(db: D1Database, userId: string, roles: Role[]): D1PreparedStatement {
  return db.prepare("UPDATE users SET roles = ? WHERE id = ?").bind(JSON.stringify(roles), userId);
}

/**
 * The admin guard: true while at most one enabled account holds the admin role, so disabling or demoting an admin
 * would leave none (Admin › Users and SCIM refuse it, each with its own error).
 */
export async function isLastEnabledAdmin(db: D1Database): Promise<boolean> {
  const admins = await db
    .prepare(`SELECT count(*) AS n FROM users WHERE disabled = 0 AND roles LIKE '%"admin"%'`)
    .first<{ n: number }>();
  return (admins?.n ?? 0) <= 1;
}

/**
 * Disables an enabled account that is not an admin's (an admin is changed in Admin › Users, where the last admin is
 * protected), in one statement. Its username when it was locked, null when nothing changed.
 */
export async function lockUnlessAdmin(db: D1Database, userId: string): Promise<string | null> {
  const locked = await db
    .prepare(
      `UPDATE users SET disabled = 1 WHERE id = ? AND disabled = 0 AND roles NOT LIKE '%"admin"%' RETURNING username`,
    )
    .bind(userId)
    .first<{ username: string }>();
  return locked?.username ?? null;
}

/** Links an account to a person only while it is unlinked (an admin's choice or an earlier link stands). */
export async function linkPersonIfUnlinked(
  db: D1Database,
  userId: string,
  personId: string,
  by: PersonSource,
): Promise<boolean> {
  const { meta } = await db
    .prepare("UPDATE users SET person_id = ?, person_source = ? WHERE id = ? AND person_source IS NULL")
    .bind(personId, by, userId)
    .run();
  return meta.changes === 1;
}

/** The person an account belongs to now (links made after a request count too); an unlinked account is its own. */
export async function personIdOf(db: D1Database, userId: string): Promise<string> {
  const row = await db
    .prepare("SELECT COALESCE(person_id, id) AS person FROM users WHERE id = ?")
    .bind(userId)
    .first<{ person: string }>();
  return row?.person ?? userId;
}

// ---- Single sign-on --------------------------------------------------------------------------------------

/** Binds an SSO subject to an account that has none yet (one SCIM provisioned, at its first sign-in). */
export async function bindSsoSubject(db: D1Database, userId: string, subject: string): Promise<void> {
  await db
    .prepare("UPDATE users SET oidc_subject = ? WHERE id = ? AND oidc_subject IS NULL")
    .bind(subject, userId)
    .run();
}

/** The IdP's email for an SSO account, and whether the IdP verified it (only a verified one links a person). */
export async function setSsoEmail(db: D1Database, userId: string, email: string, verified: boolean): Promise<void> {
  await db
    .prepare("UPDATE users SET email = ?, email_verified = ? WHERE id = ?")
    .bind(email, verified ? 1 : 0, userId)
    .run();
}

// ---- One's own secrets and settings ----------------------------------------------------------------------

export async function setPasswordHash(db: D1Database, userId: string, hash: string): Promise<void> {
  await db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(hash, userId).run();
}

/** The master password's PBKDF2 verifier (derived in the browser), or null when none is set. */
export async function masterPasswordVerifierOf(db: D1Database, userId: string): Promise<string | null> {
  const row = await db
    .prepare("SELECT master_password_hash FROM users WHERE id = ?")
    .bind(userId)
    .first<{ master_password_hash: string | null }>();
  return row?.master_password_hash ?? null;
}

export async function setMasterPasswordVerifier(db: D1Database, userId: string, verifier: string): Promise<void> {
  await db.prepare("UPDATE users SET master_password_hash = ? WHERE id = ?").bind(verifier, userId).run();
}

/** Forgets the master password (an admin's reset), for a batch. */
export function clearMasterPasswordVerifier(db: D1Database, userId: string): D1PreparedStatement {
  return db.prepare("UPDATE users SET master_password_hash = NULL WHERE id = ?").bind(userId);
}

/** The account's keyboard layout for remote desktops; the default when none (or an unknown one) is stored. */
export async function keyboardLayoutOf(db: D1Database, userId: string): Promise<KeyboardLayout> {
  const row = await db
    .prepare("SELECT keyboard_layout FROM users WHERE id = ?")
    .bind(userId)
    .first<{ keyboard_layout: string }>();
  return storedKeyboardLayout(row?.keyboard_layout, userId);
}

export async function setKeyboardLayout(db: D1Database, userId: string, layout: KeyboardLayout): Promise<void> {
  await db.prepare("UPDATE users SET keyboard_layout = ? WHERE id = ?").bind(layout, userId).run();
}
