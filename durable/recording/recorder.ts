// The room's recorder: asciicast lines go to the room's own SQLite storage as they happen (20 ms
// batches, stored compressed), are cut into chunks (512 KiB / 10 s), compressed and hash-chained,
// then flushed to the object store with retries; a signed manifest closes the recording. The open
// chunk's text is also kept in memory, so sealing reads storage back only after an eviction. The room calls start, output, input, resize,
// marker, end, and onTimer from its alarm; everything else is here.
import type { CryptoKey } from "jose";
import {
  type ChunkEntry,
  RECORDING_CHUNK_BYTES,
  RECORDING_CHUNK_MS,
  type RecordingFormat,
  type RecordingManifest,
} from "../../protocol/index.ts";
import {
  chunkKey,
  deflateRaw,
  genesis,
  inflateRaw,
  manifestKey,
  recordingPrefix,
  sealChunk,
  sha256Hex,
} from "../../recording/chain.ts";
import { flushInOrder, flushRetryDelay, uploadVerified } from "./flush.ts";
import { type RecordingWriter, recordingWriter } from "../../recording/formats.ts";
import { signManifest } from "../../recording/manifest.ts";
import type { RecordingStore } from "./store.ts";

export type RecordingStart = {
  recordingId: string;
  sessionId: string;
  userId: string;
  username: string;
  serverId: string;
  zoneId: string;
  required: boolean;
  keystrokes: boolean;
  cols: number;
  rows: number;
  /** asciicast v2 (terminals, the default) or Guacamole (desktops). */
  format?: RecordingFormat;
};

/** What the recorder keeps in the room's storage besides the lines and chunks (small: no bytes). */
type RecState = RecordingStart & {
  startedAt: number;
  lastMs: number;
  openSince: number | null;
  /** An optional recording that hit the buffer limit stops here (the manifest says incomplete). */
  stopped: boolean;
  ended: { at: number; reason: string } | null;
  manifest: string | null;
  stored: boolean;
  attempts: number;
  retryAt: number | null;
};

export type RecorderDeps = {
  storage: DurableObjectStorage;
  store: () => Promise<RecordingStore>;
  /** The edge key that signs the manifest (with its kid, so the manifest names it). */
  signingKey: () => Promise<CryptoKey | { privateKey: CryptoKey; kid: string }>;
  db: D1Database;
  /** Raises an alert (audited) that recording is failing for a session. */
  alert: (state: { sessionId: string; userId: string; serverId: string }, detail: string) => Promise<void>;
  /** Bytes the room may hold unflushed (default RECORDING_BUFFER_BYTES, 64 MiB). */
  bufferLimit?: number;
};

/** The result of a write: "overflow" means a required recording cannot keep up: end the session. */
export type RecordResult = "ok" | "overflow";

const STATE_KEY = "rec";
const RECORDING_BUFFER_BYTES = 64 * 1024 * 1024;
/**
 * Event lines are written to the room's storage as one compressed row per 20 ms batch (or at once
 * past 256 KiB), not one write per frame: a pending timer keeps the object from hibernating, so only
 * a crash of the object itself can lose the last 20 ms. Writing per frame put every keystroke's echo
 * behind a storage commit (the output gate); writing the text uncompressed cost bulk output half its
 * throughput (docs/benchmarks.md). A batch row is only read back to seal a chunk after an eviction.
 */
const LINE_WRITE_MS = 20;
const LINE_WRITE_BYTES = 256 * 1024;
/**
 * A batch this large means output arrives at 3 MiB/s or more (bulk output, not a person at a
 * prompt): its chunk then fills within ~160 ms, and from such a batch on, the chunk's lines wait
 * in memory until the chunk is cut and sealed (its compressed form is stored then). Writing bulk
 * text to storage first cost half of bulk throughput (docs/benchmarks.md); what a crash of the
 * object could lose is at most the rest of one chunk (512 KiB, or 1 s of output: BULK_HOLD_MS),
 * always the chunk's tail: the stored batches of a chunk are a prefix of it, never with a gap.
 */
const BULK_BATCH_CHARS = 64 * 1024;
/** Lines held in memory are sealed (and so stored) at most this long after they arrived. */
const BULK_HOLD_MS = 1_000;

