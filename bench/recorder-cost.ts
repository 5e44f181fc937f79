// The connector's recording cost per MB of output, measured alone: the real SessionRecorder (asciicast v2,
// sealing, Ed25519 signing) spooling into a real Spool in a temp dir (fsync per chunk file), fed
// like the relay feeds it: one 16–64 KiB frame per event-loop turn, pausing while the recorder is
// behind. Prints CPU ms per MB of the main (relay) thread, of the whole process (the recorder thread and
// the thread pool included), time inside `output()` itself, and wall time, against the same feed with no
// recorder. `--where relay` makes the text on the relay's thread instead of the recorder thread (recorder-thread.ts).
//
//   npm run bench:recorder [-- --mb 64 --input mixed|x|utf8 --frame-kib 16-64 --rounds 1 --where thread|relay --dir /path]
//   node --import tsx --cpu-prof bench/recorder-cost.ts   (a V8 profile of the same run)
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { generateIdentityKey } from "../connector/keys.ts";
import { chunkSigner, SessionRecorder } from "../connector/recording/recorder.ts";
import { RecorderThread } from "../connector/recording/recorder-thread.ts";
import { Spool } from "../connector/recording/spool.ts";

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "64" },
    input: { type: "string", default: "mixed" },
    rounds: { type: "string", default: "1" },
    dir: { type: "string" },
    keystrokes: { type: "boolean", default: true },
    "frame-kib": { type: "string", default: "16-64" },
    /** `thread`: the track on the recorder thread, as the connector runs it; `relay`: on this (the relay's) thread. */
    where: { type: "string", default: "thread" },
  },
});
const TOTAL_BYTES = Number(args.mb) * 1e6;
const [MIN_FRAME, MAX_FRAME] = args["frame-kib"].split("-").map((k) => Number(k) * 1024) as [number, number];

/** A small deterministic PRNG (mulberry32), so every run feeds the same frames. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 8 MiB of terminal output to slice frames from: `x` is the bulk bench's stream (`tr '\0' x`); `mixed`
 * is coloured `ls -l`, log lines with quotes and backslashes, tabs, CR LF, cursor moves and some UTF-8
 * (box drawing, accents); `utf8` is mostly multi-byte text.
 */
function corpus(kind: string): Uint8Array {
  const size = 8 * 1024 * 1024;
  if (kind === "x") return new Uint8Array(size).fill(0x78);
  const rand = prng(15);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const words = ["config", "données", "main.ts", "node_modules", "README.md", "Ωmega", "日本語", "build", "tmp"];
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    let line: string;
    const r = rand();
    if (kind === "utf8" || r < 0.1)
      line = `│ ${Array.from({ length: 8 }, () => pick(words)).join(" ─ ")} │ é à ü ß ✓ ✗ →\r\n`;
    else if (r < 0.5)
      line = `-rw-r--r-- 1 psm psm ${Math.floor(rand() * 1e6)} Dec  5 11:13 \x1b[01;34m${pick(words)}\x1b[0m\r\n`;
    else if (r < 0.8)
      line = `2026-12-05T11:13:${String(Math.floor(rand() * 60)).padStart(2, "0")}Z INFO request {"path":"/api/${pick(words)}","ms":${Math.floor(rand() * 900)},"ua":"curl \\"8.0\\""}\r\n`;
    else if (r < 0.9) line = `\x1b[${Math.floor(rand() * 24)};1H\x1b[K${pick(words)}\t${pick(words)}\t\x07\r\n`;
    else line = `${"=".repeat(Math.floor(rand() * 78))}\r\n`;
    parts.push(line);
    length += line.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, size);
}

/** Nanoseconds the main thread has run on a CPU (Linux schedstat; its tid is the pid). */
function mainThreadNs(): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, "utf8");
  return Number(stat.split(" ")[0]);
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Round = { wallMs: number; mainMs: number; processMs: number; eluMs: number; outputMs: number; chunks: number };

