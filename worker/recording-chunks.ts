// The upload of a recording chunk from the connector that recorded it (docs/recording.md). Owner of the
// recording_chunks table. A chunk is stored only if: the recording is a session's of the uploading
// connector's site and was made by it; its claims verify with one of its keys and name this recording, session
// and number; the bytes hash to what the claims say; and it links to the chunk before it when that one
// is here. A retry of the same chunk is accepted once (idempotent); a different chunk under a used number
// is refused and audited, also when the two race (the number is claimed in D1 before anything is put).
// The edge hashes what it received itself: an S3 store checks no checksum.
import { decodeProtectedHeader, type JWK } from "jose";
import type { AuditEntryInput, ChunkClaims } from "../protocol/index.ts";
import { chunkKey, chunkName, genesis, gzipName, nextLink, sha256Hex } from "../recording/chain.ts";
import { openChunkClaims } from "../recording/verify.ts";
import { uploadVerified } from "../edge-shared/recording/flush.ts";
import { recordingStore } from "../edge-shared/recording/stores.ts";
import { nameConnector } from "../edge-shared/recording-index.ts";
import { record } from "./audit.ts";
import type { AuthConnector } from "./connector-auth.ts";
import { connectorKeys } from "../edge-shared/connector-keys.ts";
import type { Env } from "./env.ts";
import { ApiFailure } from "./errors.ts";

export type ChunkUpload = { recordingId: string; seq: number; jws: string; data: Uint8Array };

type RecordingRow = {
  session_id: string;
  user_id: string;
  server_id: string;
  site_id: string | null;
  connector_id: string | null;
};

/** Stores one chunk; `duplicate` when exactly this chunk was already stored. Throws ApiFailure on refusal. */
export async function acceptChunk(
  env: Env,
  connector: AuthConnector,
  upload: ChunkUpload,
  now: number,
): Promise<{ duplicate: boolean; sessionId: string; claims: ChunkClaims }> {
  const { recordingId, seq, jws, data } = upload;
  const row = await env.DB.prepare(
    "SELECT session_id, user_id, server_id, site_id, connector_id FROM recordings WHERE id = ? AND source_version = 2 AND status != 'deleted'",
  )
    .bind(recordingId)
    .first<RecordingRow>();
  // Another site's recording reads as unknown: a connector learns nothing of sessions it does not serve.
  if (!row || row.site_id !== connector.siteId) {
    if (row) await refused(env, connector, row, recordingId, seq, "a connector of another site");
    throw new ApiFailure("not_found", `recording ${recordingId} is not one of site ${connector.siteId}'s`);
  }
  // The connector that took the session (the room names it at its hello) is the only one that recorded it.
  if (row.connector_id !== null && row.connector_id !== connector.id) {
    await refused(env, connector, row, recordingId, seq, "a connector that did not serve the session");
    throw new ApiFailure("not_found", `recording ${recordingId} was made by another connector`);
  }
  const keys = await connectorKeys(env.DB, connector.id);
  const signers = new Map<string, JWK>(keys.map((k) => [k.kid, k.jwk]));
  const claims = await openChunkClaims(jws, signers);
  const refuse = async (why: string) => {
    await refused(env, connector, row, recordingId, seq, why);
    return new ApiFailure("bad_request", `chunk ${recordingId}.${seq}: ${why}`);
  };
  if (!claims) throw await refuse("claims not signed by this connector");
  if (claims.rid !== recordingId || claims.sid !== row.session_id || claims.seq !== seq)
    throw await refuse("claims name another recording, session or number");
  if (data.byteLength !== claims.size || (await sha256Hex(data)) !== claims.sha256)
    throw await refuse("bytes do not match the claims");
  if (gzipName(data) !== chunkName(recordingId, seq)) throw await refuse("not this chunk's gzip member");

  const chunkAt = (n: number) =>
    env.DB.prepare("SELECT sha256, link FROM recording_chunks WHERE recording_id = ? AND seq = ?").bind(recordingId, n);
  const [previous, existing] = await env.DB.batch<{ sha256: string; link: string }>([chunkAt(seq - 1), chunkAt(seq)]);
  const outcome = { sessionId: row.session_id, claims };
  let used = existing!.results[0];
  if (!used) {
    const prev = seq === 0 ? await genesis(recordingId) : previous!.results[0]?.link;
    if (prev !== undefined && (await nextLink(prev, seq, claims.sha256, claims.rawSha256)) !== claims.link)
      throw await refuse("does not link to the chunk before it");
    if (await store(env, upload, claims, connector, now, { retry: false })) return { duplicate: false, ...outcome };
    // Another upload of this number got its row in first: the same bytes are a duplicate, others a conflict.
    used = (await chunkAt(seq).first<{ sha256: string; link: string }>()) ?? undefined;
    // ... unless its put failed and took the row back out since: nothing is refused, the uploader tries again.
    if (!used) throw new ApiFailure("recording_unavailable", `chunk ${recordingId}.${seq}: a racing upload failed`);
  }
  if (used.sha256 !== claims.sha256) throw await conflict(env, connector, row, recordingId, seq);
  await store(env, upload, claims, connector, now, { retry: true });
  return { duplicate: true, ...outcome };
}