export class Recorder {
  private state: RecState | null | undefined;
  private writer: RecordingWriter | null = null;
  /** Characters in the open chunk, and how many of them came back from storage after an eviction. */
  private openBytes = 0;
  private openStored = 0;
  /** The open chunk's number: the chunks cut so far. */
  private openSeq = 0;
  private buffered = 0;
  private sealing: Promise<void> = Promise.resolve();
  private running: Promise<void> | null = null;
  /** Lines not yet in storage (bounded: LINE_WRITE_MS and LINE_WRITE_BYTES). */
  private unwritten: string[] = [];
  private unwrittenBytes = 0;
  private writeTimer: ReturnType<typeof setTimeout> | null = null;
  private queued: Promise<void> | null = null;
  /** The open chunk went past a bulk batch: its remaining lines wait in memory for the cut. */
  private openInMemory = false;
  private memoryCut: ReturnType<typeof setTimeout> | null = null;
  /** Batch writes in order (each is compressed first). */
  private persisting: Promise<void> = Promise.resolve();
  /** The open chunk's lines (bounded by RECORDING_CHUNK_BYTES), so a cut seals without reading them back. */
  private open: string[] = [];
  /**
   * Chunks cut and not yet sealed, by seq (bounded by the buffer limit; usually one): the lines this
   * instance saw, after those of the chunk's batches stored up to `storedUpTo` (a restored prefix).
   */
  private readonly cutText = new Map<number, { text: string; storedUpTo: number | null }>();
  /** After an eviction: the last batch row that was stored before this instance started. */
  private restoredUpTo: number | null = null;

  constructor(private readonly deps: RecorderDeps) {
    const sql = deps.storage.sql;
    sql.exec(
      // Batches of whole lines of chunk `seq`, deflate-raw; `chars` and `last_ms` say what they hold.
      "CREATE TABLE IF NOT EXISTS rec_batches (n INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, chars INTEGER NOT NULL, last_ms INTEGER NOT NULL, data BLOB NOT NULL)",
    );
    sql.exec(
      // A chunk is its batches until it is sealed; then data holds it (gzip) until it is flushed.
      "CREATE TABLE IF NOT EXISTS rec_chunks (seq INTEGER PRIMARY KEY, data BLOB, entry TEXT, flushed INTEGER NOT NULL DEFAULT 0)",
    );
  }

  /**
   * Opens the recording. With `probe`, first proves the object store takes a write: a required
   * recording that cannot be persisted refuses the session (returns false); an optional one goes
   * on with an alert.
   */
  async start(info: RecordingStart, now: number): Promise<boolean> {
    const probeKey = `${recordingPrefix(info.recordingId)}probe`;
    try {
      const store = await this.deps.store();
      await uploadVerified(store, probeKey, new TextEncoder().encode(String(now)));
      await store.delete([probeKey]);
    } catch (err) {
      console.warn(`recording ${info.recordingId}: store unavailable at start: ${(err as Error).message}`);
      if (info.required) return false;
      await this.deps.alert(info, "object store unavailable at session start; chunks wait in the room");
    }
    this.state = {
      ...info,
      startedAt: now,
      lastMs: 0,
      openSince: null,
      stopped: false,
      ended: null,
      manifest: null,
      stored: false,
      attempts: 0,
      retryAt: null,
    };
    await this.deps.db
      .prepare(
        "INSERT INTO recordings (id, session_id, user_id, server_id, zone_id, started_at, status, format) VALUES (?, ?, ?, ?, ?, ?, 'recording', ?)",
      )
      .bind(
        info.recordingId,
        info.sessionId,
        info.userId,
        info.serverId,
        info.zoneId,
        now,
        info.format ?? "asciicast-v2",
      )
      .run();
    await this.save();
    this.writer = recordingWriter(info.format ?? "asciicast-v2", now, info.keystrokes);
    this.append([this.writer.header(info.cols, info.rows), ...this.writer.marker("start", now)], now);
    return true;
  }

  /** Like ready(), without waiting, once the state is loaded: undefined until then. */
  readyNow(): boolean | undefined {
    return this.state === undefined ? undefined : !!this.state && !this.state.ended;
  }

