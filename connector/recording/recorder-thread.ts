// The connector's recorder thread: every recorded session's track (track.ts) runs on one worker thread, so the
// per-byte work of recording (decoding, JSON-escaping, cutting, hashing, gzip) never holds up the relay's event
// loop, which is the connector's bottleneck on bulk output. The relay thread's recording cost per MB fell from 2.9
// to 0.75 ms on bulk output and from 5.9 to 1.2 ms on mixed terminal text (`npm run bench:recorder`); the work
// itself still needs a core (docs/benchmarks.md, "Why it took larger chunks").
//
// The relay's side is thin: output and input that passed within 4 ms go over as one message, in order (one copy,
// transferred), and every other event first sends what was gathered before it, so the thread sees the session in
// the order it happened. Each sealed chunk comes back to its SessionRecorder, which signs and spools it. The first
// recorded session starts the thread; a thread that dies fails the recordings it held (their sessions end as policy
// says) and the next recording starts a new one.
import { Worker } from "node:worker_threads";
import { z } from "zod";
import { ChunkEntry } from "../../protocol/index.ts";
import type { SealedCut, Track, TrackEvents, TrackOptions } from "./track.ts";

/** Relay's bytes, in the order they passed: output read from the target, input written to it. */
export type BytesEvent = { op: "output" | "input"; bytes: Uint8Array; now: number };

/** Relay → thread. */
export type ToRecorder =
  | { op: "open"; id: number; options: TrackOptions }
  | { op: "bytes"; id: number; events: BytesEvent[] }
  | { op: "resize"; id: number; cols: number; rows: number; now: number }
  | { op: "marker"; id: number; label: string; now: number }
  | { op: "end"; id: number; reason: string; now: number }
  | { op: "stop"; id: number };

/** Thread → relay, checked on arrival like any message crossing a boundary. */
export const FromRecorder = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("sealed"),
    id: z.number().int(),
    cut: z.object({
      seq: z.number().int().min(0),
      data: z.custom<Uint8Array>((v) => v instanceof Uint8Array),
      entry: ChunkEntry,
      out: z.number().int().min(0),
      in: z.number().int().min(0),
      final: z.boolean(),
      at: z.number(),
    }),
  }),
  z.object({ op: z.literal("failed"), id: z.number().int(), message: z.string() }),
  z.object({ op: z.literal("ready") }),
]);
export type FromRecorder = z.infer<typeof FromRecorder>;

/**
 * Output and input go over every BATCH_MS, in the order they passed, or at once past BATCH_BYTES: one message per
 * socket read cost the relay's thread ≈ 28 µs each (0.8 ms per MB of bulk output in 32 KiB reads), and one per
 * keystroke woke the recorder thread on the echo's path. Output reads with nothing between them are one event,
 * stamped with the last read's time: lines 4 ms apart are merged, which no replay can show. Input keeps its own time.
 */
const BATCH_BYTES = 256 * 1024;
const BATCH_MS = 4;