/**
 * Claims the chunk's number with its row, then puts its bytes: the row first, so of two different chunks
 * racing for one number only the one whose row went in is put (the primary key decides; the other never
 * reaches the store and cannot overwrite it). Returns false, having put nothing, when the number was taken.
 * `retry`: the row holds exactly these bytes already (a retried or concurrent upload of the same chunk);
 * they are put again, so a 200 always means the store holds them, also when the first upload's put failed
 * or is still under way. A put the store refuses takes the row back out, so a chunk that never arrives
 * leaves an honest gap, not a manifest entry without bytes.
 */
async function store(
  env: Env,
  { recordingId, seq, jws, data }: ChunkUpload,
  claims: ChunkClaims,
  connector: AuthConnector,
  now: number,
  { retry }: { retry: boolean },
): Promise<boolean> {
  const [inserted] = await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO recording_chunks (recording_id, seq, sha256, size, link, out_end, in_end, final, jws, signer_kid, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).bind(
      recordingId,
      seq,
      claims.sha256,
      claims.size,
      claims.link,
      claims.out,
      claims.in,
      claims.final ? 1 : 0,
      jws,
      decodeProtectedHeader(jws).kid!,
      now,
    ),
    nameConnector(env.DB, recordingId, connector.id),
  ]);
  // A retry re-inserts too: the row may have been taken back by a failed put since it was read.
  if (!inserted!.meta.changes && !retry) return false;
  try {
    await uploadVerified(await recordingStore(env), chunkKey(recordingId, seq), data, claims.sha256);
    // Only now does the seal see the chunk: its bytes are in the store.
    await env.DB.prepare(
      "UPDATE recording_chunks SET stored_at = COALESCE(stored_at, ?) WHERE recording_id = ? AND seq = ? AND sha256 = ?",
    )
      .bind(now, recordingId, seq, claims.sha256)
      .run();
  } catch (err) {
    console.warn(`recording ${recordingId}: chunk ${seq} not stored: ${(err as Error).message}`);
    if (inserted!.meta.changes)
      await env.DB.prepare("DELETE FROM recording_chunks WHERE recording_id = ? AND seq = ? AND sha256 = ?")
        .bind(recordingId, seq, claims.sha256)
        .run();
    throw new ApiFailure("recording_unavailable", `store refused chunk ${recordingId}.${seq}`);
  }
  return true;
}

/** A different chunk under a used number: refused (409) and audited. */
async function conflict(
  env: Env,
  connector: AuthConnector,
  row: RecordingRow,
  recordingId: string,
  seq: number,
): Promise<ApiFailure> {
  await refused(env, connector, row, recordingId, seq, "a different chunk under a used number");
  return new ApiFailure("conflict", `chunk ${recordingId}.${seq} is already stored with other bytes`);
}

async function refused(
  env: Env,
  connector: AuthConnector,
  row: RecordingRow,
  recordingId: string,
  seq: number,
  why: string,
): Promise<void> {
  console.warn(`recording ${recordingId}: chunk ${seq} from connector ${connector.id} refused: ${why}`);
  const entry: AuditEntryInput = {
    actor: { id: connector.id, name: "connector" },
    action: "recording.chunk_refused",
    target: { type: "recording", id: recordingId },
    refs: { userId: row.user_id, serverId: row.server_id, sessionId: row.session_id },
    data: { seq, why, site: connector.siteId },
  };
  await record(env, entry);
}
