// The recording of one session, made at the source: the relay hands it what it reads from the target,
// what it writes to it, resizes and markers; it appends the recording's text (asciicast v2 or .guac)
// and cuts it into chunks (RECORDING_CHUNK_BYTES of text, or RECORDING_CHUNK_MS after a chunk's first
// line). Each cut chunk is sealed (gzip, hashes, the chain's link), its claims signed with the
// connector's key, and written to the spool, in order, off the relay path. The open chunk lives in
// memory only: what a crash loses is the honest gap (no fsync per frame).
//
// Cost on the relay's thread (bench/recorder-cost.ts, docs/benchmarks.md): the open chunk is UTF-8
// bytes, and asciicast output is decoded, escaped and appended from the relayed bytes in one pass (no
// string per frame, no join, no encode at the cut); gzip runs on libuv's thread pool.
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { CompactSign, type CryptoKey, calculateJwkThumbprint, importJWK, type JWK } from "jose";
import {
  type ChunkEntry,
  CHUNK_TYP,
  ChunkClaims,
  CONNECTOR_TOKEN_ALG,
  RECORDING_CHUNK_BYTES,
  RECORDING_CHUNK_MS,
  type RecordingFormat,
} from "../../protocol/index.ts";
import { CastWriter, LineBuffer } from "../../recording/asciicast.ts";
import { chunkName, genesis, nextLink } from "../../recording/chain.ts";
import { type RecordingWriter, recordingWriter } from "../../recording/formats.ts";
import { publicJwk } from "../keys.ts";
import { takeSealed } from "./handover.ts";
import { type SpoolChunk, SpoolFull } from "./spool.ts";

/** Why a recording stopped before its end: the spool refused a chunk, or writing it failed. */
export type RecordingFailure = "spool_full" | "spool_error";

/** What the recorder needs of the spool: `addAll`, when there, takes consecutive chunks as one group commit. */
export type ChunkSink = {
  add(rid: string, seq: number, data: Uint8Array, jws: string, claims: ChunkClaims): Promise<void>;
  addAll?(rid: string, chunks: SpoolChunk[]): Promise<void>;
};

/** Signs a chunk's claims as a compact JWS (CHUNK_TYP). */
export type ChunkSign = (claims: ChunkClaims) => Promise<string>;

/**
 * Chunks cut but not yet in the spool, in characters of text: 2 MiB (four chunks). Past it the
 * recorder is `behind` and the session pauses its target until the spool catches up, so a disk
 * slower than the relay slows the remote program instead of growing memory.
 */
export const RECORDER_BACKLOG_CHARS = 4 * RECORDING_CHUNK_BYTES;

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
  /** Cut bounds: RECORDING_CHUNK_BYTES of text (UTF-16 units), RECORDING_CHUNK_MS after the first line. */
  chunkBytes?: number;
  chunkMs?: number;
  backlogChars?: number;
  /** Runs `fn` after `ms` and returns its cancel (setTimeout, unref'd, unless a test drives time). */
  schedule?: (fn: () => void, ms: number) => () => void;
  /** The recording stopped: the spool refused a chunk. Nothing more is recorded. */
  onFailure?: (failure: RecordingFailure) => void;
  /** The backlog went back under its bound: a paused target may run again. */
  onDrain?: () => void;
  /** Output bytes as they are recorded (the uploader gives way to a busy relay: activity.ts). */
  noteOutput?: (bytes: number) => void;
};

/** Free text buffers kept for the next cuts: as many as a full backlog's chunks. */
const SPARE_BUFFERS = 4;