  /** Loads the state after the object was evicted; false when this session records nothing (more). */
  async ready(): Promise<boolean> {
    if (this.state === undefined) {
      this.state = (await this.deps.storage.get<RecState>(STATE_KEY)) ?? null;
      if (this.state) {
        const sql = this.deps.storage.sql;
        this.openSeq = sql.exec<{ n: number }>("SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM rec_chunks").one().n;
        const open = sql
          .exec<{ b: number | null }>("SELECT SUM(chars) AS b FROM rec_batches WHERE seq = ?", this.openSeq)
          .one();
        const lines = sql
          .exec<{ b: number | null; ms: number | null }>("SELECT SUM(chars) AS b, MAX(last_ms) AS ms FROM rec_batches")
          .one();
        const held = sql.exec<{ b: number | null }>("SELECT SUM(length(data)) AS b FROM rec_chunks").one();
        this.openBytes = this.openStored = open.b ?? 0;
        this.restoredUpTo = sql.exec<{ n: number | null }>("SELECT MAX(n) AS n FROM rec_batches").one().n;
        this.buffered = (lines.b ?? 0) + (held.b ?? 0);
        // The open chunk's lines are in storage only now; its cut reads them back (sealPending).
        if (this.openBytes > 0) this.state.openSince ??= Date.now();
        this.writer = recordingWriter(
          this.state.format ?? "asciicast-v2",
          this.state.startedAt,
          this.state.keystrokes,
          Math.max(this.state.lastMs, lines.ms ?? 0),
        );
        // Chunks cut before an eviction but not yet sealed are sealed now.
        this.sealing = this.sealing.then(() => this.sealPending());
      }
    }
    return !!this.state && !this.state.ended;
  }

  output(bytes: Uint8Array, now: number): RecordResult {
    return this.live() ? this.append(this.writer!.output(bytes, now), now) : "ok";
  }

  input(bytes: Uint8Array, now: number): RecordResult {
    return this.live() ? this.append(this.writer!.input(bytes, now), now) : "ok";
  }

  resize(cols: number, rows: number, now: number): RecordResult {
    return this.live() ? this.append(this.writer!.resize(cols, rows, now), now) : "ok";
  }

  marker(label: string, now: number): RecordResult {
    return this.live() ? this.append(this.writer!.marker(label, now), now) : "ok";
  }

  /** When the room's alarm must next call onTimer (open chunk's time cut, or a flush retry). */
  nextAt(): number | null {
    const s = this.state;
    if (!s) return null;
    const times = [s.openSince !== null ? s.openSince + RECORDING_CHUNK_MS : null, s.retryAt].filter(
      (t): t is number => t !== null,
    );
    return times.length ? Math.min(...times) : null;
  }

  async onTimer(now: number): Promise<void> {
    if (!(await this.ready()) && !this.state) return;
    const s = this.state!;
    if (s.openSince !== null && now >= s.openSince + RECORDING_CHUNK_MS) this.cut(now);
    // The alarm fires at nextAt(): a retry (or the safety net after a cut) is due.
    await this.flush(now);
  }

  /** Closes the recording: the end marker, the last chunk, the signed manifest, then a flush. */
  async end(reason: string, now: number): Promise<void> {
    if (!(await this.ready())) return;
    const s = this.state!;
    this.append([...this.writer!.finish(), ...this.writer!.marker(`end: ${reason}`, now)], now, true);
    this.cut(now);
    await this.sealing;
    const entries = this.deps.storage.sql
      .exec<{ entry: string }>("SELECT entry FROM rec_chunks ORDER BY seq")
      .toArray()
      .map((r) => JSON.parse(r.entry) as ChunkEntry);
    const manifest: RecordingManifest = {
      v: 1,
      recordingId: s.recordingId,
      sessionId: s.sessionId,
      userId: s.userId,
      username: s.username,
      serverId: s.serverId,
      zoneId: s.zoneId,
      startedAt: s.startedAt,
      endedAt: now,
      endReason: reason,
      format: s.format ?? "asciicast-v2",
      compression: "gzip",
      complete: !s.stopped,
      chunks: entries,
      head: await this.head(),
    };
    s.manifest = await signManifest(manifest, await this.deps.signingKey());
    s.ended = { at: now, reason };
    await this.save();
    const bytes = entries.reduce((n, e) => n + e.size, 0);
    await this.deps.db
      .prepare(
        `UPDATE recordings SET status = 'sealed', ended_at = ?, chunks = ?, bytes = ?, complete = ?, manifest_sha256 = ?,
         retain_until = ? + 86400000 * (SELECT recording_retention_days FROM zones WHERE id = recordings.zone_id) WHERE id = ?`,
      )
      .bind(now, entries.length, bytes, s.stopped ? 0 : 1, await sha256Hex(s.manifest), now, s.recordingId)
      .run();
    await this.flush(now);
  }

