// The recorder thread: a recording made on it is the recording made on the relay's thread, byte for byte; output
// read within a few ms is one event, in order with the input, resizes and markers around it; an event that breaks
// fails its own recording only; a thread that dies fails the recordings it held (their sessions end as policy
// says), and the next recording gets a new thread.
import { afterAll, describe, expect, it, vi } from "vitest";
import type { ChunkClaims } from "../../protocol/index.ts";
import { gunzip } from "../../recording/chain.ts";
import { generateIdentityKey } from "../keys.ts";
import { type ChunkSink, chunkSigner, SessionRecorder, type SessionRecorderOptions } from "./recorder.ts";
import { RecorderThread } from "./recorder-thread.ts";

type Spooled = { seq: number; data: Uint8Array; claims: ChunkClaims };

const thread = new RecorderThread();
afterAll(() => thread.close());

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Longer than the relay's side gathers output for (BATCH_MS): the next output is an event of its own. */
const apart = () => new Promise((resolve) => setTimeout(resolve, 10));
const utf8 = new TextEncoder();

async function recorder(options: Partial<SessionRecorderOptions> = {}) {
  const key = await generateIdentityKey();
  const chunks: Spooled[] = [];
  const sink: ChunkSink = {
    add: async (_rid, seq, data, _jws, claims) => {
      chunks.push({ seq, data, claims });
    },
  };
  const clock = { t: 1_700_000_000_000 };
  const rec = new SessionRecorder({
    recordingId: "2d0f7c1e-8a4b-4c59-9e61-0b3a5f7d9c12",
    sessionId: "sess-thread",
    format: "asciicast-v2",
    keystrokes: true,
    cols: 80,
    rows: 24,
    spool: sink,
    sign: chunkSigner(() => key),
    now: () => clock.t,
    chunkBytes: 4096,
    ...options,
  });
  return { rec, chunks, clock };
}

const text = async (chunks: Spooled[]) =>
  (await Promise.all(chunks.map(async (c) => new TextDecoder().decode(await gunzip(c.data))))).join("");

const events = async (chunks: Spooled[]) =>
  (await text(chunks))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown)
    .filter((e): e is [number, string, string] => Array.isArray(e));

/** A session with output split inside characters, an unechoed secret, a resize and a marker; each event apart. */
async function play(rec: SessionRecorder, clock: { t: number }) {
  const steps: ((r: SessionRecorder) => void)[] = [
    (r) => r.output(utf8.encode("login ok\r\n$ ")),
    (r) => r.input(utf8.encode("ls\r")),
    (r) => r.output(utf8.encode("ls\r\ncaf\u00e9 ".repeat(300))),
    (r) => r.output(utf8.encode("\u65e5\u672c").subarray(0, 4)),
    (r) => r.output(utf8.encode("\u65e5\u672c").subarray(4)),
    (r) => r.output(utf8.encode("\r\nPassword: ")),
    (r) => r.input(utf8.encode("canary-thread-secret\r")),
    (r) => r.resize(120, 40),
    (r) => r.output(utf8.encode('\r\n\x1b[1mdone\x1b[0m "q" \\ \x00\x7f'.repeat(200))),
    (r) => r.marker("warning: 5 min left"),
  ];
  for (const step of steps) {
    clock.t += 37;
    step(rec);
    await apart();
  }
  clock.t += 5;
  rec.end("user_exit");
  await rec.closed;
}

