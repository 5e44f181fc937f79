// The room's recorder: asciicast lines go to the room's own SQLite storage as they happen, are cut
// into chunks (512 KiB / 10 s), compressed and hash-chained, then flushed to the object store with
// retries; a signed manifest closes the recording. The room calls start, output, input, resize,
// marker, end, and onTimer from its alarm; everything else is here.
import type { CryptoKey } from "jose";
import {
  type ChunkEntry,
  RECORDING_BUFFER_BYTES,
  RECORDING_CHUNK_BYTES,
  RECORDING_CHUNK_MS,
  type RecordingFormat,
  type RecordingManifest,
} from "../../protocol/index.ts";
import { chunkKey, genesis, manifestKey, recordingPrefix, sealChunk } from "./chain.ts";
import { flushInOrder, flushRetryDelay, uploadVerified } from "./flush.ts";
import { lastMsOfLine, type RecordingWriter, recordingWriter } from "./formats.ts";
import { signManifest } from "./manifest.ts";
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
  signingKey: () => Promise<CryptoKey>;
  db: D1Database;
  /** Raises an alert (audited) that recording is failing for a session. */
  alert: (state: { sessionId: string; userId: string; serverId: string }, detail: string) => Promise<void>;
  /** Bytes the room may hold unflushed (default RECORDING_BUFFER_BYTES, 64 MiB). */
  bufferLimit?: number;
};

/** The result of a write: "overflow" means a required recording cannot keep up: end the session. */
export type RecordResult = "ok" | "overflow";

const STATE_KEY = "rec";
/**
 * Event lines are written to the room's storage in one batch per 20 ms (or at once past 256 KiB),
 * not one write per frame: a pending timer keeps the object from hibernating, so only a crash of
 * the object itself can lose the last 20 ms. Writing per frame put every keystroke's echo behind a
 * storage commit (the output gate) and cost bulk output most of its throughput (docs/recording.md).
 */
const LINE_WRITE_MS = 20;
const LINE_WRITE_BYTES = 256 * 1024;

export class Recorder {
  private state: RecState | null | undefined;
  private writer: RecordingWriter | null = null;
  private openBytes = 0;
  private buffered = 0;
  private sealing: Promise<void> = Promise.resolve();
  private running: Promise<void> | null = null;
  /** Lines not yet in storage (bounded: LINE_WRITE_MS and LINE_WRITE_BYTES). */
  private unwritten: string[] = [];
  private unwrittenBytes = 0;
  private writeTimer: ReturnType<typeof setTimeout> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly deps: RecorderDeps) {
    const sql = deps.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS rec_open (n INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)");
    sql.exec(
      // A chunk covers the rec_open lines up to last_n until it is sealed; then data holds it (gzip).
      "CREATE TABLE IF NOT EXISTS rec_chunks (seq INTEGER PRIMARY KEY, last_n INTEGER NOT NULL, data BLOB, entry TEXT, flushed INTEGER NOT NULL DEFAULT 0)",
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
        const open = sql
          .exec<{ b: number | null }>(
            "SELECT SUM(length(line)) AS b FROM rec_open WHERE n > (SELECT COALESCE(MAX(last_n), 0) FROM rec_chunks)",
          )
          .one();
        const lines = sql.exec<{ b: number | null }>("SELECT SUM(length(line)) AS b FROM rec_open").one();
        const held = sql.exec<{ b: number | null }>("SELECT SUM(length(data)) AS b FROM rec_chunks").one();
        this.openBytes = open.b ?? 0;
        this.buffered = (lines.b ?? 0) + (held.b ?? 0);
        const last = sql.exec<{ line: string }>("SELECT line FROM rec_open ORDER BY n DESC LIMIT 1").toArray()[0];
        const format = this.state.format ?? "asciicast-v2";
        const lastMs = last ? lastMsOfLine(format, last.line) : 0;
        this.writer = recordingWriter(
          format,
          this.state.startedAt,
          this.state.keystrokes,
          Math.max(this.state.lastMs, lastMs),
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
        `UPDATE recordings SET status = 'sealed', ended_at = ?, chunks = ?, bytes = ?, complete = ?,
         retain_until = ? + 86400000 * (SELECT recording_retention_days FROM zones WHERE id = recordings.zone_id) WHERE id = ?`,
      )
      .bind(now, entries.length, bytes, s.stopped ? 0 : 1, now, s.recordingId)
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

  private live(): boolean {
    return !!this.state && !this.state.ended && !this.state.stopped && !!this.writer;
  }

  private append(lines: string[], now: number, force = false): RecordResult {
    const s = this.state!;
    if (lines.length === 0 || (s.stopped && !force)) return "ok";
    let size = 0;
    for (const line of lines) {
      this.unwritten.push(line);
      size += line.length;
    }
    this.unwrittenBytes += size;
    // Lines reach storage in batches: at most LINE_WRITE_MS later, or at once past LINE_WRITE_BYTES.
    if (this.unwrittenBytes >= LINE_WRITE_BYTES) this.writeLines();
    else this.writeTimer ??= setTimeout(() => this.writeLines(), LINE_WRITE_MS);
    this.openBytes += size;
    this.buffered += size;
    if (s.openSince === null) {
      s.openSince = now;
      void this.save();
    }
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
    const last = sql.exec<{ n: number | null }>("SELECT MAX(n) AS n FROM rec_open").one().n;
    const covered = sql.exec<{ n: number }>("SELECT COALESCE(MAX(last_n), 0) AS n FROM rec_chunks").one().n;
    if (last === null || last <= covered) return;
    const seq = sql.exec<{ n: number }>("SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM rec_chunks").one().n;
    sql.exec("INSERT INTO rec_chunks (seq, last_n) VALUES (?, ?)", seq, last);
    this.openBytes = 0;
    s.openSince = null;
    s.lastMs = this.writer?.lastMs ?? s.lastMs;
    // Flush now in the background; the retry time is the safety net should the object be evicted first.
    if (s.retryAt === null) s.retryAt = now + RECORDING_CHUNK_MS;
    void this.save();
    this.sealing = this.sealing.then(() => this.sealPending());
    // While the store is failing, the backoff decides when to try again, not each new chunk.
    if (s.attempts === 0) void this.flush(now);
  }

  /** Writes the batched lines, in order, in one storage transaction (one synchronous block). */
  private writeLines(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = null;
    if (this.unwritten.length === 0) return;
    const sql = this.deps.storage.sql;
    for (const line of this.unwritten) sql.exec("INSERT INTO rec_open (line) VALUES (?)", line);
    this.unwritten = [];
    this.unwrittenBytes = 0;
  }

  /** Compresses and links every cut chunk not yet sealed, in order (also after an eviction). */
  private async sealPending(): Promise<void> {
    const sql = this.deps.storage.sql;
    for (const row of sql
      .exec<{ seq: number; last_n: number }>("SELECT seq, last_n FROM rec_chunks WHERE entry IS NULL ORDER BY seq")
      .toArray()) {
      const lines = sql
        .exec<{ line: string }>("SELECT line FROM rec_open WHERE n <= ? ORDER BY n", row.last_n)
        .toArray()
        .map((l) => l.line);
      const text = lines.join("");
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
      sql.exec("DELETE FROM rec_open WHERE n <= ?", row.last_n);
      this.buffered += sealed.data.byteLength - text.length;
    }
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
