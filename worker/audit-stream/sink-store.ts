// The one owner of `audit_sinks` (AGENTS.md, "One owner per table"): the admin's sinks (routes/audit-sinks.ts) and how
// far delivery has taken each (deliver.ts). An HEC token arrives here already sealed at rest, bound to its sink.
import type { SinkProgress } from "./core.ts";

export type SinkRow = {
  id: string;
  name: string;
  kind: "hec" | "syslog";
  enabled: number;
  url: string | null;
  token_enc: string | null;
  site_id: string | null;
  host: string | null;
  port: number | null;
  start_idx: number;
  after_idx: number;
  attempts: number;
  next_attempt_at: number;
  last_ok_at: number | null;
  failing_since: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
};

export type NewSink = { id: string; name: string; enabled: boolean; start: number; now: number } & (
  | { kind: "hec"; url: string; token: string }
  | { kind: "syslog"; siteId: string; host: string; port: number }
);

/** A sink's settings as an admin changes them; its kind and where it resumes stay. `token` null keeps the stored one. */
export type SinkChange = { name: string; enabled: boolean; now: number } & (
  | { kind: "hec"; url: string; token: string | null }
  | { kind: "syslog"; siteId: string; host: string; port: number }
);

export async function listSinks(db: D1Database): Promise<SinkRow[]> {
  const { results } = await db.prepare("SELECT * FROM audit_sinks ORDER BY name").all<SinkRow>();
  return results;
}

export async function enabledSinks(db: D1Database): Promise<SinkRow[]> {
  const { results } = await db.prepare("SELECT * FROM audit_sinks WHERE enabled = 1").all<SinkRow>();
  return results;
}

export function loadSink(db: D1Database, id: string): Promise<SinkRow | null> {
  return db.prepare("SELECT * FROM audit_sinks WHERE id = ?").bind(id).first<SinkRow>();
}

export async function anySinkEnabled(db: D1Database): Promise<boolean> {
  return !!(await db.prepare("SELECT 1 AS on_ FROM audit_sinks WHERE enabled = 1 LIMIT 1").first());
}

export async function sinkNameTaken(db: D1Database, name: string): Promise<boolean> {
  return !!(await db.prepare("SELECT 1 AS x FROM audit_sinks WHERE name = ?").bind(name).first());
}

/** A new sink, owed every entry after `start` (the ledger index it has, as it were, acknowledged already). */
export async function insertSink(db: D1Database, s: NewSink): Promise<void> {
  await db
    .prepare(
      `INSERT INTO audit_sinks (id, name, kind, enabled, url, token_enc, site_id, host, port, start_idx, after_idx,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      s.id,
      s.name,
      s.kind,
      s.enabled ? 1 : 0,
      s.kind === "hec" ? s.url : null,
      s.kind === "hec" ? s.token : null,
      s.kind === "syslog" ? s.siteId : null,
      s.kind === "syslog" ? s.host : null,
      s.kind === "syslog" ? s.port : null,
      s.start,
      s.start,
      s.now,
      s.now,
    )
    .run();
}

/** Stores an admin's change; a failing sink is due again at once (its backoff starts over). */
export async function updateSink(db: D1Database, id: string, s: SinkChange): Promise<void> {
  if (s.kind === "hec")
    await db
      .prepare(
        `UPDATE audit_sinks SET name = ?, enabled = ?, url = ?, token_enc = COALESCE(?, token_enc), attempts = 0,
           next_attempt_at = 0, updated_at = ? WHERE id = ?`,
      )
      .bind(s.name, s.enabled ? 1 : 0, s.url, s.token, s.now, id)
      .run();
  else
    await db
      .prepare(
        `UPDATE audit_sinks SET name = ?, enabled = ?, site_id = ?, host = ?, port = ?, attempts = 0,
           next_attempt_at = 0, updated_at = ? WHERE id = ?`,
      )
      .bind(s.name, s.enabled ? 1 : 0, s.siteId, s.host, s.port, s.now, id)
      .run();
}

export async function deleteSink(db: D1Database, id: string): Promise<void> {
  await db.prepare("DELETE FROM audit_sinks WHERE id = ?").bind(id).run();
}

/** Delivery's progress on a sink after each batch. */
export async function saveProgress(db: D1Database, id: string, p: SinkProgress): Promise<void> {
  await db
    .prepare(
      `UPDATE audit_sinks SET after_idx = ?, attempts = ?, next_attempt_at = ?, last_ok_at = ?,
         failing_since = ?, last_error = ? WHERE id = ?`,
    )
    .bind(p.afterIdx, p.attempts, p.nextAttemptAt, p.lastOkAt, p.failingSince, p.lastError, id)
    .run();
}
