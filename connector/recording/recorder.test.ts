// The session recorder: cuts by size and time, the chain, signed claims, byte totals, the final
// chunk, input redaction through it, markers in order, a refusing spool, and the backlog bound.
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { describe, expect, it, vi } from "vitest";
import { CHUNK_TYP, ChunkClaims } from "../../protocol/index.ts";
import { genesis, gunzip, nextLink, sha256Hex } from "../../recording/chain.ts";
import { generateIdentityKey, publicJwk } from "../keys.ts";
import { type ChunkSink, chunkSigner, SessionRecorder, type SessionRecorderOptions } from "./recorder.ts";
import { SpoolFull } from "./spool.ts";

type Spooled = { rid: string; seq: number; data: Uint8Array; jws: string; claims: ChunkClaims };

const RID = "6f1c9a52-3d1e-4c7b-9a0e-2b8f5d4c3a21";
const utf8 = new TextEncoder();

/** A recorder on a fake clock and fake timers, spooling into an array. */
async function harness(options: Partial<SessionRecorderOptions> = {}) {
  const key = await generateIdentityKey();
  const chunks: Spooled[] = [];
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  const clock = { t: 1_700_000_000_000 };
  const sink: ChunkSink = {
    add: async (rid, seq, data, jws, claims) => {
      chunks.push({ rid, seq, data, jws, claims });
    },
  };
  const recorder = new SessionRecorder({
    recordingId: RID,
    sessionId: "sess-1",
    format: "asciicast-v2",
    keystrokes: false,
    cols: 80,
    rows: 24,
    spool: sink,
    sign: chunkSigner(() => key),
    now: () => clock.t,
    schedule: (fn, ms) => {
      const timer = { fn, at: clock.t + ms, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    ...options,
  });
  /** Moves the clock on and fires the timers now due. */
  const advance = (ms: number) => {
    clock.t += ms;
    for (const timer of timers.filter((x) => !x.cancelled && x.at <= clock.t)) {
      timer.cancelled = true;
      timer.fn();
    }
  };
  return { key, chunks, recorder, clock, advance };
}

async function text(chunk: Spooled): Promise<string> {
  return new TextDecoder().decode(await gunzip(chunk.data));
}

/** The asciicast events of the chunks, in order (the header, an object, left out). */
async function events(chunks: Spooled[]): Promise<[number, string, string][]> {
  const lines = (await Promise.all(chunks.map(text))).join("").split("\n").filter(Boolean);
  return lines
    .map((line) => JSON.parse(line) as unknown)
    .filter((e): e is [number, string, string] => Array.isArray(e));
}

describe("SessionRecorder", () => {
  it("opens with the header and the start marker, and closes with a final chunk naming the end", async () => {
    const { chunks, recorder } = await harness();
    recorder.output(utf8.encode("hello\r\n"));
    recorder.end("user_exit");
    await recorder.closed;
    expect(chunks).toHaveLength(1);
    const first = (await text(chunks[0]!)).split("\n")[0]!;
    expect(JSON.parse(first)).toMatchObject({ version: 2, width: 80, height: 24 });
    expect((await events(chunks)).map((e) => [e[1], e[2]])).toEqual([
      ["m", "start"],
      ["o", "hello\r\n"],
      ["m", "end: user_exit"],
    ]);
    expect(chunks[0]!.claims).toMatchObject({ seq: 0, final: true, out: 7, in: 0, rid: RID, sid: "sess-1" });
  });

  it("cuts at the size bound; each chunk's totals are the bytes relayed up to its cut", async () => {
    const { chunks, recorder } = await harness({ chunkBytes: 300 });
    const piece = utf8.encode("x".repeat(40));
    for (let i = 0; i < 20; i++) recorder.output(piece);
    recorder.end("closed");
    await recorder.closed;
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    expect(chunks.map((c) => c.claims.final)).toEqual(chunks.map((_, i) => i === chunks.length - 1));
    // Each chunk holds whole event lines and stays within the bound (no single call is bigger).
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.claims.rawSize).toBeLessThanOrEqual(300);
      expect((await text(chunk)).endsWith("\n")).toBe(true);
    }
    // `out` counts bytes, chunk by chunk: the events up to the cut hold exactly that many output bytes.
    let seen = 0;
    for (const chunk of chunks) {
      for (const e of await events([chunk])) if (e[1] === "o") seen += e[2].length;
      expect(chunk.claims.out).toBe(seen);
    }
    expect(chunks.at(-1)!.claims.out).toBe(800);
  });

  it("cuts RECORDING_CHUNK_MS after a chunk's first line, by its timer or by the next event", async () => {
    const { chunks, recorder, advance, clock } = await harness({ chunkMs: 10_000 });
    advance(9_999);
    await vi.waitFor(() => expect(chunks).toHaveLength(0));
    advance(1);
    await vi.waitFor(() => expect(chunks).toHaveLength(1));
    // A quiet recording cuts nothing more.
    advance(60_000);
    recorder.output(utf8.encode("a"));
    advance(5_000);
    recorder.output(utf8.encode("b"));
    advance(5_000);
    await vi.waitFor(() => expect(chunks).toHaveLength(2));
    expect((await events([chunks[1]!])).map((e) => e[2])).toEqual(["a", "b"]);
    expect(chunks[1]!.claims.at - chunks[0]!.claims.at).toBe(70_000);
    // A late timer: the first event that finds the chunk due cuts it, itself included.
    recorder.output(utf8.encode("c"));
    clock.t += 10_000;
    recorder.output(utf8.encode("d"));
    await vi.waitFor(() => expect(chunks).toHaveLength(3));
    expect((await events([chunks[2]!])).map((e) => e[2])).toEqual(["c", "d"]);
    recorder.end("closed");
    await recorder.closed;
    expect(chunks).toHaveLength(4);
    expect(chunks.map((c) => c.claims.final)).toEqual([false, false, false, true]);
  });

  it("links each chunk to the one before, from the recording's genesis", async () => {
    const { chunks, recorder } = await harness({ chunkBytes: 100 });
    for (let i = 0; i < 12; i++) recorder.output(utf8.encode(`line ${i}\r\n`));
    recorder.end("closed");
    await recorder.closed;
    let prev = await genesis(RID);
    for (const chunk of chunks) {
      const sha256 = await sha256Hex(chunk.data);
      const rawSha256 = await sha256Hex(await gunzip(chunk.data));
      expect(chunk.claims).toMatchObject({ size: chunk.data.byteLength, sha256, rawSha256 });
      prev = await nextLink(prev, chunk.seq, sha256, rawSha256);
      expect(chunk.claims.link).toBe(prev);
    }
  });

  it("signs each chunk's claims with the connector's key, named by its thumbprint", async () => {
    const { chunks, recorder, key } = await harness({ chunkBytes: 100 });
    for (let i = 0; i < 5; i++) recorder.output(utf8.encode(`line ${i}\r\n`));
    recorder.end("closed");
    await recorder.closed;
    const publicKey = await importJWK(publicJwk(key), "EdDSA");
    const kid = await calculateJwkThumbprint(publicJwk(key), "sha256");
    for (const chunk of chunks) {
      const { payload, protectedHeader } = await compactVerify(chunk.jws, publicKey);
      expect(protectedHeader).toEqual({ alg: "EdDSA", typ: CHUNK_TYP, kid });
      expect(ChunkClaims.parse(JSON.parse(new TextDecoder().decode(payload)))).toEqual(chunk.claims);
    }
    // Another key does not verify them.
    const other = await importJWK(publicJwk(await generateIdentityKey()), "EdDSA");
    await expect(compactVerify(chunks[0]!.jws, other)).rejects.toThrow();
  });

  it("names the new key after an identity rotation", async () => {
    let key: JWK = await generateIdentityKey();
    const sign = chunkSigner(() => key);
    const claims = { x: 1 } as unknown as ChunkClaims;
    const before = decodeProtectedHeader(await sign(claims)).kid;
    key = await generateIdentityKey();
    const after = decodeProtectedHeader(await sign(claims)).kid;
    expect(after).toBe(await calculateJwkThumbprint(publicJwk(key), "sha256"));
    expect(after).not.toBe(before);
  });

  it("counts input bytes and still redacts what was typed while the terminal did not echo", async () => {
    const { chunks, recorder } = await harness({ keystrokes: true });
    recorder.output(utf8.encode("$ "));
    recorder.input(utf8.encode("ls"));
    recorder.output(utf8.encode("ls"));
    recorder.input(utf8.encode("\r"));
    recorder.output(utf8.encode("\r\nPassword: "));
    recorder.input(utf8.encode("hunter2"));
    recorder.input(utf8.encode("\r"));
    recorder.output(utf8.encode("\r\nok\r\n"));
    recorder.end("user_exit");
    await recorder.closed;
    const typed = (await events(chunks)).filter((e) => e[1] === "i").map((e) => e[2]);
    expect(typed).toEqual(["ls", "\r", "\r"]);
    expect(JSON.stringify(await events(chunks))).not.toContain("hunter2");
    expect(chunks.at(-1)!.claims.in).toBe(2 + 1 + 7 + 1);
  });

  it("writes markers and resizes where they arrive, in order with the output", async () => {
    const { chunks, recorder } = await harness();
    recorder.output(utf8.encode("a"));
    recorder.marker("connected");
    recorder.resize(120, 40);
    recorder.output(utf8.encode("b"));
    recorder.marker("warning: 5 minutes left");
    recorder.end("time_limit");
    await recorder.closed;
    expect((await events(chunks)).map((e) => `${e[1]}:${e[2]}`)).toEqual([
      "m:start",
      "o:a",
      "m:connected",
      "r:120x40",
      "o:b",
      "m:warning: 5 minutes left",
      "m:end: time_limit",
    ]);
  });

  it("records desktops as .guac with the same chunking", async () => {
    const { chunks, recorder } = await harness({ format: "guacamole" });
    recorder.output(utf8.encode("4.size,1.0,4.1024,3.768;4.sync,3.123;"));
    recorder.end("closed");
    await recorder.closed;
    const guac = await text(chunks[0]!);
    expect(guac.startsWith("4.sync,1.0;")).toBe(true);
    expect(guac).toContain("4.size,1.0,4.1024,3.768;");
    expect(guac).toContain("10.psm-marker,11.end: closed;");
    expect(chunks[0]!.claims.out).toBe(37);
  });

  it("stops at a spool that refuses, says why once, and records nothing more", async () => {
    const onFailure = vi.fn();
    const sink: ChunkSink = {
      add: async () => {
        throw new SpoolFull(10, 10);
      },
    };
    const { recorder } = await harness({ spool: sink, chunkBytes: 50, onFailure });
    recorder.output(utf8.encode("x".repeat(60)));
    recorder.output(utf8.encode("y".repeat(60)));
    await recorder.closed;
    expect(onFailure).toHaveBeenCalledTimes(1);
    expect(onFailure).toHaveBeenCalledWith("spool_full");
    recorder.output(utf8.encode("z"));
    recorder.end("closed");
  });

  it("is behind while cut chunks wait for a slow spool, and says when it catches up", async () => {
    const waiting: (() => void)[] = [];
    const sink: ChunkSink = { add: () => new Promise<void>((resolve) => waiting.push(resolve)) };
    const onDrain = vi.fn();
    const { recorder } = await harness({ spool: sink, chunkBytes: 100, backlogChars: 250, onDrain });
    for (let i = 0; i < 4; i++) recorder.output(utf8.encode("x".repeat(90)));
    expect(recorder.behind).toBe(true);
    while (recorder.behind) {
      await vi.waitFor(() => expect(waiting.length).toBeGreaterThan(0));
      waiting.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(onDrain).toHaveBeenCalledTimes(1);
  });
});
