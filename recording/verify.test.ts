// Tamper tests: a recording built by the real chunk codec and signed manifest, then changed in
// every way the issue lists; verify must name each change, and pass the untouched recording.
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import type { RecordingManifest } from "../protocol/index.ts";
import { genesis, gunzip, sealChunk } from "./chain.ts";
import { signManifest } from "./manifest.ts";
import { castProblems, type RecordingReader, verifyRecording } from "./verify.ts";

const keys = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const publicJwk = await exportJWK(keys.publicKey);

async function build(recordingId: string, parts: string[]) {
  const chunks = new Map<number, Uint8Array>();
  const entries = [];
  let prev = await genesis(recordingId);
  for (const [seq, text] of parts.entries()) {
    const { data, entry } = await sealChunk(recordingId, seq, new TextEncoder().encode(text), prev);
    chunks.set(seq, data);
    entries.push(entry);
    prev = entry.link;
  }
  const manifest: RecordingManifest = {
    v: 1,
    recordingId,
    sessionId: `s-${recordingId}`,
    userId: "u1",
    username: "alice",
    serverId: "srv1",
    zoneId: "z1",
    startedAt: 1,
    endedAt: 2,
    endReason: "user_exit",
    format: "asciicast-v2",
    compression: "gzip",
    complete: true,
    chunks: entries,
    head: prev,
  };
  return { chunks, jws: await signManifest(manifest, keys.privateKey), manifest };
}

function reader(chunks: Map<number, Uint8Array>, jws: string | null): RecordingReader {
  return {
    manifest: async () => jws,
    list: async () => [...chunks.keys()],
    chunk: async (seq) => chunks.get(seq) ?? null,
  };
}

const PARTS = [
  '{"version":2,"width":80,"height":24}\n[0,"o","a"]\n',
  '[1,"o","b"]\n',
  '[2,"o","c"]\n',
  '[3,"m","end"]\n',
];

async function verdict(change: (r: Awaited<ReturnType<typeof build>>) => void | Promise<void>, id = "rec-a") {
  const rec = await build(id, PARTS);
  await change(rec);
  const { report } = await verifyRecording(id, reader(rec.chunks, rec.jws), publicJwk);
  return report;
}

describe("verifyRecording", () => {
  it("passes an untouched recording and its downloaded .cast", async () => {
    const report = await verdict(() => {});
    expect(report).toEqual({ recordingId: "rec-a", status: "verified", chunks: 4, problems: [] });
    const rec = await build("rec-a", PARTS);
    const cast = new TextEncoder().encode(PARTS.join(""));
    expect(await castProblems(cast, rec.manifest.chunks)).toEqual([]);
    expect(new TextDecoder().decode(await gunzip(rec.chunks.get(1)!))).toBe(PARTS[1]);
  });

  it("detects a flipped byte", async () => {
    const report = await verdict((r) => {
      r.chunks.get(2)![12]! ^= 0x01;
    });
    expect(report.status).toBe("tampered");
    expect(report.problems).toEqual([expect.objectContaining({ kind: "hash", seq: 2 })]);
  });

  it("detects a deleted chunk", async () => {
    const report = await verdict((r) => void r.chunks.delete(1));
    expect(report.problems).toEqual([expect.objectContaining({ kind: "missing", seq: 1 })]);
  });

  it("detects reordered chunks", async () => {
    const report = await verdict((r) => {
      const [a, b] = [r.chunks.get(1)!, r.chunks.get(2)!];
      r.chunks.set(1, b);
      r.chunks.set(2, a);
    });
    expect(report.problems.map((p) => [p.kind, p.seq, p.detail])).toEqual([
      ["hash", 1, "chunk 1 is chunk 2 moved"],
      ["hash", 2, "chunk 2 is chunk 1 moved"],
    ]);
  });

  it("detects truncation: a cut-short chunk and a lost tail", async () => {
    const short = await verdict((r) => void r.chunks.set(3, r.chunks.get(3)!.subarray(0, 10)));
    expect(short.problems).toEqual([expect.objectContaining({ kind: "hash", seq: 3 })]);
    const tail = await verdict((r) => void r.chunks.delete(3));
    expect(tail.problems).toEqual([expect.objectContaining({ kind: "missing", seq: 3 })]);
  });

  it("detects a chunk swapped in from another recording, and an extra chunk", async () => {
    const other = await build("rec-b", PARTS); // same text, other recording: different chain
    // Same text, other recording: the chunk's bytes still differ (its gzip name), and verify says whence.
    const swapped = await verdict((r) => void r.chunks.set(1, other.chunks.get(1)!));
    expect(swapped.problems).toEqual([
      expect.objectContaining({ kind: "hash", seq: 1, detail: "chunk 1 comes from another recording" }),
    ]);
    const different = await build("rec-c", ["x", '[9,"o","injected"]\n']);
    const foreign = await verdict((r) => void r.chunks.set(1, different.chunks.get(1)!));
    expect(foreign.problems).toEqual([expect.objectContaining({ kind: "hash", seq: 1 })]);
    const extra = await verdict((r) => void r.chunks.set(4, different.chunks.get(1)!));
    expect(extra.problems).toEqual([expect.objectContaining({ kind: "extra", seq: 4 })]);
  });

  it("refuses a manifest from another recording, an edited manifest, or one signed by another key", async () => {
    const other = await build("rec-b", PARTS);
    const foreign = await verdict((r) => {
      r.jws = other.jws;
    });
    expect(foreign.problems).toEqual([expect.objectContaining({ kind: "manifest" })]);
    const edited = await verdict((r) => {
      const [h, p, s] = r.jws.split(".");
      const body = JSON.parse(Buffer.from(p!, "base64url").toString());
      body.endReason = "closed";
      r.jws = [h, Buffer.from(JSON.stringify(body)).toString("base64url"), s].join(".");
    });
    expect(edited.problems).toEqual([expect.objectContaining({ kind: "signature" })]);
    const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await verdict(async (r) => {
      r.jws = await signManifest(r.manifest, stranger.privateKey);
    });
    expect(forged.problems).toEqual([expect.objectContaining({ kind: "signature" })]);
  });

  it("detects a broken chain even in a validly signed manifest", async () => {
    const forged = await verdict(async (r) => {
      const m = structuredClone(r.manifest);
      [m.chunks[1], m.chunks[2]] = [m.chunks[2]!, m.chunks[1]!];
      r.jws = await signManifest(m, keys.privateKey);
    });
    expect(forged.problems.some((p) => p.kind === "chain")).toBe(true);
  });

  it("reports an unsealed recording, and a changed byte in a downloaded .cast", async () => {
    const rec = await build("rec-a", PARTS);
    const { report } = await verifyRecording("rec-a", reader(rec.chunks, null), publicJwk);
    expect(report.status).toBe("unsealed");
    const cast = new TextEncoder().encode(PARTS.join("").replace('"b"', '"B"'));
    expect(await castProblems(cast, rec.manifest.chunks)).toEqual([expect.objectContaining({ kind: "hash", seq: 1 })]);
  });
});
