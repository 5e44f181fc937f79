// A recording's text and its sealed chunks: what the relay reads from the target, writes to it, resizes and
// markers become the recording's text (asciicast v2 or .guac), cut into chunks (RECORDING_CHUNK_BYTES of text,
// or RECORDING_CHUNK_MS after a chunk's first line), each sealed in order (gzip, hashes, the chain's link). The
// open chunk lives in memory only: what a crash loses is the honest gap (no fsync per frame).
//
// This is the per-byte work of recording. The connector runs it on its recorder thread (recorder-thread.ts), off
// the relay's event loop; SessionRecorder (recorder.ts) signs and spools what comes out. Every event carries the
// relay's clock reading, so a line's time is when the relay read the bytes, not when this thread got to them.
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";
import { isMainThread } from "node:worker_threads";
import {
  type ChunkEntry,
  RECORDING_CHUNK_BYTES,
  RECORDING_CHUNK_MS,
  type RecordingFormat,
} from "../../protocol/index.ts";
import { CastWriter, LineBuffer } from "../../recording/asciicast.ts";
import { chunkName, genesis, nextLink } from "../../recording/chain.ts";
import { type RecordingWriter, recordingWriter } from "../../recording/formats.ts";

/** What a track is opened with (plain data: it crosses to the recorder thread). */
export type TrackOptions = {
  recordingId: string;
  format: RecordingFormat;
  keystrokes: boolean;
  cols: number;
  rows: number;
  /** The recording's time zero, on the relay's clock. */
  startedAt: number;
  /** Cut bounds: RECORDING_CHUNK_BYTES of text (UTF-8 bytes), RECORDING_CHUNK_MS after the first line. */
  chunkBytes?: number;
  chunkMs?: number;
};

/** A sealed chunk: its gzip bytes, its chain entry, and how far the relayed streams reached at its cut. */
export type SealedCut = {
  seq: number;
  data: Uint8Array;
  entry: ChunkEntry;
  out: number;
  in: number;
  final: boolean;
  at: number;
};

/** What a track tells its owner, in cut order: each sealed chunk, or that sealing failed (nothing follows). */
export type TrackEvents = {
  sealed(cut: SealedCut): void;
  failed(error: unknown): void;
};

/** The recording's events, as the relay hands them over, each with the relay's clock reading. */
export type Track = {
  output(bytes: Uint8Array, now: number): void;
  input(bytes: Uint8Array, now: number): void;
  resize(cols: number, rows: number, now: number): void;
  marker(label: string, now: number): void;
  /** The writer's last lines, the `end: <reason>` marker, and the last chunk, marked final. */
  end(reason: string, now: number): void;
  /** The recording stopped (the spool refused): drop the open chunk, seal nothing more. */
  stop(): void;
};

/** Runs `fn` after `ms` and returns its cancel (setTimeout, unref'd, unless a test drives time). */
export type Schedule = (fn: () => void, ms: number) => () => void;

const defaultSchedule: Schedule = (fn, ms) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/**
 * Text buffers of chunks cut by size, sealed and free again, kept for the next size cuts (no 4 MiB allocation per
 * chunk of a bulk stream). One pool for every track on the thread, so memory does not grow with the sessions that
 * once had bulk output; a chunk cut by time (an interactive session) starts its successor small.
 */
const SPARE_BUFFERS = 4;
const spares: Uint8Array[] = [];

/** A cut chunk: its text as UTF-8, and the relayed totals at its cut. */
type Cut = { seq: number; raw: Uint8Array; out: number; in: number; final: boolean; at: number };

/** Where the open chunk stood before a call's lines were appended. */
type Mark = { byteLength: number; units: number; lines: number };

