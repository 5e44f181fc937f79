// The one owner of `recordings` (AGENTS.md, "One owner per table"), the D1 index of recordings: their bytes are in the
// recording store, their manifest's hash and state here. The Worker opens a row at a session's start, names its
// connector on the first chunk and marks it deleted; the session's room names the connector too, records the witness
// and the seal. Here because both halves of the edge write it, and durable/ may not import worker/ at run time.
import type { RecordingFormat, Witness } from "../protocol/index.ts";

export type NewRecording = {
  id: string;
  sessionId: string;
  userId: string;
  serverId: string;
  zoneId: string;
  siteId: string;
  startedAt: number;
  format: RecordingFormat;
};

/** A recording the connector makes at the source (manifest v2, `source_version` 2), recording until sealed. */
export async function insertRecording(db: D1Database, r: NewRecording): Promise<void> {
  await db
    .prepare(
      "INSERT INTO recordings (id, session_id, user_id, server_id, zone_id, started_at, status, format, source_version, site_id) VALUES (?, ?, ?, ?, ?, ?, 'recording', ?, 2, ?)",
    )
    .bind(r.id, r.sessionId, r.userId, r.serverId, r.zoneId, r.startedAt, r.format, r.siteId)
    .run();
}

/**
 * Names the connector that records it, once: the first to say so (the room when a connector took the session, or
 * the first chunk's upload) wins. A statement, for the chunk upload's batch.
 */
export function nameConnector(db: D1Database, recordingId: string, connectorId: string): D1PreparedStatement {
  return db
    .prepare("UPDATE recordings SET connector_id = COALESCE(connector_id, ?) WHERE id = ?")
    .bind(connectorId, recordingId);
}

/** The room's witness, once (a second end records nothing); the seal waits for the tail until `tail_due`. */
export async function recordWitness(
  db: D1Database,
  recordingId: string,
  witness: Witness,
  tailWaitMs: number,
): Promise<void> {
  await db
    .prepare("UPDATE recordings SET witness = ?, ended_at = ?, tail_due = ? WHERE id = ? AND witness IS NULL")
    .bind(JSON.stringify(witness), witness.endedAt, witness.endedAt + tailWaitMs, recordingId)
    .run();
}

/**
 * A manifest signed and stored: what it covers and its hash. The retention clock starts at the session's end the first
 * time (the zone's retention in days); a later, more complete seal keeps it.
 */
export async function recordSeal(
  db: D1Database,
  recordingId: string,
  seal: { chunks: number; bytes: number; complete: boolean; manifestSha256: string; endedAt: number },
): Promise<void> {
  await db
    .prepare(
      `UPDATE recordings SET status = 'stored', chunks = ?, bytes = ?, complete = ?, manifest_sha256 = ?,
         retain_until = COALESCE(retain_until, ? + 86400000 * (SELECT recording_retention_days FROM zones WHERE id = recordings.zone_id))
       WHERE id = ?`,
    )
    .bind(seal.chunks, seal.bytes, seal.complete ? 1 : 0, seal.manifestSha256, seal.endedAt, recordingId)
    .run();
}

/** Its objects are gone from the store: the row stays, marked deleted, for history. */
export async function markRecordingDeleted(db: D1Database, recordingId: string, now: number): Promise<void> {
  await db
    .prepare("UPDATE recordings SET status = 'deleted', deleted_at = ? WHERE id = ?")
    .bind(now, recordingId)
    .run();
}
