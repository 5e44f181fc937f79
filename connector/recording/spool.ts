// The connector's recording spool: sealed, signed chunks on its own disk until the edge has them.
// Layout: <stateDir>/spool/<recordingId>/<seq 6 digits>.gz (the chunk) and .jws (its signed claims).
// Both files are written to temp names and fsynced, then renamed (the .jws last) and the directory
// fsynced once per group of chunks handed over together (`addAll`); a chunk is complete exactly when its
// .jws is there. A crash leaves at most debris (a temp file, a .gz without its .jws), removed on open.
// Bounded in bytes: past the bound `add` refuses.
import { open, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ChunkClaims, SPOOL_ALERT_FRACTION, SPOOL_MAX_BYTES, type SpoolHealth } from "../../protocol/index.ts";
import type { Log } from "../log.ts";

/** `add` refused a chunk: the spool would pass its byte bound. */
export class SpoolFull extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`spool full: ${bytes} of ${limit} bytes held`);
    this.name = "SpoolFull";
  }
}

/** A sealed, signed chunk handed to the spool. */
export type SpoolChunk = { seq: number; data: Uint8Array; jws: string; claims: ChunkClaims };

/** A complete chunk waiting for upload; `bytes` is both files' size on disk. */
export type SpooledChunk = { rid: string; seq: number; at: number; final: boolean; bytes: number };

export type SpoolOptions = {
  /** Default SPOOL_MAX_BYTES (1 GiB). */
  maxBytes?: number;
  log?: Log;
};

/** Recording ids are the grant's UUIDs; anything else never names a directory. */
const RECORDING_ID = /^[A-Za-z0-9-]{1,64}$/;
const CHUNK_FILE = /^(\d{6,})\.(gz|jws)$/;
const TMP = ".tmp";

const seqName = (seq: number) => String(seq).padStart(6, "0");
/** Upload order: oldest cut first; a recording's `at` never decreases with its seq, so its chunks stay in order. */
const before = (a: SpooledChunk, b: SpooledChunk) =>
  a.at !== b.at ? a.at < b.at : a.rid !== b.rid ? a.rid < b.rid : a.seq < b.seq;

export class Spool {
  /** Bytes on disk plus bytes reserved by adds in flight, so two adds never both pass the bound. */
  private held = 0;
  /** Complete chunks in upload order (usually appended at the end and taken from the front). */
  private readonly pending: SpooledChunk[] = [];
  /**
   * Per recording: chunks held, and whether it is closed (its final chunk left, or it was found at open:
   * no session outlives the process). A closed recording's directory goes once it is empty.
   */
  private readonly recordings = new Map<string, { chunks: number; closed: boolean }>();
  private high = false;
  /** Called after each chunk is complete on disk (the uploader's kick). */
  onAdded?: () => void;

  private constructor(
    readonly dir: string,
    readonly rejectedDir: string,
    readonly limit: number,
    private readonly log: Log,
  ) {}

  /** Opens the spool under `stateDir`, removing a crash's debris and indexing every complete chunk. */
  static async open(stateDir: string, options: SpoolOptions = {}): Promise<Spool> {
    const spool = new Spool(
      join(stateDir, "spool"),
      join(stateDir, "spool-rejected"),
      options.maxBytes ?? SPOOL_MAX_BYTES,
      options.log ?? (() => {}),
    );
    await mkdir(spool.dir, { recursive: true, mode: 0o700 });
    for (const entry of await readdir(spool.dir, { withFileTypes: true })) {
      if (entry.isDirectory() && RECORDING_ID.test(entry.name)) await spool.recover(entry.name);
      else if (entry.name.endsWith(TMP)) await rm(join(spool.dir, entry.name), { force: true });
    }
    spool.checkAlert();
    return spool;
  }

  /** What the health report says of the spool (the uploader adds failingSince). */
  stats(): Omit<SpoolHealth, "failingSince"> {
    return { bytes: this.held, limit: this.limit, chunks: this.pending.length, oldestAt: this.pending[0]?.at ?? null };
  }

  /** No room left: a required recording does not start. */
  full(): boolean {
    return this.held >= this.limit;
  }

  /** Whether a file can be written and fsynced in the spool now (checked at each recorded session's start). */
  async writable(): Promise<boolean> {
    const probe = join(this.dir, `.probe-${process.pid}-${Date.now()}${TMP}`);
    try {
      await writeDurable(probe, new Uint8Array(1));
      await unlink(probe);
      return true;
    } catch {
      await rm(probe, { force: true }).catch(() => {});
      return false;
    }
  }

  /** The oldest complete chunk, the next to upload. */
  next(): SpooledChunk | undefined {
    return this.pending[0];
  }

