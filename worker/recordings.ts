// Recordings at the edge: who may see which (auditors and admins of the zone, plus the session's own
// user where the zone allows), reading and verifying them from the store, and the retention sweep.
import { verifyRecording } from "../recording/verify.ts";
import { chunkKey, gunzip, manifestKey, recordingPrefix, seqOfKey, sha256Hex } from "../recording/chain.ts";
import { recordingStore } from "../edge-shared/recording/stores.ts";
import type { RecordingStore } from "../edge-shared/recording/store.ts";
import { markRecordingDeleted } from "../edge-shared/recording-index.ts";
import type { IntegrityReport, RecordingSummary } from "../protocol/index.ts";
import { adminScope, inScope } from "./access/scope.ts";
import { record } from "./audit.ts";
import type { AuthUser, Env } from "./env.ts";
import { ApiFailure } from "./errors.ts";
import { verificationKeys } from "../edge-shared/keys.ts";

export type RecordingRow = {
  id: string;
  session_id: string;
  user_id: string;
  username: string;
  server_id: string;
  server_name: string;
  zone_id: string;
  zone_name: string;
  end_reason: string | null;
  signed: number;
  started_at: number;
  ended_at: number | null;
  status: RecordingSummary["status"];
  complete: number;
  chunks: number;
  bytes: number;
  retain_until: number | null;
  owner_replay: number;
  format: RecordingSummary["format"];
};

export const RECORDING_SELECT = `SELECT r.*, u.username, sv.name AS server_name, z.name AS zone_name,
    z.recording_owner_replay AS owner_replay, se.end_reason, r.manifest_sha256 IS NOT NULL AS signed
  FROM recordings r JOIN users u ON u.id = r.user_id JOIN servers sv ON sv.id = r.server_id JOIN zones z ON z.id = r.zone_id
  LEFT JOIN sessions se ON se.id = r.session_id`;

export const toSummary = (r: RecordingRow): RecordingSummary => ({
  id: r.id,
  sessionId: r.session_id,
  userId: r.user_id,
  username: r.username,
  serverId: r.server_id,
  serverName: r.server_name,
  zoneId: r.zone_id,
  zoneName: r.zone_name,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  endReason: r.end_reason,
  status: r.status,
  signed: !!r.signed,
  complete: !!r.complete,
  chunks: r.chunks,
  bytes: r.bytes,
  retainUntil: r.retain_until,
  format: r.format,
});

/** Decides, for one user, which recordings are visible: a predicate over rows. */
export async function recordingViewer(db: D1Database, user: AuthUser): Promise<(r: RecordingRow) => boolean> {
  if (user.roles.includes("auditor")) return () => true;
  const scope = await adminScope(db, user);
  return (r) => inScope(scope, r.zone_id) || (r.user_id === user.id && r.owner_replay === 1);
}

/** The recording if this user may see it; otherwise not_found, the same as a missing one (no IDOR oracle). */
export async function visibleRecording(env: Env, user: AuthUser, id: string): Promise<RecordingRow> {
  const row = await env.DB.prepare(`${RECORDING_SELECT} WHERE r.id = ?`).bind(id).first<RecordingRow>();
  if (!row || row.status === "deleted" || !(await recordingViewer(env.DB, user))(row))
    throw new ApiFailure("not_found", `recording ${id} not visible to ${user.id}`);
  return row;
}

async function chunkSeqs(store: RecordingStore, id: string): Promise<number[]> {
  const keys = await store.list(recordingPrefix(id));
  return keys
    .map(seqOfKey)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
}

/** The .cast text, streamed one chunk at a time (memory stays at one chunk, ~64 KiB of text). */
export async function castStream(env: Env, id: string): Promise<ReadableStream<Uint8Array>> {
  const store = await recordingStore(env);
  const seqs = await chunkSeqs(store, id);
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i >= seqs.length) {
        controller.close();
        return;
      }
      const data = await store.get(chunkKey(id, seqs[i++]!));
      if (data) controller.enqueue(await gunzip(data));
    },
  });
}

export async function manifestText(env: Env, id: string): Promise<string | null> {
  const data = await (await recordingStore(env)).get(manifestKey(id));
  return data ? new TextDecoder().decode(data) : null;
}

/**
 * Verifies a recording in the store against its signed manifest, and the manifest against the hash D1
 * kept when it was signed: once sealed, a manifest that is gone or differs is tampering, not "pending".
 */
export async function verifyStored(env: Env, id: string): Promise<IntegrityReport> {
  const store = await recordingStore(env);
  const publicKeys = await verificationKeys(env);
  const sealed = await env.DB.prepare("SELECT manifest_sha256 FROM recordings WHERE id = ?")
    .bind(id)
    .first<{ manifest_sha256: string | null }>();
  const jws = await manifestText(env, id);
  const { report } = await verifyRecording(
    id,
    {
      manifest: async () => jws,
      list: () => chunkSeqs(store, id),
      chunk: (seq) => store.get(chunkKey(id, seq)),
    },
    publicKeys,
  );
  const expected = sealed?.manifest_sha256 ?? null;
  if (expected === null) return report;
  if (jws === null)
    return {
      ...report,
      status: "tampered",
      problems: [{ kind: "manifest", detail: "the signed manifest is gone from the store" }],
    };
  if ((await sha256Hex(jws)) !== expected)
    return {
      ...report,
      status: "tampered",
      problems: [...report.problems, { kind: "manifest", detail: "the manifest is not the one the edge signed" }],
    };
  return report;
}

/** Removes a recording's objects and marks its row deleted, audited with who and why. */
export async function deleteRecording(
  env: Env,
  row: Pick<RecordingRow, "id" | "session_id" | "user_id" | "server_id" | "retain_until">,
  actor: { id: string; name: string } | null,
  why: "retention" | "admin",
  now: number,
): Promise<void> {
  if (row.retain_until === null || row.retain_until > now)
    throw new ApiFailure("conflict", `recording ${row.id} is retained until ${row.retain_until}`);
  const store = await recordingStore(env);
  await store.delete(await store.list(recordingPrefix(row.id)));
  await markRecordingDeleted(env.DB, row.id, now);
  await record(env, {
    actor,
    action: "recording.deleted",
    target: { type: "recording", id: row.id },
    refs: { userId: row.user_id, serverId: row.server_id, sessionId: row.session_id },
    data: { why, retainUntil: row.retain_until },
  });
}

/** The cron sweep's part: recordings past their zone's retention are deleted, 50 per run. */
export async function sweepRecordings(env: Env, now: number): Promise<number> {
  const { results } = await env.DB.prepare(
    "SELECT id, session_id, user_id, server_id, retain_until FROM recordings WHERE status IN ('sealed', 'stored') AND retain_until <= ? ORDER BY retain_until LIMIT 50",
  )
    .bind(now)
    .all<Pick<RecordingRow, "id" | "session_id" | "user_id" | "server_id" | "retain_until">>();
  let deleted = 0;
  for (const row of results) {
    try {
      await deleteRecording(env, row, null, "retention", now);
      deleted++;
    } catch (err) {
      console.error(`retention sweep: recording ${row.id} not deleted`, err);
    }
  }
  return deleted;
}