  /** Uploads sealed chunks in order, then the manifest; stops at the first failure and schedules a retry. */
  flush(now: number): Promise<void> {
    // One flush runs at a time and at most one waits behind it (it picks up every chunk cut
    // meanwhile), so a slow store never builds a queue of flushes.
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.flushOnce(now).finally(() => {
        this.running = null;
      });
      return this.running;
    }
    this.queued = this.running.then(() => {
      this.queued = null;
      return this.flush(now);
    });
    return this.queued;
  }

  private async flushOnce(now: number): Promise<void> {
    await this.sealing;
    const s = this.state;
    if (!s || s.stored) return;
    const sql = this.deps.storage.sql;
    try {
      const store = await this.deps.store();
      const rows = sql
        .exec<{ seq: number; data: ArrayBuffer; entry: string }>(
          "SELECT seq, data, entry FROM rec_chunks WHERE flushed = 0 AND data IS NOT NULL ORDER BY seq",
        )
        .toArray();
      const pending = rows.map((row) => ({
        key: chunkKey(s.recordingId, row.seq),
        data: new Uint8Array(row.data),
        sha256: (JSON.parse(row.entry) as ChunkEntry).sha256,
        seq: row.seq,
      }));
      await flushInOrder(store, pending, (object) => {
        // Flushed and read back: the room's copy can go; the entry stays for the manifest.
        sql.exec("UPDATE rec_chunks SET data = NULL, flushed = 1 WHERE seq = ?", object.seq);
        this.buffered -= object.data.byteLength;
      });
      if (s.manifest) {
        await uploadVerified(store, manifestKey(s.recordingId), new TextEncoder().encode(s.manifest));
        s.stored = true;
        await this.deps.db.prepare("UPDATE recordings SET status = 'stored' WHERE id = ?").bind(s.recordingId).run();
        sql.exec("DELETE FROM rec_chunks");
      }
      s.attempts = 0;
      s.retryAt = null;
    } catch (err) {
      s.attempts += 1;
      s.retryAt = now + flushRetryDelay(s.attempts - 1);
      console.warn(`recording ${s.recordingId}: flush failed (attempt ${s.attempts}): ${(err as Error).message}`);
      if (s.attempts === 3) await this.deps.alert(s, "object store failing; chunks wait in the room and are retried");
    }
    await this.save();
  }

  /** Bytes waiting in the room (open lines and sealed chunks not yet flushed). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  get recordingId(): string | null {
    return this.state?.recordingId ?? null;
  }

  /**
   * For the live sessions list: "failing" while the object store refuses chunks (they wait in the room) or once an
   * optional recording stopped at its buffer limit; "not_recorded" when this session records nothing.
   */
  async health(): Promise<"recorded" | "not_recorded" | "failing"> {
    if (!(await this.ready())) return this.state?.stopped ? "failing" : "not_recorded";
    return this.state!.stopped || this.state!.attempts > 0 ? "failing" : "recorded";
  }

  private live(): boolean {
    return !!this.state && !this.state.ended && !this.state.stopped && !!this.writer;
  }

  private append(lines: string[], now: number, force = false): RecordResult {
    const s = this.state!;
    if (lines.length === 0 || (s.stopped && !force)) return "ok";
    let size = 0;
    for (const line of lines) {
      this.unwritten.push(line);
      this.open.push(line);
      size += line.length;
    }
    this.unwrittenBytes += size;
    // Lines reach storage in batches: at most LINE_WRITE_MS later, or at once past LINE_WRITE_BYTES.
    if (this.unwrittenBytes >= LINE_WRITE_BYTES) this.writeLines();
    else this.writeTimer ??= setTimeout(() => this.writeLines(), LINE_WRITE_MS);
    this.openBytes += size;
    this.buffered += size;
    // Not saved: after an eviction, ready() restarts the time cut from the wake-up.
    s.openSince ??= now;
    if (this.openBytes >= RECORDING_CHUNK_BYTES) this.cut(now);
    const limit = this.deps.bufferLimit ?? RECORDING_BUFFER_BYTES;
    if (this.buffered <= limit || force) return "ok";
    if (s.required) return "overflow";
    s.stopped = true;
    void this.save();
    void this.deps.alert(s, `recording buffer limit (${limit} bytes) reached; recording stopped`);
    return "ok";
  }

  /**
   * Closes the open chunk: one small row saying which lines it covers (synchronously, so no line
   * can fall between two chunks), then seals it in the background. The lines are not copied.
   */
  private cut(now: number): void {
    const s = this.state!;
    const sql = this.deps.storage.sql;
    this.writeLines();
    if (this.openBytes === 0) return;
    const seq = this.openSeq++;
    sql.exec("INSERT INTO rec_chunks (seq) VALUES (?)", seq);
    // The lines seen here, after the stored prefix when the chunk was open across an eviction.
    this.cutText.set(seq, { text: this.open.join(""), storedUpTo: this.openStored > 0 ? this.restoredUpTo : null });
    this.open = [];
    this.openBytes = this.openStored = 0;
    this.openInMemory = false;
    if (this.memoryCut) clearTimeout(this.memoryCut);
    this.memoryCut = null;
    s.openSince = null;
    s.lastMs = this.writer?.lastMs ?? s.lastMs;
    // Flush now in the background; the retry time is the safety net should the object be evicted first.
    if (s.retryAt === null) s.retryAt = now + RECORDING_CHUNK_MS;
    void this.save();
    this.sealing = this.sealing.then(() => this.sealPending());
    // While the store is failing, the backoff decides when to try again, not each new chunk.
    if (s.attempts === 0) void this.flush(now);
  }

  /** Writes the batched lines as one compressed row, after the batches before it. */
  private writeLines(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (this.unwritten.length === 0) return;
    if (this.openInMemory || this.unwrittenBytes >= BULK_BATCH_CHARS) {
      this.unwritten = [];
      this.unwrittenBytes = 0;
      this.openInMemory = true;
      // A pending timer also keeps the object from hibernating with lines only in memory.
      this.memoryCut ??= setTimeout(() => this.cut(Date.now()), BULK_HOLD_MS);
      return;
    }
    const text = this.unwritten.join("");
    const seq = this.openSeq;
    const lastMs = this.writer?.lastMs ?? 0;
    this.persisting = this.persisting
      .then(async () => {
        const data = await deflateRaw(new TextEncoder().encode(text));
        this.deps.storage.sql.exec(
          "INSERT INTO rec_batches (seq, chars, last_ms, data) VALUES (?, ?, ?, ?)",
          seq,
          text.length,
          lastMs,
          data,
        );
      })
      .catch((err) => console.error(`recording ${this.state?.recordingId}: batch not stored`, err));
    this.unwritten = [];
    this.unwrittenBytes = 0;
  }

  /** Compresses and links every cut chunk not yet sealed, in order (also after an eviction). */
  private async sealPending(): Promise<void> {
    const sql = this.deps.storage.sql;
    // Every batch of a cut chunk is stored before the chunk is sealed and its batches deleted.
    await this.persisting;
    for (const row of sql
      .exec<{ seq: number }>("SELECT seq FROM rec_chunks WHERE entry IS NULL ORDER BY seq")
      .toArray()) {
      // No memory of the chunk (cut before an eviction): all of it is in its stored batches.
      const cut = this.cutText.get(row.seq) ?? { text: "", storedUpTo: Number.MAX_SAFE_INTEGER };
      const text = cut.storedUpTo === null ? cut.text : (await this.storedText(row.seq, cut.storedUpTo)) + cut.text;
      this.cutText.delete(row.seq);
      // The previous link is read from storage, so a seal interrupted by an eviction resumes right.
      const sealed = await sealChunk(
        this.state!.recordingId,
        row.seq,
        new TextEncoder().encode(text),
        await this.head(),
      );
      sql.exec(
        "UPDATE rec_chunks SET data = ?, entry = ? WHERE seq = ?",
        sealed.data,
        JSON.stringify(sealed.entry),
        row.seq,
      );
      sql.exec("DELETE FROM rec_batches WHERE seq <= ?", row.seq);
      this.buffered += sealed.data.byteLength - text.length;
    }
  }

  /** A chunk's text from its batches stored up to row `upTo` (after an eviction lost the memory copy). */
  private async storedText(seq: number, upTo: number): Promise<string> {
    const rows = this.deps.storage.sql
      .exec<{ data: ArrayBuffer }>("SELECT data FROM rec_batches WHERE seq = ? AND n <= ? ORDER BY n", seq, upTo)
      .toArray();
    const decoder = new TextDecoder();
    let text = "";
    for (const row of rows) text += decoder.decode(await inflateRaw(new Uint8Array(row.data)));
    return text;
  }

  /** The last sealed chunk's link (the chain's head), or the recording's genesis. */
  private async head(): Promise<string> {
    const last = this.deps.storage.sql
      .exec<{ entry: string }>("SELECT entry FROM rec_chunks WHERE entry IS NOT NULL ORDER BY seq DESC LIMIT 1")
      .toArray()[0];
    return last ? (JSON.parse(last.entry) as ChunkEntry).link : genesis(this.state!.recordingId);
  }

  private save(): Promise<void> {
    return this.deps.storage.put(STATE_KEY, this.state);
  }
}