  /** Chunks in upload order (a copy). */
  list(): SpooledChunk[] {
    return [...this.pending];
  }

  /** Writes one chunk durably. Throws SpoolFull past the bound; any other error is the disk's. */
  async add(rid: string, seq: number, data: Uint8Array, jws: string, claims: ChunkClaims): Promise<void> {
    await this.addAll(rid, [{ seq, data, jws, claims }]);
  }

  /**
   * Writes consecutive chunks of one recording durably, in order, as one group commit: every file's
   * contents are written and fsynced (all at once), then the names go in order (each chunk's `.gz`, then
   * its `.jws`), then one directory fsync makes them all durable before any counts as spooled. At a bulk
   * stream's rate the recorder cuts chunks faster than one fsync round per chunk took on a busy disk;
   * the fsyncs of a group overlap, and the directory's is paid once. A crash before that fsync leaves
   * none of the group spooled (debris, or a chunk after a lost one: the chain stops at the hole, the
   * honest gap). Chunks up to the byte bound are written; past it the rest are refused with SpoolFull
   * after those before it are durable, as separate adds would. Any other error: none of the group stays.
   */
  async addAll(rid: string, chunks: SpoolChunk[]): Promise<void> {
    if (!RECORDING_ID.test(rid)) throw new Error("chunk names disagree");
    for (const [i, chunk] of chunks.entries())
      if (chunk.claims.rid !== rid || chunk.claims.seq !== chunk.seq || (i > 0 && chunk.seq !== chunks[i - 1]!.seq + 1))
        throw new Error("chunk names disagree");
    const group: { chunk: SpoolChunk; signed: Uint8Array; bytes: number; base: string }[] = [];
    let refused: SpoolFull | undefined;
    const dir = join(this.dir, rid);
    for (const chunk of chunks) {
      const signed = new TextEncoder().encode(chunk.jws);
      const bytes = chunk.data.byteLength + signed.byteLength;
      if (this.held + bytes > this.limit) {
        refused = new SpoolFull(this.held, this.limit);
        break;
      }
      this.held += bytes;
      group.push({ chunk, signed, bytes, base: join(dir, seqName(chunk.seq)) });
    }
    if (group.length > 0) {
      try {
        if (!this.recordings.has(rid)) {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          await fsyncDir(this.dir);
          this.recordings.set(rid, { chunks: 0, closed: false });
        }
        // Every file's contents are on disk before any name is; each .jws is named after its .gz, and
        // one directory fsync makes all the names durable before a chunk counts as spooled.
        await Promise.all(
          group.flatMap(({ chunk, signed, base }) => [
            writeSynced(`${base}.gz${TMP}`, chunk.data),
            writeSynced(`${base}.jws${TMP}`, signed),
          ]),
        );
        for (const { base } of group) {
          await rename(`${base}.gz${TMP}`, `${base}.gz`);
          await rename(`${base}.jws${TMP}`, `${base}.jws`);
        }
        await fsyncDir(dir);
      } catch (err) {
        for (const { bytes } of group) this.held -= bytes;
        // Completeness markers first, so a crash while cleaning up leaves only debris.
        await Promise.all(group.map(({ base }) => rm(`${base}.jws`, { force: true })));
        await Promise.all(
          group.flatMap(({ base }) =>
            [`${base}.gz${TMP}`, `${base}.jws${TMP}`, `${base}.gz`].map((f) => rm(f, { force: true })),
          ),
        );
        throw err;
      }
      for (const { chunk, bytes } of group)
        this.index({ rid, seq: chunk.seq, at: chunk.claims.at, final: chunk.claims.final, bytes });
      this.checkAlert();
      for (let i = 0; i < group.length; i++) this.onAdded?.();
    }
    if (refused) throw refused;
  }

  /** A chunk's gzip bytes and its signed claims, for the upload. */
  async read(chunk: SpooledChunk): Promise<{ data: Uint8Array<ArrayBuffer>; jws: string }> {
    const base = join(this.dir, chunk.rid, seqName(chunk.seq));
    const [data, jws] = await Promise.all([readFile(`${base}.gz`), readFile(`${base}.jws`, "utf8")]);
    return { data, jws };
  }

  /** The edge has the chunk: its files go (the .jws first, so a crash in between leaves only debris). */
  async remove(chunk: SpooledChunk): Promise<void> {
    const base = join(this.dir, chunk.rid, seqName(chunk.seq));
    await rm(`${base}.jws`, { force: true });
    await rm(`${base}.gz`, { force: true });
    await this.forget(chunk);
  }

