// The one owner of `sites`, `site_seal_keys` and `enrollment_tokens` (AGENTS.md, "One owner per table"): every
// INSERT, UPDATE and DELETE on them is a named function here. Routes and seal-keys.ts decide and audit; a function
// returning D1PreparedStatements is for the caller's batch (or `insertOrConflict`).
import type { DiscoveryLifecycleSettings } from "../../protocol/index.ts";
import { DEFAULT_LIFECYCLE } from "./discovery-lifecycle.ts";

// ---- Sites -----------------------------------------------------------------------------------------------

/** A new site, without a seal key until its first connector enrolls. A taken name fails the statement. */
export function insertSite(db: D1Database, id: string, name: string): D1PreparedStatement {
  return db.prepare("INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)").bind(id, name, Date.now());
}

/** After how many days unseen the site's discovered hosts become stale, then retired (the defaults if no site). */
export async function lifecycleSettings(db: D1Database, siteId: string): Promise<DiscoveryLifecycleSettings> {
  const row = await db
    .prepare("SELECT discovery_stale_days AS s, discovery_retire_days AS r FROM sites WHERE id = ?")
    .bind(siteId)
    .first<{ s: number; r: number }>();
  return row ? { staleAfterDays: row.s, retireAfterDays: row.r } : DEFAULT_LIFECYCLE;
}

export async function setLifecycleSettings(
  db: D1Database,
  siteId: string,
  settings: DiscoveryLifecycleSettings,
): Promise<void> {
  await db
    .prepare("UPDATE sites SET discovery_stale_days = ?, discovery_retire_days = ? WHERE id = ?")
    .bind(settings.staleAfterDays, settings.retireAfterDays, siteId)
    .run();
}

// ---- Seal keys -------------------------------------------------------------------------------------------

/**
 * The first enrolling connector's seal key (JSON as stored, naming its `kid`) becomes the site's, with its history
 * row, in one batch; a site that has a key already keeps it and gets no history row.
 */
export async function offerFirstSealKey(
  db: D1Database,
  siteId: string,
  key: { kid: string; json: string },
): Promise<void> {
  await db.batch([
    db
      .prepare(
        "INSERT INTO site_seal_keys (site_id, kid, public_key, created_at) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sites WHERE id = ? AND seal_key IS NULL)",
      )
      .bind(siteId, key.kid, key.json, Date.now(), siteId),
    db.prepare("UPDATE sites SET seal_key = ? WHERE id = ? AND seal_key IS NULL").bind(key.json, siteId),
  ]);
}

/**
 * A seal key rotation's swap of the site's key, for its one batch (after its guard): the new key is the site's,
 * the old one is in the history (a key from before the history is added, dated 0) and retired, the new one added.
 */
export function replaceSealKey(
  db: D1Database,
  siteId: string,
  swap: { old: { kid: string; json: string }; next: { kid: string; json: string }; now: number },
): D1PreparedStatement[] {
  return [
    db.prepare("UPDATE sites SET seal_key = ? WHERE id = ?").bind(swap.next.json, siteId),
    db
      .prepare(
        "INSERT INTO site_seal_keys (site_id, kid, public_key, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      )
      .bind(siteId, swap.old.kid, swap.old.json, 0),
    db
      .prepare("UPDATE site_seal_keys SET retired_at = ? WHERE site_id = ? AND retired_at IS NULL")
      .bind(swap.now, siteId),
    db
      .prepare("INSERT INTO site_seal_keys (site_id, kid, public_key, created_at) VALUES (?, ?, ?, ?)")
      .bind(siteId, swap.next.kid, swap.next.json, swap.now),
  ];
}

// ---- Enrollment tokens -----------------------------------------------------------------------------------

export async function insertEnrollmentToken(
  db: D1Database,
  token: { hash: string; siteId: string; createdBy: string; expiresAt: number },
): Promise<void> {
  await db
    .prepare("INSERT INTO enrollment_tokens (token_hash, site_id, created_by, expires_at) VALUES (?, ?, ?, ?)")
    .bind(token.hash, token.siteId, token.createdBy, token.expiresAt)
    .run();
}

/** Claims a token atomically (single use, unexpired): its site, or null if it is unknown, used or expired. */
export async function claimEnrollmentToken(db: D1Database, hash: string, now: number): Promise<string | null> {
  const claimed = await db
    .prepare(
      "UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING site_id",
    )
    .bind(now, hash, now)
    .first<{ site_id: string }>();
  return claimed?.site_id ?? null;
}
