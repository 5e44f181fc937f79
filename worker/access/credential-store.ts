// The one owner of `credentials` and `server_credentials` (AGENTS.md, "One owner per table"): every INSERT, UPDATE
// and DELETE on them is a named function here, which sets a new row's defaults. Routes, rotations.ts and
// seal-keys.ts decide and audit; a function returning D1PreparedStatements is for the caller's batch. Only sealed
// blobs pass through here, never a secret.
import type { CredentialKind } from "../../protocol/index.ts";
import type { Rotation } from "./rotation.ts";

export type NewCredential = {
  id: string;
  name: string;
  username: string;
  kind: CredentialKind;
  siteId: string;
  zoneId: string;
  /** Absent for an EmpowerID credential, which has no sealed blob (stored as ''). */
  sealed?: string;
  externalRef?: string;
  policyId: string | null;
  domain: string;
};

/** A new credential and its links to servers (checked by the caller to be in its zone), for one batch. */
export function insertCredential(db: D1Database, c: NewCredential, serverIds: string[]): D1PreparedStatement[] {
  return [
    db
      .prepare(
        "INSERT INTO credentials (id, name, username, kind, site_id, zone_id, sealed, external_ref, policy_id, created_at, domain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .bind(
        c.id,
        c.name,
        c.username,
        c.kind,
        c.siteId,
        c.zoneId,
        c.sealed ?? "",
        c.externalRef ?? null,
        c.policyId,
        Date.now(),
        c.domain,
      ),
    ...serverIds.map((serverId) =>
      db.prepare("INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)").bind(serverId, c.id),
    ),
  ];
}

/**
 * An admin's new secret for a vaulted credential; an out-of-sync one is in sync again. False while a rotation of
 * it runs (nothing changed).
 */
export async function replaceSecret(db: D1Database, id: string, sealed: string): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE credentials SET sealed = ?,
         rotation_state = CASE rotation_state WHEN 'out_of_sync' THEN 'ok' ELSE rotation_state END,
         rotation_error = CASE rotation_state WHEN 'out_of_sync' THEN NULL ELSE rotation_error END
       WHERE id = ? AND rotation_state != 'rotating'`,
    )
    .bind(sealed, id)
    .run();
  return meta.changes > 0;
}

/**
 * An admin's edit of a credential that is not retired: each pair is a column (a key of the validated
 * UpdateCredentialRequest, never free text) and its stored value. A taken name throws (UNIQUE).
 */
export async function updateCredential(
  db: D1Database,
  id: string,
  set: [column: string, stored: string | number][],
): Promise<void> {
  await db
    .prepare(
      `UPDATE credentials SET ${set.map(([column]) => `${column} = ?`).join(", ")} WHERE id = ? AND deleted_at IS NULL`,
    )
    .bind(...set.map(([, stored]) => stored), id)
    .run();
}

/**
 * Retires a credential that is turned off (renamed to free its name), for a batch: it changes no row if it was
 * turned on or retired meanwhile.
 */
export function retireCredential(db: D1Database, id: string, retiredName: string, now: number): D1PreparedStatement {
  return db
    .prepare("UPDATE credentials SET deleted_at = ?, name = ? WHERE id = ? AND deleted_at IS NULL AND enabled = 0")
    .bind(now, retiredName, id);
}

/** Where the credential's account lives (null: on its servers, over SSH) and which credential may rotate it. */
export async function setRotationAccount(
  db: D1Database,
  id: string,
  account: string | null,
  rotateWith: string | null,
): Promise<void> {
  await db
    .prepare("UPDATE credentials SET rotation_account = ?, rotate_with = ? WHERE id = ?")
    .bind(account, rotateWith, id)
    .run();
}

/**
 * Stores `after` if the row still holds `before` (state, job and generation): two sweeps, or a sweep and an
 * answer, cannot both move one credential. `sealed` replaces the vaulted blob in the same statement.
 */
export async function saveRotation(
  db: D1Database,
  id: string,
  before: Rotation,
  after: Rotation,
  sealed?: string,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE credentials SET rotation_state = ?, rotation_op = ?, rotation_cause = ?, rotation_job = ?, rotation_due_at = ?,
         rotation_attempts = ?, rotation_error = ?, rotation_generation = ?, verified_at = ?,
         sealed = COALESCE(?, sealed), rotated_at = CASE WHEN ? IS NULL THEN rotated_at ELSE ? END
       WHERE id = ? AND rotation_state = ? AND rotation_job IS ? AND rotation_generation = ?`,
    )
    .bind(
      after.state,
      after.op,
      after.cause,
      after.job,
      after.dueAt,
      after.attempts,
      after.error,
      after.generation,
      after.verifiedAt,
      sealed ?? null,
      sealed ?? null,
      after.verifiedAt,
      id,
      before.state,
      before.job,
      before.generation,
    )
    .run();
  return meta.changes > 0;
}

/**
 * A seal key rotation's new blobs for some of a site's credentials, for the swap's one batch (after its guard).
 * The caller slices: D1 binds at most 2 MB per value.
 */
export function resealCredentials(
  db: D1Database,
  siteId: string,
  blobs: { id: string; sealed: string }[],
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE credentials SET sealed = (SELECT json_extract(j.value, '$.sealed') FROM json_each(?1) j
         WHERE json_extract(j.value, '$.id') = credentials.id)
       WHERE site_id = ?2 AND id IN (SELECT json_extract(value, '$.id') FROM json_each(?1))`,
    )
    .bind(JSON.stringify(blobs), siteId);
}
