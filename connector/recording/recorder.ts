// The recording of one session, made at the source. The relay hands it what it reads from the target, what it
// writes to it, resizes and markers; its track (track.ts) turns them into the recording's text, cut into chunks
// and sealed, on the connector's recorder thread (recorder-thread.ts) so that the per-byte work never holds up
// the relay's event loop. Here each sealed chunk's claims are signed with the connector's key and the chunks are
// written to the spool, in order, in groups (one fsync round for the chunks sealed meanwhile).
//
// Cost on the relay's thread (docs/benchmarks.md): a copy of the relayed bytes and one message per 4 ms of output;
// the text, hashes and gzip run on the recorder thread; signing and the spool's writes run here.
import { CompactSign, type CryptoKey, calculateJwkThumbprint, importJWK, type JWK } from "jose";
import {
  CHUNK_TYP,
  ChunkClaims,
  CONNECTOR_TOKEN_ALG,
  RECORDING_CHUNK_BYTES,
  type RecordingFormat,
} from "../../protocol/index.ts";
import { publicJwk } from "../keys.ts";
import { takeSealed } from "./handover.ts";
import { type SpoolChunk, SpoolFull } from "./spool.ts";
import {
  RecordingTrack,
  type Schedule,
  type SealedCut,
  type Track,
  type TrackEvents,
  type TrackOptions,
} from "./track.ts";

/** Why a recording stopped before its end: the spool refused a chunk, or writing it failed. */
export type RecordingFailure = "spool_full" | "spool_error";

/** What the recorder needs of the spool: `addAll`, when there, takes consecutive chunks as one group commit. */
export type ChunkSink = {
  add(rid: string, seq: number, data: Uint8Array, jws: string, claims: ChunkClaims): Promise<void>;
  addAll?(rid: string, chunks: SpoolChunk[]): Promise<void>;
};

/** Signs a chunk's claims as a compact JWS (CHUNK_TYP). */
export type ChunkSign = (claims: ChunkClaims) => Promise<string>;

/** Opens the track a recording's text is made on: on the recorder thread, or (tests, tools) on this one. */
export type OpenTrack = (options: TrackOptions, events: TrackEvents) => Track;

/**
 * The backlog bounds. Past either the recorder is `behind` and the session pauses its target until the recording
 * catches up, so a disk (or a recorder thread) slower than the relay slows the remote program instead of growing
 * memory:
 * - RECORDER_BACKLOG_BYTES, relayed bytes not yet in a sealed chunk (on their way to the recorder thread, in the open
 *   chunk, being sealed): three chunks' worth, 9 MiB;
 * - RECORDER_BACKLOG_CHUNKS, sealed chunks not yet in the spool: 8, at most 4 MiB stored each. A group commit's
 *   fsyncs took 10–50 ms here; at bulk speed a chunk is sealed every 60 ms (every 20 ms with 1 MiB chunks, when a
 *   bound of 4 chunks paused a bulk stream about 40 times a second).
 */
export const RECORDER_BACKLOG_BYTES = 3 * RECORDING_CHUNK_BYTES;
export const RECORDER_BACKLOG_CHUNKS = 8;

export type SessionRecorderOptions = {
  recordingId: string;
  sessionId: string;
  format: RecordingFormat;
  keystrokes: boolean;
  cols: number;
  rows: number;
  spool: ChunkSink;
  sign: ChunkSign;
  now?: () => number;
  /** Cut bounds: RECORDING_CHUNK_BYTES of text (UTF-8 bytes), RECORDING_CHUNK_MS after the first line. */
  chunkBytes?: number;
  chunkMs?: number;
  /** The backlog bounds (RECORDER_BACKLOG_BYTES, RECORDER_BACKLOG_CHUNKS). */
  backlogBytes?: number;
  backlogChunks?: number;
  /** Where the text is made: the recorder thread's `open` in the connector; by default a track on this thread. */
  openTrack?: OpenTrack;
  /** For a track on this thread: runs `fn` after `ms` (setTimeout, unref'd, unless a test drives time). */
  schedule?: Schedule;
  /** The recording stopped: the spool refused a chunk. Nothing more is recorded. */
  onFailure?: (failure: RecordingFailure) => void;
  /** The backlog went back under its bound: a paused target may run again. */
  onDrain?: () => void;
  /** Output bytes as they are recorded (the uploader gives way to a busy relay: activity.ts). */
  noteOutput?: (bytes: number) => void;
};