export class RecordingTrack implements Track {
  private readonly writer: RecordingWriter;
  /** The asciicast writer, whose output is appended from the relayed bytes directly. */
  private readonly cast: CastWriter | null;
  private readonly chunkBytes: number;
  private readonly chunkMs: number;
  private state: "recording" | "ended" | "stopped" = "recording";
  /** The open chunk's text (UTF-8, its length in UTF-16 units, its lines); at most one call's text past chunkBytes. */
  private readonly open = new LineBuffer();
  private openSince: number | null = null;
  private cancelTimer: (() => void) | null = null;
  private lastNow = 0;
  private seq = 0;
  private lastAt = 0;
  private outBytes = 0;
  private inBytes = 0;
  private link: Promise<string>;
  /** Seals run in order: each needs the previous link. */
  private sealing: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: TrackOptions,
    private readonly events: TrackEvents,
    /** The clock a time cut reads, and how it is scheduled (tests drive both). */
    private readonly clock: { now: () => number; schedule?: Schedule } = { now: Date.now },
  ) {
    this.chunkBytes = options.chunkBytes ?? RECORDING_CHUNK_BYTES;
    this.chunkMs = options.chunkMs ?? RECORDING_CHUNK_MS;
    this.link = genesis(options.recordingId);
    const now = options.startedAt;
    this.lastNow = now;
    this.writer = recordingWriter(options.format, now, options.keystrokes);
    this.cast = this.writer instanceof CastWriter ? this.writer : null;
    this.append([this.writer.header(options.cols, options.rows), ...this.writer.marker("start", now)], now);
  }

  output(bytes: Uint8Array, now: number): void {
    if (this.state !== "recording") return;
    now = this.at(now);
    const mark = this.mark();
    if (this.cast) this.cast.outputTo(bytes, now, this.open);
    else for (const line of this.writer.output(bytes, now)) this.open.line(line);
    const added = this.open.lines - mark.lines;
    this.makeRoom(mark, now);
    this.outBytes += bytes.byteLength;
    this.appended(added, now);
  }

  input(bytes: Uint8Array, now: number): void {
    if (this.state !== "recording") return;
    now = this.at(now);
    const mark = this.mark();
    for (const line of this.writer.input(bytes, now)) this.open.line(line);
    const added = this.open.lines - mark.lines;
    this.makeRoom(mark, now);
    this.inBytes += bytes.byteLength;
    this.appended(added, now);
  }

  resize(cols: number, rows: number, now: number): void {
    if (this.state !== "recording") return;
    now = this.at(now);
    this.append(this.writer.resize(cols, rows, now), now);
  }

  marker(label: string, now: number): void {
    if (this.state !== "recording") return;
    now = this.at(now);
    this.append(this.writer.marker(label, now), now);
  }

  end(reason: string, now: number): void {
    if (this.state !== "recording") return;
    now = this.at(now);
    const lines = [...this.writer.finish(), ...this.writer.marker(`end: ${reason}`, now)];
    this.state = "ended";
    for (const line of lines) this.open.line(line);
    this.cut(now, true);
  }

  stop(): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.open.take();
  }

  private get stopped(): boolean {
    return this.state === "stopped";
  }

  /** The relay's clock never goes back within a recording (a clock step, or events read out of order). */
  private at(now: number): number {
    this.lastNow = Math.max(this.lastNow, now);
    return this.lastNow;
  }

  private mark(): Mark {
    const { byteLength, units, lines } = this.open;
    return { byteLength, units, lines };
  }

  /**
   * A chunk never passes the size bound by more than one call's text: when this call's lines (appended
   * after `mark`) would take it past, the chunk is cut at `mark` and they open the next one.
   */
  private makeRoom(mark: Mark, now: number): void {
    if (mark.lines === 0) return;
    if (this.open.byteLength > this.chunkBytes) this.cut(now, false, mark);
  }

  private append(lines: string[], now: number): void {
    for (const line of lines) this.open.line(line);
    this.appended(lines.length, now);
  }

  /** After `added` lines: the open chunk's timer starts with its first line; cut when due. */
  private appended(added: number, now: number): void {
    if (added > 0 && this.openSince === null) {
      this.openSince = now;
      this.cancelTimer = (this.clock.schedule ?? defaultSchedule)(() => {
        if (this.state === "recording") this.cut(this.at(this.clock.now()), false);
      }, this.chunkMs);
    }
    if (this.open.byteLength >= this.chunkBytes || (this.openSince !== null && now - this.openSince >= this.chunkMs))
      this.cut(now, false);
  }

  /**
   * Closes the open chunk (synchronously: no line falls between two chunks) and seals it in the
   * background, in order. With `upTo`, only the text before it is cut; what follows opens the next chunk.
   */
  private cut(now: number, final: boolean, upTo?: Mark): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.openSince = null;
    if (this.open.lines === 0 && !final) return;
    const bySize = upTo !== undefined || this.open.byteLength >= this.chunkBytes;
    const raw = this.open.take(upTo, bySize ? (spares.pop() ?? new Uint8Array(this.open.bytes.length)) : undefined);
    // `at` never goes back within a recording, so upload order keeps seq order.
    this.lastAt = Math.max(this.lastAt, now);
    const cut: Cut = { seq: this.seq++, raw, out: this.outBytes, in: this.inBytes, final, at: this.lastAt };
    this.sealing = this.sealing.then(() => this.seal(cut));
  }

  private async seal(cut: Cut): Promise<void> {
    if (this.stopped) return;
    try {
      const { data, entry } = await sealChunkOffThread(this.options.recordingId, cut.seq, cut.raw, await this.link);
      this.link = Promise.resolve(entry.link);
      // Compressed and hashed: the text's bytes are read no more.
      if (cut.raw.buffer.byteLength >= this.chunkBytes && spares.length < SPARE_BUFFERS)
        spares.push(new Uint8Array(cut.raw.buffer, cut.raw.byteOffset));
      if (this.stopped) return;
      this.events.sealed({ seq: cut.seq, data, entry, out: cut.out, in: cut.in, final: cut.final, at: cut.at });
    } catch (err) {
      if (this.stopped) return;
      this.stop();
      this.events.failed(err);
    }
  }
}

