// Signing a recording's manifest (v2): once the session has ended, the edge binds the connector's chunk
// chain (each chunk's claims as the connector signed them, kept by the upload route) to the room's
// witness. Sealed in two steps: the room records its witness at the end (`recordWitness`,
// edge-shared/recording-index.ts); the manifest is signed when
// the chunk marked last has arrived, or, past the tail wait, as incomplete, naming the missing range (at
// once when the connector was revoked: it can upload nothing more).
// Chunks that arrive later seal it again, more complete. Only the session's room calls this, so one
// recording has one writer.
import { decodeJwt, type JWK } from "jose";
import {
  type ChunkEntry,
  ChunkClaims,
  type RecordingGap,
  type RecordingManifestV2,
  Witness,
} from "../../protocol/index.ts";
import { manifestKey, sha256Hex } from "../../recording/chain.ts";
import { signManifest } from "../../recording/manifest.ts";
import { connectorKeys } from "../../edge-shared/connector-keys.ts";
import type { Env } from "../../worker/env.ts";
import { edgeKey } from "../../edge-shared/keys.ts";
import { uploadVerified } from "../../edge-shared/recording/flush.ts";
import { recordSeal } from "../../edge-shared/recording-index.ts";
import { recordingStore } from "../../edge-shared/recording/stores.ts";

export type SealOutcome =
  | { kind: "waiting"; until: number }
  | { kind: "sealed"; complete: boolean; changed: boolean }
  | { kind: "none" };

type Row = {
  session_id: string;
  user_id: string;
  username: string;
  server_id: string;
  zone_id: string;
  format: RecordingManifestV2["format"];
  connector_id: string | null;
  /** When the connector that recorded it was revoked (unix ms), or null. */
  connector_revoked_at: number | null;
  witness: string | null;
  tail_due: number | null;
  manifest_sha256: string | null;
  chunks: number;
  complete: number;
  status: string;
};

type ChunkRow = { seq: number; jws: string; out_end: number; final: number; size: number; signer_kid: string };

/** End reasons that mean the room lost the connector: the gap is theirs, not a timeout's. */
const CONNECTOR_LOSS = new Set([
  "connector_lost",
  "connector_revoked",
  "connector_unavailable",
  // A required recording the connector could no longer spool: the session ended for it.
  "recording_unavailable",
]);

/** Signs (or re-signs, more complete) the manifest when it is due; throws when the store refuses it. */
export async function sealRecording(env: Env, recordingId: string, now: number): Promise<SealOutcome> {
  const row = await env.DB.prepare(
    `SELECT r.session_id, r.user_id, u.username, r.server_id, r.zone_id, r.format, r.connector_id,
       c.revoked_at AS connector_revoked_at, r.witness, r.tail_due, r.manifest_sha256, r.chunks, r.complete, r.status
     FROM recordings r JOIN users u ON u.id = r.user_id LEFT JOIN connectors c ON c.id = r.connector_id
     WHERE r.id = ? AND r.source_version = 2`,
  )
    .bind(recordingId)
    .first<Row>();
  if (!row?.witness || row.status === "deleted") return { kind: "none" };
  const witness = Witness.parse(JSON.parse(row.witness));
  const { results } = await env.DB.prepare(
    "SELECT seq, jws, out_end, final, size, signer_kid FROM recording_chunks WHERE recording_id = ? AND stored_at IS NOT NULL ORDER BY seq",
  )
    .bind(recordingId)
    .all<ChunkRow>();
  // The chain from chunk 0 up to the first hole (or the chunk marked last).
  const chain: ChunkRow[] = [];
  for (const chunk of results) {
    if (chunk.seq !== chain.length) break;
    chain.push(chunk);
    if (chunk.final) break;
  }
  const final = chain.at(-1)?.final === 1;
  // A revoked connector can upload nothing more (its tokens no longer authenticate): no tail to wait for.
  const revoked = row.connector_revoked_at !== null;
  if (!final && !revoked && now < (row.tail_due ?? 0)) return { kind: "waiting", until: row.tail_due ?? now };
  // Already sealed with this much: nothing new to sign.
  if (row.manifest_sha256 && row.chunks === chain.length && row.complete === (final ? 1 : 0))
    return { kind: "sealed", complete: final, changed: false };
  const outputFrom = chain.at(-1)?.out_end ?? 0;
  const gap: RecordingGap | null = final
    ? null
    : {
        reason: witness.recordingFailed ?? gapReason(witness.endReason, revoked),
        fromSeq: chain.length,
        outputFrom,
        outputTo: Math.max(witness.output, outputFrom),
      };
  const manifest: RecordingManifestV2 = {
    v: 2,
    recordingId,
    sessionId: row.session_id,
    userId: row.user_id,
    username: row.username,
    serverId: row.server_id,
    zoneId: row.zone_id,
    format: row.format,
    compression: "gzip",
    connectorId: row.connector_id ?? "",
    signers: await signersOf(env, row.connector_id, chain),
    chunks: chain.map(entryOf),
    head: chain.at(-1)?.jws ?? null,
    witness,
    complete: final,
    gap,
    signedAt: now,
  };
  const jws = await signManifest(manifest, await edgeKey(env.EDGE_SIGNING_KEY));
  await uploadVerified(await recordingStore(env), manifestKey(recordingId), new TextEncoder().encode(jws));
  await recordSeal(env.DB, recordingId, {
    chunks: chain.length,
    bytes: chain.reduce((n, c) => n + c.size, 0),
    complete: final,
    manifestSha256: await sha256Hex(jws),
    endedAt: witness.endedAt,
  });
  return { kind: "sealed", complete: final, changed: true };
}

/**
 * Why the chunks stop short, when the connector did not say it could not record: the session's end reason
 * when the room lost the connector; else its revocation (after the session ended, with chunks still
 * spooled); else the tail wait ran out.
 */
function gapReason(endReason: string, revoked: boolean): string {
  if (CONNECTOR_LOSS.has(endReason)) return endReason;
  return revoked ? "connector_revoked" : "tail_timeout";
}

/** A chunk's place in the chain, from the claims the upload route verified and kept. */
function entryOf(chunk: ChunkRow): ChunkEntry {
  const c = ChunkClaims.parse(decodeJwt(chunk.jws));
  return { seq: c.seq, size: c.size, sha256: c.sha256, rawSize: c.rawSize, rawSha256: c.rawSha256, link: c.link };
}

/** The public keys that signed the chain's chunks (the connector's current and retired keys, by kid). */
async function signersOf(env: Env, connectorId: string | null, chain: ChunkRow[]): Promise<JWK[]> {
  if (!connectorId || chain.length === 0) return [];
  const used = new Set(chain.map((c) => c.signer_kid));
  return (await connectorKeys(env.DB, connectorId))
    .filter((k) => used.has(k.kid))
    .map((k) => ({ ...k.jwk, kid: k.kid }));
}