/** A sealed chunk on its way to the spool: signed (or failed to sign) in order, handed over in groups. */
type Pending = {
  cut: SealedCut;
  settled?: Promise<void>;
  sealed?: { jws: string; claims: ChunkClaims };
  failed?: boolean;
};

export class SessionRecorder {
  private readonly track: Track;
  private readonly now: () => number;
  private state: "recording" | "ended" | "failed" = "recording";
  /** The recording's time zero, on this recorder's clock. */
  private readonly startedAt: number;
  /** The latest clock reading handed to the track (its lines' times never go back). */
  private lastNow: number;
  /** Relayed bytes so far: output (the session's output offset) and input. */
  private outBytes = 0;
  private inBytes = 0;
  /** Relayed bytes covered by the chunks sealed so far. */
  private sealedBytes = 0;
  /** Sealed chunks not yet in the spool. */
  private unspooled = 0;
  private wasBehind = false;
  /** Spool writes run in order, one group at a time. */
  private spooling: Promise<void> = Promise.resolve();
  /**
   * Sealed chunks not yet handed to the spool, oldest first. While the spool writes one group, the chunks
   * signed meanwhile wait here and go to it together next (one fsync round for all: spool.ts `addAll`).
   */
  private readonly pending: Pending[] = [];
  private settle!: () => void;
  /** Resolves once the last chunk is in the spool (or the recording failed). */
  readonly closed = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(private readonly options: SessionRecorderOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.lastNow = this.startedAt;
    const trackOptions: TrackOptions = {
      recordingId: options.recordingId,
      format: options.format,
      keystrokes: options.keystrokes,
      cols: options.cols,
      rows: options.rows,
      startedAt: this.startedAt,
      chunkBytes: options.chunkBytes,
      chunkMs: options.chunkMs,
    };
    const events: TrackEvents = {
      sealed: (cut) => this.sealed(cut),
      failed: () => this.fail("spool_error"),
    };
    this.track = options.openTrack
      ? options.openTrack(trackOptions, events)
      : new RecordingTrack(trackOptions, events, { now: this.now, schedule: options.schedule });
  }

  get recordingId(): string {
    return this.options.recordingId;
  }

  /** Where the recording's clock is now, in ms since its start (what the next event would be stamped; never earlier). */
  get elapsedMs(): number {
    return Math.max(this.lastNow, this.now()) - this.startedAt;
  }

  /** The relayed bytes not yet in the spool are past the backlog bound: pause the target. */
  get behind(): boolean {
    return (
      this.outBytes + this.inBytes - this.sealedBytes > (this.options.backlogBytes ?? RECORDER_BACKLOG_BYTES) ||
      this.unspooled > (this.options.backlogChunks ?? RECORDER_BACKLOG_CHUNKS)
    );
  }

  /** Output read from the target, as read. */
  output(bytes: Uint8Array): void {
    if (this.state !== "recording") return;
    this.track.output(bytes, this.clock());
    this.outBytes += bytes.byteLength;
    if (this.behind) this.wasBehind = true;
    this.options.noteOutput?.(bytes.byteLength);
  }

  /** Input written to the target (recorded per policy; always counted). */
  input(bytes: Uint8Array): void {
    if (this.state !== "recording") return;
    this.track.input(bytes, this.clock());
    this.inBytes += bytes.byteLength;
    if (this.behind) this.wasBehind = true;
  }

  resize(cols: number, rows: number): void {
    if (this.state !== "recording") return;
    this.track.resize(cols, rows, this.clock());
  }

  marker(label: string): void {
    if (this.state !== "recording") return;
    this.track.marker(label, this.clock());
  }

