// Recordings: the signed manifest that closes one, the list/verify API bodies, and the limits.
import { z } from "zod";

/**
 * The connector cuts a chunk once it holds 3 MiB of recording text (UTF-8 bytes), or 10 s after its first line.
 * Interactive sessions cut on time (10 s of typing is a few KiB); the size cut only matters for bulk output,
 * where every chunk costs the connector a fixed price (two fsynced files, a signature, an upload): 3 MiB chunks
 * cost it less than half the CPU per MB of bulk that 1 MiB ones did (docs/recording.md).
 * Bytes not yet in a cut chunk are what a crash of the connector loses: the honest gap.
 */
export const RECORDING_CHUNK_BYTES = 3 * 1024 * 1024;
export const RECORDING_CHUNK_MS = 10_000;
/**
 * A stored chunk is at most 4 MiB: gzip of at most RECORDING_CHUNK_BYTES of text (a chunk passes the bound only
 * when one event's text alone does, and the relay's events are far smaller), and gzip grows text that does not
 * compress by a few bytes per 64 KiB.
 */
export const RECORDING_CHUNK_MAX_STORED = 4 * 1024 * 1024;
export const SPOOL_MAX_BYTES = 1024 * 1024 * 1024;
export const SPOOL_ALERT_FRACTION = 0.8;
/**
 * A required recording does not start when the connector has not been able to upload for this long
 * (PSM_SPOOL_OUTAGE_MS): 6 hours. A shorter outage costs only spool space.
 */
export const SPOOL_OUTAGE_MS = 6 * 60 * 60 * 1000;
/**
 * How long the edge waits, after a session ended, for the connector's last chunk before it signs
 * the manifest as incomplete (RECORDING_TAIL_WAIT_MS overrides it): 10 minutes. Chunks that
 * arrive later complete it.
 */
export const RECORDING_TAIL_WAIT_MS = 10 * 60 * 1000;
/** `typ` of the manifest JWS, distinct from every other token the edge signs. */
export const MANIFEST_TYP = "psm-recording-manifest+jws";
/** `typ` of a chunk's claims, signed by the connector's enrolled key (EdDSA, kid = its JWK thumbprint). */
export const CHUNK_TYP = "psm-recording-chunk+jws";
/** The HTTP header that carries a chunk's signed claims with its upload. */
export const CHUNK_HEADER = "x-psm-chunk";

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** The connector's spool, in its health report: bytes held, the bound, the oldest chunk not uploaded (unix ms). */
export const SpoolHealth = z.strictObject({
  bytes: z.number().int().min(0),
  limit: z.number().int().min(0),
  chunks: z.number().int().min(0),
  oldestAt: z.number().int().nullable(),
  /** Since when uploads fail (unix ms), or null. */
  failingSince: z.number().int().nullable(),
});
export type SpoolHealth = z.infer<typeof SpoolHealth>;

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

/**
 * What the connector says of one chunk, signed with its key: the chunk's stored and raw hashes, its
 * place in the chain, and how far the relayed streams reached at its end (bytes, not text: `out` is
 * the session's output offset, `in` its input count). `final` marks the recording's last chunk.
 */
export const ChunkClaims = z.strictObject({
  rid: z.string().min(1).max(64),
  sid: z.string().min(1).max(64),
  seq: z.number().int().min(0),
  size: z.number().int().min(0).max(RECORDING_CHUNK_MAX_STORED),
  sha256: Hex64,
  rawSize: z.number().int().min(0),
  rawSha256: Hex64,
  link: Hex64,
  out: z.number().int().min(0),
  in: z.number().int().min(0),
  final: z.boolean(),
  /** Unix ms when the chunk was cut. */
  at: z.number().int(),
});
export type ChunkClaims = z.infer<typeof ChunkClaims>;

/** A marker the room saw: unix ms and its label. */
export const WitnessMarker = z.strictObject({ at: z.number().int(), label: z.string().max(200) });
export type WitnessMarker = z.infer<typeof WitnessMarker>;
/**
 * The room's own account of a session, independent of the connector: bytes relayed per direction
 * (output by stream offset, gaps the connector declared included), its markers, and its times.
 */