/** Feeds `TOTAL_BYTES` of frames to `sink` one frame per turn; `sink` returns a promise while it is behind. */
async function feed(
  data: Uint8Array,
  total: number,
  sink: (frame: Uint8Array) => Promise<void> | undefined,
  finish: () => Promise<number>,
): Promise<Round> {
  const rand = prng(64);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadNs();
  const t0 = performance.now();
  let outputNs = 0n;
  let fed = 0;
  let at = 0;
  while (fed < total) {
    const size = Math.min(total - fed, MIN_FRAME + Math.floor(rand() * (MAX_FRAME - MIN_FRAME + 1)));
    if (at + size > data.byteLength) at = 0;
    // A fresh Buffer per frame, as a socket read gives one.
    const frame = Buffer.from(data.subarray(at, at + size));
    at += size;
    fed += size;
    const s = process.hrtime.bigint();
    const wait = sink(frame);
    outputNs += process.hrtime.bigint() - s;
    await (wait ?? turn());
  }
  const chunks = await finish();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return {
    wallMs,
    mainMs: (mainThreadNs() - main0) / 1e6,
    processMs: (cpu.user + cpu.system) / 1000,
    eluMs: elu.active,
    outputMs: Number(outputNs) / 1e6,
    chunks,
  };
}

async function recorded(data: Uint8Array, total: number, dir: string): Promise<Round> {
  const key = await generateIdentityKey();
  const spool = await Spool.open(dir);
  let chunks = 0;
  spool.onAdded = () => chunks++;
  let drained: (() => void) | null = null;
  const recorder = new SessionRecorder({
    recordingId: crypto.randomUUID(),
    sessionId: "bench",
    format: "asciicast-v2",
    keystrokes: args.keystrokes,
    cols: 80,
    rows: 24,
    spool,
    sign: chunkSigner(() => key),
    openTrack: thread?.open,
    onDrain: () => drained?.(),
    onFailure: (failure) => {
      throw new Error(`recording failed: ${failure}`);
    },
  });
  recorder.marker("connected");
  return feed(
    data,
    total,
    (frame) => {
      recorder.output(frame);
      // The session pauses its target while the recorder is behind, and resumes on drain.
      if (!recorder.behind) return undefined;
      return new Promise<void>((resolve) => {
        drained = resolve;
      });
    },
    async () => {
      recorder.end("user_exit");
      await recorder.closed;
      return chunks;
    },
  );
}

async function unrecorded(data: Uint8Array): Promise<Round> {
  let sum = 0;
  return feed(
    data,
    TOTAL_BYTES,
    (frame) => {
      sum += frame[0]!;
      return undefined;
    },
    async () => sum & 0,
  );
}

const perMB = (ms: number) => (ms / (TOTAL_BYTES / 1e6)).toFixed(1);
const row = (name: string, r: Round) =>
  `${name.padEnd(11)} wall ${r.wallMs.toFixed(0).padStart(6)} ms | main thread ${perMB(r.mainMs).padStart(5)} ms/MB | ` +
  `process ${perMB(r.processMs).padStart(5)} ms/MB | loop busy ${perMB(r.eluMs).padStart(5)} ms/MB | ` +
  `in output() ${perMB(r.outputMs).padStart(5)} ms/MB | ${(TOTAL_BYTES / 1e6 / (r.wallMs / 1000)).toFixed(0)} MB/s` +
  (r.chunks ? ` | ${r.chunks} chunks` : "");

const thread = args.where === "thread" ? new RecorderThread() : undefined;
const data = corpus(args.input);
const base = args.dir ?? tmpdir();
console.log(
  `recorder-cost: ${TOTAL_BYTES / 1e6} MB of '${args.input}' output in ${MIN_FRAME / 1024}–${MAX_FRAME / 1024} KiB frames, ` +
    `keystrokes ${args.keystrokes ? "on" : "off"}, spool under ${base}, text made on the ${args.where === "thread" ? "recorder" : "relay's"} thread; node ${process.version}`,
);
// Warm-up (JIT, the thread pool, the key) on a small recording, not counted.
{
  const dir = await mkdtemp(join(base, "psm-recorder-cost-"));
  try {
    await recorded(data, 4e6, dir);
    await unrecorded(data);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
for (let round = 0; round < Number(args.rounds); round++) {
  const dir = await mkdtemp(join(base, "psm-recorder-cost-"));
  try {
    const off = await unrecorded(data);
    const on = await recorded(data, TOTAL_BYTES, dir);
    console.log(row("unrecorded", off));
    console.log(row("recorded", on));
    console.log(
      `recording's cost: main thread ${perMB(on.mainMs - off.mainMs)} ms/MB, process ${perMB(on.processMs - off.processMs)} ms/MB`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
await thread?.close();