  /**
   * The edge refuses the chunk for good: its files move to spool-rejected/<recordingId>/ for forensics.
   * Not counted against the bound (rare, and an admin's to clear).
   */
  async reject(chunk: SpooledChunk): Promise<void> {
    const from = join(this.dir, chunk.rid);
    const to = join(this.rejectedDir, chunk.rid);
    await mkdir(to, { recursive: true, mode: 0o700 });
    for (const ext of ["jws", "gz"]) {
      const name = `${seqName(chunk.seq)}.${ext}`;
      await rename(join(from, name), join(to, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    }
    await this.forget(chunk);
  }

  /** Drops a chunk from the index and the count; a closed recording's empty directory goes. */
  private async forget(chunk: SpooledChunk): Promise<void> {
    const i = this.pending.indexOf(chunk);
    if (i < 0) return;
    this.pending.splice(i, 1);
    this.held -= chunk.bytes;
    this.checkAlert();
    const recording = this.recordings.get(chunk.rid);
    if (!recording) return;
    recording.chunks--;
    if (chunk.final) recording.closed = true;
    if (recording.closed && recording.chunks === 0) {
      this.recordings.delete(chunk.rid);
      await rmdir(join(this.dir, chunk.rid)).catch(() => {});
    }
  }

  private index(chunk: SpooledChunk): void {
    let i = this.pending.length;
    while (i > 0 && before(chunk, this.pending[i - 1]!)) i--;
    this.pending.splice(i, 0, chunk);
    const recording = this.recordings.get(chunk.rid);
    if (recording) recording.chunks++;
  }

  /**
   * One recording's directory after a restart: temp files and half-written chunks are removed; a chunk
   * whose claims do not read (or name another chunk) moves to spool-rejected; the rest is indexed.
   */
  private async recover(rid: string): Promise<void> {
    const dir = join(this.dir, rid);
    const files = new Map<number, Set<string>>();
    for (const name of await readdir(dir)) {
      const m = CHUNK_FILE.exec(name);
      if (!m) {
        if (name.endsWith(TMP)) await rm(join(dir, name), { force: true });
        continue;
      }
      const seq = Number(m[1]);
      if (!files.has(seq)) files.set(seq, new Set());
      files.get(seq)!.add(m[2]!);
    }
    this.recordings.set(rid, { chunks: 0, closed: true });
    for (const [seq, kinds] of files) {
      const base = join(dir, seqName(seq));
      if (!kinds.has("gz") || !kinds.has("jws")) {
        this.log("recording.spool_debris", { recording: rid, seq });
        await Promise.all([rm(`${base}.gz`, { force: true }), rm(`${base}.jws`, { force: true })]);
        continue;
      }
      const claims = readClaims(await readFile(`${base}.jws`, "utf8"));
      const [gz, jws] = await Promise.all([stat(`${base}.gz`), stat(`${base}.jws`)]);
      const chunk = { rid, seq, at: claims?.at ?? 0, final: claims?.final ?? false, bytes: gz.size + jws.size };
      if (claims?.rid !== rid || claims.seq !== seq) {
        this.log("recording.chunk_unreadable", { recording: rid, seq });
        await this.reject(chunk);
        continue;
      }
      this.held += chunk.bytes;
      this.index(chunk);
    }
    if (this.recordings.get(rid)?.chunks === 0) {
      this.recordings.delete(rid);
      await rmdir(dir).catch(() => {});
    }
  }

  /** Logs once each time the spool passes SPOOL_ALERT_FRACTION of its bound (an error in the health report). */
  private checkAlert(): void {
    const high = this.held >= this.limit * SPOOL_ALERT_FRACTION;
    if (high && !this.high)
      this.log("recording.spool_high", {
        reason: `${Math.floor((this.held / this.limit) * 100)}%`,
        bytes: this.held,
        limit: this.limit,
      });
    this.high = high;
  }
}

/** The claims inside a spooled .jws (read from our own disk, still checked), or null. */
function readClaims(jws: string): ChunkClaims | null {
  try {
    const payload = jws.split(".")[1] ?? "";
    return ChunkClaims.parse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  } catch {
    return null;
  }
}

/** Temp name, write, fsync, rename, then fsync the directory: after this the file survives a crash. */
async function writeDurable(path: string, data: Uint8Array): Promise<void> {
  const tmp = path.endsWith(TMP) ? path : `${path}${TMP}`;
  await writeSynced(tmp, data);
  if (tmp !== path) await rename(tmp, path);
  await fsyncDir(join(path, ".."));
}

/** Writes a new file and fsyncs its contents (its name is the caller's to make durable). */
async function writeSynced(path: string, data: Uint8Array): Promise<void> {
  const file = await open(path, "w", 0o600);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