const defaultSchedule = (fn: () => void, ms: number) => {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** A cut chunk: its text as UTF-8, and its length in UTF-16 units (what the backlog counts). */
type Cut = { seq: number; raw: Uint8Array; units: number; out: number; in: number; final: boolean; at: number };

/** A cut chunk on its way to the spool: sealed (or failed to seal) in order, handed over in groups. */
type Pending = { cut: Cut; settled?: Promise<void>; sealed?: Sealed; failed?: boolean };
type Sealed = { data: Uint8Array; jws: string; claims: ChunkClaims };

/** Where the open chunk stood before a call's lines were appended. */
type Mark = { byteLength: number; units: number; lines: number };

export class SessionRecorder {
  private readonly writer: RecordingWriter;
  /** The asciicast writer, whose output is appended from the relayed bytes directly. */
  private readonly cast: CastWriter | null;
  private readonly now: () => number;
  private readonly chunkBytes: number;
  private readonly chunkMs: number;
  private state: "recording" | "ended" | "failed" = "recording";
  /** The open chunk's text (UTF-8, its length in UTF-16 units, its lines); at most one call's text past chunkBytes. */
  private readonly open = new LineBuffer();
  /**
   * Sealed chunks' text buffers, free again: the next cuts' open chunks (no 1 MiB allocation per chunk).
   * At most SPARE_BUFFERS; a group handed to the spool frees several at once.
   */
  private readonly spares: Uint8Array[] = [];
  private openSince: number | null = null;
  private cancelTimer: (() => void) | null = null;
  private seq = 0;
  private lastAt = 0;
  /** The recording's time zero (the writer's start), on this recorder's clock. */
  private readonly startedAt: number;
  /** Relayed bytes so far: output (the session's output offset) and input. */
  private outBytes = 0;
  private inBytes = 0;
  /** Characters cut and not yet spooled. */
  private backlog = 0;
  private link: Promise<string>;
  /** Seals run in order (each needs the previous link); spool writes run in order behind them. */
  private sealing: Promise<unknown> = Promise.resolve();
  private spooling: Promise<void> = Promise.resolve();
  /**
   * Cut chunks not yet handed to the spool, oldest first. While the spool writes one group, the chunks
   * sealed meanwhile wait here and go to it together next (one fsync round for all: spool.ts `addAll`).
   */
  private readonly pending: Pending[] = [];
  private settle!: () => void;
  /** Resolves once the last chunk is in the spool (or the recording failed). */
  readonly closed = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(private readonly options: SessionRecorderOptions) {
    this.now = options.now ?? Date.now;
    this.chunkBytes = options.chunkBytes ?? RECORDING_CHUNK_BYTES;
    this.chunkMs = options.chunkMs ?? RECORDING_CHUNK_MS;
    this.link = genesis(options.recordingId);
    const now = this.now();
    this.startedAt = now;
    this.writer = recordingWriter(options.format, now, options.keystrokes);
    this.cast = this.writer instanceof CastWriter ? this.writer : null;
    this.append([this.writer.header(options.cols, options.rows), ...this.writer.marker("start", now)], now);
  }

  get recordingId(): string {
    return this.options.recordingId;
  }

  /** Where the recording's clock is now, in ms since its start (what the next event would be stamped; never earlier). */
  get elapsedMs(): number {
    return Math.max(this.cast?.lastMs ?? 0, this.now() - this.startedAt);
  }

  /** Cut chunks wait for the spool beyond the backlog bound: pause the target. */
  get behind(): boolean {
    return this.backlog > (this.options.backlogChars ?? RECORDER_BACKLOG_CHARS);
  }

  /** Output read from the target, as read. */
  output(bytes: Uint8Array): void {
    if (this.state !== "recording") return;
    const now = this.now();
    const mark = this.mark();
    if (this.cast) this.cast.outputTo(bytes, now, this.open);
    else for (const line of this.writer.output(bytes, now)) this.open.line(line);
    const added = this.open.lines - mark.lines;
    this.makeRoom(mark, now);
    this.outBytes += bytes.byteLength;
    this.options.noteOutput?.(bytes.byteLength);
    this.appended(added, now);
  }

  /** Input written to the target (recorded per policy; always counted). */
  input(bytes: Uint8Array): void {
    if (this.state !== "recording") return;
    const now = this.now();
    const mark = this.mark();
    for (const line of this.writer.input(bytes, now)) this.open.line(line);
    const added = this.open.lines - mark.lines;
    this.makeRoom(mark, now);
    this.inBytes += bytes.byteLength;
    this.appended(added, now);
  }

  resize(cols: number, rows: number): void {
    if (this.state !== "recording") return;
    const now = this.now();
    this.append(this.writer.resize(cols, rows, now), now);
  }

  marker(label: string): void {
    if (this.state !== "recording") return;
    const now = this.now();
    this.append(this.writer.marker(label, now), now);
  }

  /** The end: the writer's last lines, the `end: <reason>` marker, and the last chunk, marked final. */
  end(reason: string): void {
    if (this.state !== "recording") return;
    const now = this.now();
    const lines = [...this.writer.finish(), ...this.writer.marker(`end: ${reason}`, now)];
    this.state = "ended";
    for (const line of lines) this.open.line(line);
    this.cut(now, true);
    void this.spooling.then(this.settle);
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
    if (this.open.units > this.chunkBytes) this.cut(now, false, mark);
  }

  private append(lines: string[], now: number): void {
    for (const line of lines) this.open.line(line);
    this.appended(lines.length, now);
  }

  /** After `added` lines: the open chunk's timer starts with its first line; cut when due. */
  private appended(added: number, now: number): void {
    if (added > 0 && this.openSince === null) {
      this.openSince = now;
      this.cancelTimer = (this.options.schedule ?? defaultSchedule)(() => {
        if (this.state === "recording") this.cut(this.now(), false);
      }, this.chunkMs);
    }
    if (this.open.units >= this.chunkBytes || (this.openSince !== null && now - this.openSince >= this.chunkMs))
      this.cut(now, false);
  }

  /**
   * Closes the open chunk (synchronously: no line falls between two chunks) and seals it in the
   * background. With `upTo`, only the text before it is cut; what follows opens the next chunk.
   */
  private cut(now: number, final: boolean, upTo?: Mark): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.openSince = null;
    if (this.open.lines === 0 && !final) return;
    const units = upTo?.units ?? this.open.units;
    const raw = this.open.take(upTo, this.spares.pop());
    // `at` never goes back within a recording (a clock step), so upload order keeps seq order.
    this.lastAt = Math.max(this.lastAt, now);
    const cut: Cut = { seq: this.seq++, raw, units, out: this.outBytes, in: this.inBytes, final, at: this.lastAt };
    this.backlog += units;
    const entry: Pending = { cut };
    const sealed = this.sealing.then(() => this.seal(cut));
    // When a seal settles, the entry says so before anything awaiting it runs.
    entry.settled = sealed.then(
      (chunk) => {
        entry.sealed = chunk;
      },
      () => {
        entry.failed = true;
      },
    );
    this.sealing = entry.settled;
    this.pending.push(entry);
    this.spooling = this.spooling.then(() => this.store(entry));
  }

  /** Compresses, links and signs one chunk (in order: the link is the previous chunk's). */
  private async seal(cut: Cut): Promise<Sealed> {
    if (this.state === "failed") throw new Error("recording stopped");
    const { recordingId: rid, sessionId: sid } = this.options;
    const sealed = await sealChunkOffThread(rid, cut.seq, cut.raw, await this.link);
    this.link = Promise.resolve(sealed.entry.link);
    const { seq, size, sha256, rawSize, rawSha256, link } = sealed.entry;
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
    return { data: sealed.data, jws: await this.options.sign(claims), claims };
  }

  /**
   * Hands `entry`, and the chunks sealed after it by now, to the spool as one group; a refusal stops the
   * recording (the chain cannot skip a chunk). Runs in cut order; an entry already handed over with an
   * earlier group has nothing left to do.
   */
  private async store(entry: Pending): Promise<void> {
    if (!this.pending.includes(entry)) return;
    await entry.settled;
    const { group, failed } = takeSealed(this.pending);
    const units = [...group, ...(failed ? [failed] : [])].reduce((sum, e) => sum + e.cut.units, 0);
    try {
      // Compressed and hashed: the texts' bytes are read no more.
      for (const { cut } of group)
        if (this.spares.length < SPARE_BUFFERS) this.spares.push(new Uint8Array(cut.raw.buffer, cut.raw.byteOffset));
      if (group.length > 0 && this.state !== "failed") await this.handOver(group);
      if (failed) throw new Error("seal failed");
    } catch (err) {
      this.fail(err instanceof SpoolFull ? "spool_full" : "spool_error");
    } finally {
      const wasBehind = this.behind;
      this.backlog -= units;
      if (wasBehind && !this.behind && this.state === "recording") this.options.onDrain?.();
    }
  }

  private async handOver(group: Pending[]): Promise<void> {
    const { spool } = this.options;
    const chunks = group.map(({ cut, sealed }) => ({ seq: cut.seq, ...sealed! }));
    if (spool.addAll) await spool.addAll(this.recordingId, chunks);
    else for (const c of chunks) await spool.add(this.recordingId, c.seq, c.data, c.jws, c.claims);
  }

  private fail(failure: RecordingFailure): void {
    if (this.state === "failed") return;
    this.state = "failed";
    this.cancelTimer?.();
    this.open.take();
    this.settle();
    try {
      this.options.onFailure?.(failure);
    } catch {
      // The session's handler guards itself; nothing here may break the spool chain.
    }
  }
}