const gzipAsync = promisify(gzip);
/** zlib's output pieces: one for most compressed chunks. */
const GZIP_CHUNK_SIZE = 128 * 1024;

/**
 * Deflate's effort for a chunk of `rawBytes`. A chunk cut at least half full is output flooding in (a build log, a
 * `cat`): it is compressed at level 3, which costs the connector about 40 % less CPU per MB than the default 6 (17 vs
 * 28 ms/MB of process CPU in `npm run bench:recorder`) for about 3 % more bytes on terminal text. A chunk cut by time
 * (an interactive session) keeps the default, where a few ms do not matter and every byte is stored for years.
 */
export const gzipLevel = (rawBytes: number): number => (rawBytes >= RECORDING_CHUNK_BYTES / 2 ? 3 : 6);

/** SHA-256 in hex (0.6 ms per MB here; WebCrypto's digest copies its input first). */
const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/**
 * `sealChunk` of recording/chain.ts, with node:zlib's gzip instead of web streams; the text is hashed while it
 * compresses. On the recorder thread gzip runs inline (the thread exists for this work, and libuv's pool is left to
 * the spool's fsyncs, which hold a pool thread 10–50 ms each); on the relay's thread (tests, tools) it runs on the
 * pool. The gzip member gets the chunk's FNAME as `gzipNamed` writes it. At the default level (small chunks) the
 * bytes are `sealChunk`'s; a large chunk is compressed at `gzipLevel`'s faster level, which any gzip reader (and the
 * verifier) reads the same.
 */
export async function sealChunkOffThread(
  recordingId: string,
  seq: number,
  raw: Uint8Array,
  prev: string,
): Promise<{ data: Uint8Array; entry: ChunkEntry }> {
  const opts = { chunkSize: GZIP_CHUNK_SIZE, level: gzipLevel(raw.byteLength) };
  const compressed = isMainThread ? gzipAsync(raw, opts) : Promise.resolve(gzipSync(raw, opts));
  const rawSha256 = sha256(raw);
  const plain = await compressed;
  // ID1 ID2 CM=8 and no optional fields: zlib's own header.
  if (plain[0] !== 0x1f || plain[1] !== 0x8b || plain[2] !== 8 || plain[3] !== 0)
    throw new Error("unexpected gzip header");
  const fname = Buffer.from(`${chunkName(recordingId, seq)}\0`, "utf8");
  const data = Buffer.concat([plain.subarray(0, 10), fname, plain.subarray(10)]);
  data[3] = 0x08; // FLG.FNAME
  const dataSha256 = sha256(data);
  const link = await nextLink(prev, seq, dataSha256, rawSha256);
  return {
    data,
    entry: { seq, size: data.byteLength, sha256: dataSha256, rawSize: raw.byteLength, rawSha256, link },
  };
}
