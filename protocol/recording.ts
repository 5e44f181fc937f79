// Recordings: the signed manifest that closes one, the list/verify API bodies, and the limits.
import { z } from "zod";

/**
 * A chunk is cut once it holds 512 KiB of asciicast text, or 10 s after its first line. Interactive
 * sessions cut on time (10 s of typing is a few KiB); the size cut only matters for bulk output,
 * where 64 KiB chunks meant hundreds of uploads per second at relay speed (docs/recording.md).
 */
export const RECORDING_CHUNK_BYTES = 512 * 1024;
export const RECORDING_CHUNK_MS = 10_000;
/**
 * Unflushed recording kept in the room's storage, at most 64 MiB (sealed chunks + the open one).
 * At the limit a session whose policy requires recording ends with "recording_unavailable"; an
 * optional recording stops buffering (the manifest says it is incomplete) and an alert is raised.
 */
export const RECORDING_BUFFER_BYTES = 64 * 1024 * 1024;
/** `typ` of the manifest JWS, distinct from every other token the edge signs. */
export const MANIFEST_TYP = "psm-recording-manifest+jws";

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * What a recording's text is: asciicast v2 for terminals, a Guacamole protocol dump (`.guac`, what
 * guacamole-common-js's SessionRecording plays) for desktops (docs/recording.md, docs/rdp.md).
 */
export const RecordingFormat = z.enum(["asciicast-v2", "guacamole"]);
export type RecordingFormat = z.infer<typeof RecordingFormat>;

export const ChunkEntry = z.object({
  seq: z.number().int().min(0),
  /** Stored (gzip) bytes and their SHA-256. */
  size: z.number().int().min(0),
  sha256: Hex64,
  /** The asciicast text inside, so a downloaded .cast can be checked offline too. */
  rawSize: z.number().int().min(0),
  rawSha256: Hex64,
  /** SHA-256 over the previous link and this chunk's hashes: the chain. */
  link: Hex64,
});
export type ChunkEntry = z.infer<typeof ChunkEntry>;

export const RecordingManifest = z.object({
  v: z.literal(1),
  recordingId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  userId: z.string(),
  username: z.string(),
  serverId: z.string(),
  zoneId: z.string(),
  startedAt: z.number().int(),
  endedAt: z.number().int(),
  endReason: z.string(),
  format: RecordingFormat,
  compression: z.literal("gzip"),
  /** False when an optional recording hit the buffer limit and stopped before the session did. */
  complete: z.boolean(),
  chunks: z.array(ChunkEntry).max(1_000_000),
  head: Hex64,
});
export type RecordingManifest = z.infer<typeof RecordingManifest>;

export const IntegrityProblem = z.object({
  kind: z.enum(["signature", "manifest", "missing", "extra", "hash", "chain", "unsealed", "incomplete"]),
  seq: z.number().int().optional(),
  detail: z.string(),
});
export type IntegrityProblem = z.infer<typeof IntegrityProblem>;

export const IntegrityReport = z.object({
  recordingId: z.string(),
  status: z.enum(["verified", "tampered", "unsealed", "incomplete"]),
  chunks: z.number().int(),
  problems: z.array(IntegrityProblem),
});
export type IntegrityReport = z.infer<typeof IntegrityReport>;

export const RecordingStatus = z.enum(["recording", "sealed", "stored", "deleted"]);

export const RecordingSummary = z.object({
  id: z.string(),
  sessionId: z.string(),
  userId: z.string(),
  username: z.string(),
  serverId: z.string(),
  serverName: z.string(),
  zoneId: z.string(),
  zoneName: z.string(),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
  /** Why the session ended (an EndReason; a string so an older page reads a newer edge); null while it runs. */
  endReason: z.string().nullable(),
  status: RecordingStatus,
  /** The edge signed the manifest (its hash is kept in D1): the replay's Verify holds the bytes against it. */
  signed: z.boolean(),
  complete: z.boolean(),
  chunks: z.number().int(),
  bytes: z.number().int(),
  retainUntil: z.number().int().nullable(),
  format: RecordingFormat,
});
export type RecordingSummary = z.infer<typeof RecordingSummary>;

/** user, server and zone match an id exactly or a name in part, case-insensitively. */
export const RecordingQuery = z.object({
  user: z.string().max(64).optional(),
  server: z.string().max(64).optional(),
  zone: z.string().max(64).optional(),
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
});

/** A zone's recording rules: retention in days, and whether a session's own user may replay it. */
export const ZoneRecordingPolicy = z.object({
  retentionDays: z.number().int().min(1).max(36_500),
  ownerReplay: z.boolean(),
});
export type ZoneRecordingPolicy = z.infer<typeof ZoneRecordingPolicy>;