const gzipAsync = promisify(gzip);
/** zlib's output pieces: one for most compressed chunks (fewer callbacks on the relay's thread). */
const GZIP_CHUNK_SIZE = 128 * 1024;

/**
 * Deflate's effort for a chunk of `rawBytes`. A chunk cut at least half full is output flooding in (a build log, a
 * `cat`): it is compressed at level 3, which costs the connector about 40 % less CPU per MB than the default 6 (17 vs
 * 28 ms/MB of process CPU in `npm run bench:recorder`) for about 3 % more bytes on terminal text. A chunk cut by time
 * (an interactive session) keeps the default, where a few ms do not matter and every byte is stored for years.
 */
export const gzipLevel = (rawBytes: number): number => (rawBytes >= RECORDING_CHUNK_BYTES / 2 ? 3 : 6);

/**
 * SHA-256 in hex, on this thread: 0.6 ms per MB here, where WebCrypto's digest cost this thread
 * 3 ms per MB (it copies its input before hashing on the thread pool).
 */
const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/**
 * `sealChunk` of recording/chain.ts, with node:zlib's gzip on libuv's thread pool instead of web streams on the
 * relay's thread; the text is hashed while it compresses. The gzip member gets the chunk's FNAME as `gzipNamed`
 * writes it. At the default level (small chunks) the bytes are `sealChunk`'s; a large chunk is compressed at
 * `gzipLevel`'s faster level, which any gzip reader (and the verifier) reads the same.
 */
export async function sealChunkOffThread(
  recordingId: string,
  seq: number,
  raw: Uint8Array,
  prev: string,
): Promise<{ data: Uint8Array; entry: ChunkEntry }> {
  const compressed = gzipAsync(raw, { chunkSize: GZIP_CHUNK_SIZE, level: gzipLevel(raw.byteLength) });
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
