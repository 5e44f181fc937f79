// The session recorder: cuts by size and time, the chain, signed claims, byte totals, the final
// chunk, input redaction through it, markers in order, a refusing spool, and the backlog bounds.
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { describe, expect, it, vi } from "vitest";
import { CHUNK_TYP, ChunkClaims, RECORDING_CHUNK_BYTES, RECORDING_CHUNK_MAX_STORED } from "../../protocol/index.ts";
import { genesis, gunzip, nextLink, sealChunk, sha256Hex } from "../../recording/chain.ts";
import { generateIdentityKey, publicJwk } from "../keys.ts";
import { type ChunkSink, chunkSigner, SessionRecorder, type SessionRecorderOptions } from "./recorder.ts";
import { gzipLevel, sealChunkOffThread } from "./track.ts";
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

  it("hands the chunks sealed while the spool writes to it as one group, in order, and stops at a refusal", async () => {
    const groups: number[][] = [];
    const release: (() => void)[] = [];
    let refuse = false;
    const sink: ChunkSink = {
      add: async () => {
        throw new Error("addAll is used when the spool has it");
      },
      addAll: async (_rid, chunks) => {
        groups.push(chunks.map((c) => c.seq));
        if (refuse) throw new SpoolFull(10, 10);
        await new Promise<void>((resolve) => release.push(resolve));
      },
    };
    const onDrain = vi.fn();
    const onFailure = vi.fn();
    const { recorder } = await harness({ spool: sink, chunkBytes: 100, backlogBytes: 250, onDrain, onFailure });
    // The header's chunk goes alone; the output's chunks are cut and sealed while its write is under way
    // (each output line here passes the size bound: one chunk per call).
    recorder.output(utf8.encode("a".repeat(90)));
    await vi.waitFor(() => expect(groups).toHaveLength(1));
    for (let i = 0; i < 3; i++) recorder.output(utf8.encode("b".repeat(90)));
    expect(recorder.behind).toBe(true);
    // Let their seals finish before the first write completes.
    await new Promise((r) => setTimeout(r, 200));
    release.shift()!();
    await vi.waitFor(() => expect(groups).toHaveLength(2));
    expect(groups).toEqual([[0], [1, 2, 3, 4]]);
    release.shift()!();
    await vi.waitFor(() => expect(onDrain).toHaveBeenCalledTimes(1));
    expect(recorder.behind).toBe(false);
    // A refused group stops the recording; nothing after it reaches the spool.
    refuse = true;
    recorder.output(utf8.encode("c".repeat(90)));
    recorder.output(utf8.encode("d".repeat(90)));
    await recorder.closed;
    expect(onFailure).toHaveBeenCalledTimes(1);
    expect(onFailure).toHaveBeenCalledWith("spool_full");
    expect(groups.slice(2)).toHaveLength(1);
    expect(groups[2]![0]).toBe(5);
  });

  it("is behind while more sealed chunks than its bound wait for a slow spool, and says when they are in", async () => {
    const waiting: (() => void)[] = [];
    const sink: ChunkSink = { add: () => new Promise<void>((resolve) => waiting.push(resolve)) };
    const onDrain = vi.fn();
    const { recorder } = await harness({
      spool: sink,
      chunkBytes: 100,
      backlogBytes: 1 << 20,
      backlogChunks: 2,
      onDrain,
    });
    for (let i = 0; i < 4; i++) recorder.output(utf8.encode("x".repeat(90)));
    // Few relayed bytes, but the chunks pile up behind the first write once sealed.
    await vi.waitFor(() => expect(recorder.behind).toBe(true));
    expect(onDrain).not.toHaveBeenCalled();
    while (waiting.length > 0 || recorder.behind) {
      await vi.waitFor(() => expect(waiting.length).toBeGreaterThan(0));
      waiting.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(onDrain).toHaveBeenCalledTimes(1);
  });

  it("is behind while relayed bytes wait to be sealed, and says when it catches up", async () => {
    const waiting: (() => void)[] = [];
    const sink: ChunkSink = { add: () => new Promise<void>((resolve) => waiting.push(resolve)) };
    const onDrain = vi.fn();
    const { recorder } = await harness({ spool: sink, chunkBytes: 100, backlogBytes: 250, onDrain });
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

/**
 * A fixed session, replayed on a fake clock: output in frames of 1 byte to 9 KiB cut anywhere (inside
 * UTF-8 characters too), invalid UTF-8, a BOM first, every control character, quotes and backslashes,
 * echoed and blind keystrokes, resizes, markers, time and size cuts.
 */
async function fixedSession(format: "asciicast-v2" | "guacamole" = "asciicast-v2") {
  const h = await harness({ keystrokes: true, chunkBytes: 4096, chunkMs: 1_000, format });
  let seed = 7;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pieces = [
    "\ufeffwelcome ",
    'caf\u00e9 \u65e5\u672c\u8a9e \u{1f600}\u{10ffff} \u2028\u2029 "q" \\ \u007f',
    Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join(""),
    "\x1b[01;34mdir\x1b[0m\r\n",
    "x".repeat(3000),
    "\u00e9".repeat(700),
  ];
  const invalid = [
    [0xff],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xe2, 0x82],
    [0xf0, 0x9f, 0x98],
  ];
  const stream: number[] = [];
  for (let i = 0; i < 400; i++) {
    if (rand() < 0.15) stream.push(...invalid[Math.floor(rand() * invalid.length)]!);
    else stream.push(...utf8.encode(pieces[Math.floor(rand() * pieces.length)]!));
  }
  const bytes = Uint8Array.from(stream);
  let at = 0;
  for (let step = 0; at < bytes.length; step++) {
    const size = rand() < 0.3 ? 1 + Math.floor(rand() * 4) : 1 + Math.floor(rand() * 9 * 1024);
    h.recorder.output(bytes.subarray(at, at + size));
    at += size;
    h.advance(Math.floor(rand() * 300));
    // Let sealing run now and then, so later chunks are written into earlier chunks' freed buffers.
    if (step % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    if (step % 7 === 3) {
      h.recorder.input(utf8.encode(step % 2 ? "ls" : "pw\u00e9"));
      if (step % 2) h.recorder.output(utf8.encode("ls"));
    }
    if (step % 11 === 5) h.recorder.resize(80 + step, 24);
    if (step % 13 === 6) h.recorder.marker(`m\u00e9 "${step}"`);
  }
  h.recorder.end("closed");
  await h.recorder.closed;
  return h.chunks;
}

describe("SessionRecorder under hostile output", () => {
  it("keeps every stored chunk within the bound the edge takes, however badly the output compresses", async () => {
    // What a user on the target can print: random bytes (escapes and U+FFFD, 2-6 bytes of text each) and
    // random text of 3-byte characters (CJK and others, hardly compressible). A chunk past RECORDING_CHUNK_MAX_STORED would be
    // refused at upload, and the recording lost.
    const { chunks, recorder } = await harness();
    let seed = 11;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    const random = Uint8Array.from({ length: 5 * 1024 * 1024 }, () => next() & 0xff);
    const cjk = utf8.encode(
      Array.from({ length: 1_500_000 }, () => String.fromCharCode(0x800 + (next() % 0xd000))).join(""),
    );
    for (const stream of [random, cjk])
      for (let at = 0; at < stream.length; at += 64 * 1024) recorder.output(stream.subarray(at, at + 64 * 1024));
    recorder.end("closed");
    await recorder.closed;
    for (const chunk of chunks) {
      expect(chunk.data.byteLength).toBeLessThanOrEqual(RECORDING_CHUNK_MAX_STORED);
      expect(ChunkClaims.safeParse(chunk.claims).success).toBe(true);
      expect(chunk.claims.rawSize).toBeLessThanOrEqual(RECORDING_CHUNK_BYTES);
    }
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    // The text is cut by its UTF-8 bytes: full chunks of this output hold close to the bound.
    expect(Math.max(...chunks.map((c) => c.claims.rawSize))).toBeGreaterThan(RECORDING_CHUNK_BYTES - 400 * 1024);
  });
});

describe("SessionRecorder output, byte for byte", () => {
  it("encodes a fixed session into the string-built recorder's text, cut by UTF-8 bytes", async () => {
    const chunks = await fixedSession();
    const texts = await Promise.all(chunks.map((c) => gunzip(c.data)));
    // The recording's whole text, as the recorder made it before it wrote lines as bytes (commit 32167bc) and
    // before chunks were cut by UTF-8 bytes rather than UTF-16 units, for this input.
    expect(await sha256Hex(Buffer.concat(texts))).toBe(
      "13699bbc52a1e6dc74fcbf2f01c06e5b14c59ef770c2de346d1d248745db4ff4",
    );
    // Chunks cut by size hold at most chunkBytes (4096) of UTF-8 unless one event's line alone is longer.
    for (const text of texts) {
      const lines = new TextDecoder().decode(text).split("\n").slice(0, -1);
      if (lines.length > 1) expect(text.byteLength).toBeLessThanOrEqual(4096);
    }
    // Every claim (gzip and text hashes, sizes, the chain, byte totals, times), pinned.
    const claims = chunks.map(({ claims: { rid, sid, ...rest } }) => rest);
    expect(await sha256Hex(JSON.stringify(claims))).toBe(
      "1c645176b9bb7facc161c90169d066c63439d5850f27207e02a91ad305b8fa64",
    );
    expect(claims.length).toBeGreaterThan(20);
  });

  it("seals off the relay's thread into the shared codec's bytes and entry (a flood's chunk: a valid faster one)", async () => {
    let seed = 3;
    const noise = Uint8Array.from({ length: 1_700_000 }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    });
    const prev = await genesis(RID);
    const small = [new Uint8Array(0), utf8.encode('[0.5,"o","caf\u00e9"]\n'), noise.subarray(0, 200_000)];
    for (const [seq, raw] of small.entries()) {
      expect(gzipLevel(raw.byteLength)).toBe(6);
      const ours = await sealChunkOffThread(RID, seq, raw, prev);
      expect({ ...ours, data: new Uint8Array(ours.data) }).toEqual(await sealChunk(RID, seq, raw, prev));
    }
    // A chunk cut full is compressed faster: other bytes, the same text, an entry that chains as the codec's would.
    expect(gzipLevel(noise.byteLength)).toBe(3);
    const ours = await sealChunkOffThread(RID, 3, noise, prev);
    const codec = await sealChunk(RID, 3, noise, prev);
    expect(await gunzip(ours.data)).toEqual(noise);
    expect(ours.entry).toMatchObject({ seq: 3, rawSize: noise.byteLength, rawSha256: codec.entry.rawSha256 });
    expect(ours.entry.sha256).toBe(await sha256Hex(ours.data));
    expect(ours.entry.link).toBe(await nextLink(prev, 3, ours.entry.sha256, ours.entry.rawSha256));
  });
});