/** The worker's entry: the TypeScript source under tsx (development, tests), the bundled file in the package. */
function startWorker(): Worker {
  const source = new URL("./recorder-worker.ts", import.meta.url);
  if (import.meta.url.endsWith(".ts")) {
    // A worker does not inherit the parent's `--import tsx` loader hooks: it registers them itself (tsx found
    // from here, whatever the process's working directory).
    const tsx = import.meta.resolve("tsx/esm/api");
    const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source.href)}); });`;
    return new Worker(boot, { eval: true });
  }
  return new Worker(new URL("./recorder-worker.mjs", import.meta.url));
}

export class RecorderThread {
  private worker: Worker | null = null;
  /** The thread `close` is stopping (its end is no error). */
  private closing: Worker | null = null;
  private nextId = 1;
  private readonly tracks = new Map<number, TrackEvents>();

  constructor(
    private readonly onError: (err: unknown) => void = () => {},
    /** The thread loaded its code (each time one starts). */
    private readonly onReady: () => void = () => {},
  ) {}

  /** Opens a track on the thread (starting the thread if none runs). */
  readonly open = (options: TrackOptions, events: TrackEvents): Track => {
    const worker = this.running();
    const id = this.nextId++;
    this.tracks.set(id, events);
    worker.postMessage({ op: "open", id, options } satisfies ToRecorder);
    return new ThreadTrack(id, (msg, transfer) => {
      if (!this.tracks.has(id)) return;
      worker.postMessage(msg, transfer);
      if (msg.op === "stop") this.tracks.delete(id);
    });
  };

  /** Open tracks (tests, health). */
  get size(): number {
    return this.tracks.size;
  }

  /** Stops the thread; the tracks it still held fail. The next `open` starts a new one. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.closing = worker;
    await worker.terminate();
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker();
    // The thread never keeps the connector alive: its tracks belong to sessions, which do.
    worker.unref();
    worker.on("message", (raw: unknown) => {
      const msg = FromRecorder.safeParse(raw);
      if (!msg.success) {
        this.onError(new Error("recorder thread: unexpected message"));
        return;
      }
      if (msg.data.op === "ready") {
        this.onReady();
        return;
      }
      const events = this.tracks.get(msg.data.id);
      if (!events) return;
      if (msg.data.op === "sealed") {
        if (msg.data.cut.final) this.tracks.delete(msg.data.id);
        events.sealed(msg.data.cut as SealedCut);
      } else {
        this.tracks.delete(msg.data.id);
        events.failed(new Error(msg.data.message));
      }
    });
    const lost = (err: unknown) => {
      if (this.worker !== worker) return;
      this.worker = null;
      if (this.closing !== worker) this.onError(err);
      const held = [...this.tracks.values()];
      this.tracks.clear();
      for (const events of held) events.failed(err);
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`recorder thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

/** The relay's bytes gathered for a few ms, in order: consecutive output reads make one event. */
type Gathered = { op: "output" | "input"; pieces: Uint8Array[]; bytes: number; now: number };

/** The relay's side of one track: output and input gathered for a few ms, every event in order. */
class ThreadTrack implements Track {
  private batch: Gathered[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly id: number,
    private readonly post: (msg: ToRecorder, transfer?: ArrayBuffer[]) => void,
  ) {}

  output(bytes: Uint8Array, now: number): void {
    if (bytes.byteLength === 0) return;
    const last = this.batch.at(-1);
    if (last?.op === "output") {
      last.pieces.push(bytes);
      last.bytes += bytes.byteLength;
      last.now = now;
    } else this.batch.push({ op: "output", pieces: [bytes], bytes: bytes.byteLength, now });
    this.gathered(bytes.byteLength);
  }

  input(bytes: Uint8Array, now: number): void {
    if (bytes.byteLength === 0) return;
    // A copy: the frame's buffer is not ours to keep until the batch goes.
    this.batch.push({ op: "input", pieces: [Uint8Array.from(bytes)], bytes: bytes.byteLength, now });
    this.gathered(bytes.byteLength);
  }

  resize(cols: number, rows: number, now: number): void {
    this.flush();
    this.post({ op: "resize", id: this.id, cols, rows, now });
  }

  marker(label: string, now: number): void {
    this.flush();
    this.post({ op: "marker", id: this.id, label, now });
  }

  end(reason: string, now: number): void {
    this.flush();
    this.post({ op: "end", id: this.id, reason, now });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.batch = [];
    this.batchBytes = 0;
    this.post({ op: "stop", id: this.id });
  }

  private gathered(bytes: number): void {
    this.batchBytes += bytes;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  /** What was gathered, as one message: each event's bytes copied once into a buffer of its own, transferred. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.batch.length === 0) return;
    const events: BytesEvent[] = this.batch.map(({ op, pieces, bytes, now }) => {
      if (op === "input") return { op, bytes: pieces[0]!, now };
      const joined = new Uint8Array(bytes);
      let at = 0;
      for (const piece of pieces) {
        joined.set(piece, at);
        at += piece.byteLength;
      }
      return { op, bytes: joined, now };
    });
    this.batch = [];
    this.batchBytes = 0;
    this.post(
      { op: "bytes", id: this.id, events },
      events.map((e) => e.bytes.buffer as ArrayBuffer),
    );
  }
}