describe("RecorderThread", () => {
  it("makes the same recording as a track on the relay's thread, chunk for chunk and byte for byte", async () => {
    const local = await recorder();
    await play(local.rec, local.clock);
    const threaded = await recorder({ openTrack: thread.open });
    await play(threaded.rec, threaded.clock);

    expect(threaded.chunks.length).toBeGreaterThanOrEqual(3);
    expect(threaded.chunks.map((c) => c.claims)).toEqual(local.chunks.map((c) => c.claims));
    expect(threaded.chunks.map((c) => Buffer.from(c.data).toString("hex"))).toEqual(
      local.chunks.map((c) => Buffer.from(c.data).toString("hex")),
    );
    // The secret typed while the terminal did not echo is redacted there too.
    expect(await text(threaded.chunks)).not.toContain("canary-thread-secret");
    expect(threaded.chunks.at(-1)!.claims.final).toBe(true);
    expect(thread.size).toBe(0);
  });

  it("sends output read within a few ms as one event, in order with what comes after it", async () => {
    const { rec, chunks, clock } = await recorder({ openTrack: thread.open, chunkBytes: 1 << 20 });
    for (const piece of ["one ", "two ", "three"]) rec.output(utf8.encode(piece));
    clock.t += 10;
    rec.input(utf8.encode("q"));
    rec.output(utf8.encode("q"));
    rec.marker("after");
    rec.end("user_exit");
    await rec.closed;
    const kinds = (await events(chunks)).map(([, kind, data]) => [kind, data]);
    expect(kinds).toEqual([
      ["m", "start"],
      ["o", "one two three"],
      ["i", "q"],
      ["o", "q"],
      ["m", "after"],
      ["m", "end: user_exit"],
    ]);
    expect(chunks.at(-1)!.claims).toMatchObject({ out: 14, in: 1, final: true });
  });

  it("gathers keystrokes and their echoes into one message per few ms, each event in order at its own time", async () => {
    // One message per keystroke woke the recorder thread on the echo's path (CPU per keystroke, echo latency).
    const own = new RecorderThread();
    const { rec, chunks, clock } = await recorder({ openTrack: own.open, chunkBytes: 1 << 20 });
    const worker = (own as unknown as { worker: { postMessage(...args: unknown[]): void } }).worker;
    const posted = vi.spyOn(worker, "postMessage");
    for (const key of "ls") {
      rec.input(utf8.encode(key));
      clock.t += 1;
      rec.output(utf8.encode(key));
      clock.t += 1;
    }
    await apart();
    expect(posted).toHaveBeenCalledTimes(1);
    rec.end("user_exit");
    await rec.closed;
    const typed = (await events(chunks)).filter(([, kind]) => kind === "i" || kind === "o");
    expect(typed.map(([, kind, data]) => [kind, data])).toEqual([
      ["i", "l"],
      ["o", "l"],
      ["i", "s"],
      ["o", "s"],
    ]);
    // At the times they passed, not when the batch went: each echo 1 ms after its key, the next key 1 ms later (a
    // keystroke held for its echo is written at the echo's time, as on the relay's thread).
    expect(typed.map(([t]) => Math.round((t - typed[0]![0]) * 1000))).toEqual([0, 0, 2, 2]);
    await own.close();
  });

  it("says when the thread the first recording started has loaded its code", async () => {
    const onReady = vi.fn();
    const own = new RecorderThread(undefined, onReady);
    const { rec } = await recorder({ openTrack: own.open });
    await vi.waitFor(() => expect(onReady).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    rec.end("user_exit");
    await rec.closed;
    await own.close();
  });

  it("fails only the recording whose event breaks on the thread; the others go on", async () => {
    const own = new RecorderThread();
    const onFailure = vi.fn();
    const broken = await recorder({ openTrack: own.open, onFailure });
    const healthy = await recorder({ openTrack: own.open });
    // The first track opened on a new thread is number 1: an event it cannot take (no bytes at all).
    const worker = (own as unknown as { worker: { postMessage(msg: unknown): void } }).worker;
    worker.postMessage({ op: "bytes", id: 1, events: [{ op: "output", bytes: null, now: Date.now() }] });
    await broken.rec.closed;
    expect(onFailure).toHaveBeenCalledWith("spool_error");
    healthy.rec.output(utf8.encode("still recorded"));
    healthy.rec.end("user_exit");
    await healthy.rec.closed;
    expect(await text(healthy.chunks)).toContain("still recorded");
    expect(healthy.chunks.at(-1)!.claims.final).toBe(true);
    await own.close();
  });

  it("fails the recordings of a thread that dies, and starts a new thread for the next", async () => {
    const own = new RecorderThread();
    const onFailure = vi.fn();
    const dying = await recorder({ openTrack: own.open, onFailure });
    dying.rec.output(utf8.encode("before the thread goes\r\n"));
    await turn();
    await own.close();
    await dying.rec.closed;
    expect(onFailure).toHaveBeenCalledWith("spool_error");
    expect(own.size).toBe(0);
    // Nothing more is recorded for it; a new session's recording runs on a new thread.
    dying.rec.output(utf8.encode("after"));
    const next = await recorder({ openTrack: own.open });
    next.rec.output(utf8.encode("next session"));
    next.rec.end("user_exit");
    await next.rec.closed;
    expect(next.chunks.at(-1)!.claims.final).toBe(true);
    expect(await text(next.chunks)).toContain("next session");
    await own.close();
  });
});