  /** The end: the writer's last lines, the `end: <reason>` marker, and the last chunk, marked final. */
  end(reason: string): void {
    if (this.state !== "recording") return;
    this.state = "ended";
    this.track.end(reason, this.clock());
  }

  private clock(): number {
    this.lastNow = Math.max(this.lastNow, this.now());
    return this.lastNow;
  }

  /** A chunk sealed by the track (in cut order): its claims signed, then into the spool behind the ones before. */
  private sealed(cut: SealedCut): void {
    if (this.state === "failed") return;
    this.sealedBytes = cut.out + cut.in;
    this.unspooled++;
    this.drained();
    const { recordingId: rid, sessionId: sid } = this.options;
    const { seq, size, sha256, rawSize, rawSha256, link } = cut.entry;
    const entry: Pending = { cut };
    // When a signature settles, the entry says so before anything awaiting it runs.
    entry.settled = (async () => {
      const claims = ChunkClaims.parse({
        rid,
        sid,
        seq,
        size,
        sha256,
        rawSize,
        rawSha256,
        link,
        out: cut.out,
        in: cut.in,
        final: cut.final,
        at: cut.at,
      });
      return { jws: await this.options.sign(claims), claims };
    })().then(
      (sealed) => {
        entry.sealed = sealed;
      },
      () => {
        entry.failed = true;
      },
    );
    this.pending.push(entry);
    this.spooling = this.spooling.then(() => this.store(entry));
  }

  /**
   * Hands `entry`, and the chunks signed after it by now, to the spool as one group; a refusal stops the
   * recording (the chain cannot skip a chunk). Runs in cut order; an entry already handed over with an
   * earlier group has nothing left to do.
   */
  private async store(entry: Pending): Promise<void> {
    if (!this.pending.includes(entry)) return;
    await entry.settled;
    const { group, failed } = takeSealed(this.pending);
    try {
      if (group.length > 0 && this.state !== "failed") await this.handOver(group);
      if (failed) throw new Error("signing failed");
      this.unspooled -= group.length;
      this.drained();
      if (group.at(-1)?.cut.final) this.settle();
    } catch (err) {
      this.fail(err instanceof SpoolFull ? "spool_full" : "spool_error");
    }
  }

  /** Tells the session when the backlog went back under its bounds (a paused target may run again). */
  private drained(): void {
    const behind = this.behind;
    if (this.wasBehind && !behind && this.state === "recording") this.options.onDrain?.();
    this.wasBehind = behind;
  }

  private async handOver(group: Pending[]): Promise<void> {
    const { spool } = this.options;
    const chunks = group.map(({ cut, sealed }) => ({ seq: cut.seq, data: cut.data, ...sealed! }));
    if (spool.addAll) await spool.addAll(this.recordingId, chunks);
    else for (const c of chunks) await spool.add(this.recordingId, c.seq, c.data, c.jws, c.claims);
  }

  private fail(failure: RecordingFailure): void {
    if (this.state === "failed") return;
    this.state = "failed";
    this.track.stop();
    this.pending.length = 0;
    this.settle();
    try {
      this.options.onFailure?.(failure);
    } catch {
      // The session's handler guards itself; nothing here may break the spool chain.
    }
  }
}

/**
 * Signs chunk claims with the connector's identity key (EdDSA, kid = RFC 7638 thumbprint of its public
 * half). `identityKey` is read at each chunk: after a key rotation the next chunk names the new key.
 */
export function chunkSigner(identityKey: () => JWK): ChunkSign {
  let cached: { jwk: JWK; key: Promise<{ key: CryptoKey | Uint8Array; kid: string }> } | null = null;
  const keyOf = (jwk: JWK) => {
    if (cached?.jwk !== jwk) {
      const key = (async () => ({
        key: await importJWK(jwk, CONNECTOR_TOKEN_ALG),
        kid: await calculateJwkThumbprint(publicJwk(jwk), "sha256"),
      }))();
      cached = { jwk, key };
    }
    return cached.key;
  };
  return async (claims) => {
    const { key, kid } = await keyOf(identityKey());
    return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: CONNECTOR_TOKEN_ALG, typ: CHUNK_TYP, kid })
      .sign(key);
  };
}