export const Witness = z.strictObject({
  output: z.number().int().min(0),
  input: z.number().int().min(0),
  markers: z.array(WitnessMarker).max(1000),
  startedAt: z.number().int(),
  endedAt: z.number().int(),
  endReason: z.string().max(64),
  /**
   * "connector": the connector ended the session after sending all its output (the shell exited, or it
   * failed), so the chunks must hold exactly `output`; "room": the room stopped relaying (kill, time
   * limit, connector lost ...) and the connector may have read a little more than was relayed.
   */
  endedBy: z.enum(["connector", "room"]),
  /** Why the connector said it could not record (e.g. "spool_full"), or null. */
  recordingFailed: z.string().max(64).nullable(),
});
export type Witness = z.infer<typeof Witness>;

/** Why a signed manifest is incomplete: the connector's last chunk never came, for this reason. */
export const RecordingGap = z.strictObject({
  /** The session's end reason when the connector was lost, or "tail_timeout" / "spool_full". */
  reason: z.string().max(64),
  /** Chunks from this number on are missing (the chain stops before it). */
  fromSeq: z.number().int().min(0),
  /** The output bytes the room witnessed that no chunk holds: [outputFrom, outputTo). */
  outputFrom: z.number().int().min(0),
  outputTo: z.number().int().min(0),
});
export type RecordingGap = z.infer<typeof RecordingGap>;

/**
 * What every manifest version says, the shape both extend: whose session it recorded, in which format,
 * the chain of chunks, and whether it is complete (v1: false when an optional recording hit the room's
 * buffer limit and stopped before the session did; v2: false when the connector's last chunk never came).
 */
const manifestBase = {
  recordingId: z.string().min(1).max(64),
  sessionId: z.string().min(1).max(64),
  userId: z.string(),
  username: z.string(),
  serverId: z.string(),
  zoneId: z.string(),
  format: RecordingFormat,
  compression: z.literal("gzip"),
  complete: z.boolean(),
  chunks: z.array(ChunkEntry).max(1_000_000),
};

/**
 * The manifest of a recording made at the source (v2): the edge signs it to bind the connector's chunk
 * chain to the room's witness. `chunks` lists every chunk's hashes and link (the chain); `head` is the
 * last chunk's claims as the connector signed them, which commit to the whole chain through its link, and
 * say how far the streams reached and whether that chunk was the last. (Every chunk's own claims were
 * checked on upload; keeping only the head's keeps the manifest small.) `signers` are the connector keys
 * that may have signed it, so it verifies offline with the edge key alone, also after the connector is
 * revoked or rekeyed.
 */
export const RecordingManifestV2 = z.strictObject({
  v: z.literal(2),
  ...manifestBase,
  connectorId: z.string().max(64),
  signers: z.array(z.record(z.string(), z.unknown())).max(16),
  /** The last chunk's claims (compact JWS, CHUNK_TYP); null when no chunk arrived. */
  head: z.string().max(4096).nullable(),
  witness: Witness,
  gap: RecordingGap.nullable(),
  signedAt: z.number().int(),
});
export type RecordingManifestV2 = z.infer<typeof RecordingManifestV2>;

/** A manifest the room signed itself (v1: recordings made before the connector recorded at the source). */
export const RecordingManifest = z.object({
  v: z.literal(1),
  ...manifestBase,
  startedAt: z.number().int(),
  endedAt: z.number().int(),
  endReason: z.string(),
  head: Hex64,
});
export type RecordingManifest = z.infer<typeof RecordingManifest>;

export const IntegrityProblem = z.object({
  kind: z.enum([
    "signature",
    "manifest",
    "missing",
    "extra",
    "hash",
    "chain",
    "unsealed",
    "incomplete",
    /** The chunks do not cover what the room witnessed (under- or over-reported bytes). */
    "witness",
  ]),
  seq: z.number().int().optional(),
  detail: z.string(),
});
export type IntegrityProblem = z.infer<typeof IntegrityProblem>;

export const IntegrityReport = z.object({
  recordingId: z.string(),
  status: z.enum(["verified", "tampered", "unsealed", "incomplete"]),
  /** v2: the witness's byte totals and the bytes the chunks cover. */
  coverage: z
    .strictObject({
      output: z.number().int(),
      input: z.number().int(),
      recordedOutput: z.number().int(),
      recordedInput: z.number().int(),
    })
    .optional(),
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
