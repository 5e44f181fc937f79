// The S3 uploader against a real s3rver on loopback, behind a proxy that injects 500s, stalls and
// resets (before and after the write). A recording produced by the real writer and chunk codec is
// flushed with the room's retry loop until done; what the store holds must verify, decompress to
// exactly the bytes produced, and have no gap or duplicate.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { exportJWK, generateKeyPair } from "jose";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordingManifest } from "../../protocol/index.ts";
import { CastWriter } from "../../recording/asciicast.ts";
import { chunkKey, genesis, gunzip, manifestKey, recordingPrefix, sealChunk, seqOfKey } from "../../recording/chain.ts";
import { uploadVerified } from "../../edge-shared/recording/flush.ts";
import { signManifest } from "../../recording/manifest.ts";
import { S3Store } from "../../edge-shared/recording/s3-store.ts";
import { verifyRecording } from "../../recording/verify.ts";
import { type Fault, type FaultProxy, seeded, startFaultProxy } from "../support/fault-proxy.ts";

const BUCKET = "psm-recordings";
/** Small chunks here (the connector cuts at RECORDING_CHUNK_BYTES): many objects, many chances to fail. */
const CHUNK_BYTES = 64 * 1024;
const creds = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

let dir: string;
let s3rver: S3rver;
let s3url: string;
let proxy: FaultProxy;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "psm-s3rver-"));
  s3rver = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir });
  const { port } = (await s3rver.run()) as { port: number };
  s3url = `http://127.0.0.1:${port}`;
  const admin = new S3Client({ endpoint: s3url, region: "us-east-1", forcePathStyle: true, credentials: creds });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  proxy = await startFaultProxy(s3url, () => "none");
});

afterAll(async () => {
  await proxy?.close();
  await s3rver?.close();
  rmSync(dir, { recursive: true, force: true });
});

const storeVia = (endpoint: string) =>
  new S3Store({ endpoint, region: "us-east-1", bucket: BUCKET, ...creds, timeoutMs: 1_500 });

/** A scripted session: prompts, typed commands, a bulk listing, resizes; cut like the room cuts. */
async function produce(recordingId: string) {
  const rand = seeded(7);
  const start = 1_800_000_000_000;
  const w = new CastWriter(start, true);
  const lines = [w.header(120, 40), ...w.marker("start", start)];
  let t = start;
  for (let i = 0; i < 400; i++) {
    t += Math.floor(rand() * 900);
    const cmd = `echo line-${i}`;
    lines.push(...w.input(new TextEncoder().encode(`${cmd}\r`), t));
    const bulk = i % 20 === 0 ? "x".repeat(30_000 + Math.floor(rand() * 20_000)) : `line-${i} ${"é".repeat(i % 7)}`;
    lines.push(...w.output(new TextEncoder().encode(`${cmd}\r\n${bulk}\r\n$ `), t + 3));
    if (i % 97 === 0) lines.push(...w.resize(80 + (i % 40), 24, t + 4));
  }
  lines.push(...w.marker("end: user_exit", t + 10));
  const raws: Uint8Array[] = [];
  let open = "";
  for (const line of lines) {
    open += line;
    if (new TextEncoder().encode(open).byteLength >= CHUNK_BYTES) {
      raws.push(new TextEncoder().encode(open));
      open = "";
    }
  }
  if (open) raws.push(new TextEncoder().encode(open));
  const keys = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const pending: PendingObject[] = [];
  const entries = [];
  let prev = await genesis(recordingId);
  for (const [seq, raw] of raws.entries()) {
    const { data, entry } = await sealChunk(recordingId, seq, raw, prev);
    pending.push({ key: chunkKey(recordingId, seq), data, sha256: entry.sha256 });
    entries.push(entry);
    prev = entry.link;
  }
  const manifest: RecordingManifest = {
    ...{ v: 1, recordingId, sessionId: "s1", userId: "u1", username: "alice", serverId: "srv", zoneId: "z" },
    ...{ startedAt: start, endedAt: t, endReason: "user_exit", format: "asciicast-v2", compression: "gzip" },
    complete: true,
    chunks: entries,
    head: prev,
  } as RecordingManifest;
  pending.push({
    key: manifestKey(recordingId),
    data: new TextEncoder().encode(await signManifest(manifest, keys.privateKey)),
  });
  return { cast: lines.join(""), pending, publicJwk: await exportJWK(keys.publicKey) };
}

/** The room's loop: flush what is pending; on failure keep the rest and try again (bounded). */
type PendingObject = { key: string; data: Uint8Array; sha256?: string };

/** Puts the objects in order, each verified; stops at the first failure (what the edge answers a chunk with). */
async function flushInOrder(store: S3Store, pending: PendingObject[], flushed: () => void) {
  for (const object of pending) {
    await uploadVerified(store, object.key, object.data, object.sha256);
    flushed();
  }
}

/** Retries like the connector's uploader (which re-sends what the edge could not store), without its waits. */
async function flushUntilDone(store: S3Store, pending: PendingObject[]) {
  const queue = [...pending];
  let attempts = 0;
  while (queue.length > 0) {
    attempts++;
    if (attempts > 400) throw new Error("flush did not finish in 400 attempts");
    try {
      await flushInOrder(store, [...queue], () => void queue.shift());
    } catch {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return attempts;
}

async function readBack(store: S3Store, recordingId: string, publicJwk: object) {
  const keys = await store.list(recordingPrefix(recordingId));
  const seqs = keys.map(seqOfKey).filter((s): s is number => s !== null);
  const { report, manifest } = await verifyRecording(
    recordingId,
    {
      manifest: async () => {
        const m = await store.get(manifestKey(recordingId));
        return m ? new TextDecoder().decode(m) : null;
      },
      list: async () => seqs,
      chunk: (seq) => store.get(chunkKey(recordingId, seq)),
    },
    publicJwk,
  );
  const texts = [];
  for (const seq of [...seqs].sort((a, b) => a - b))
    texts.push(new TextDecoder().decode(await gunzip((await store.get(chunkKey(recordingId, seq)))!)));
  return { report, manifest, keys, seqs, cast: texts.join("") };
}

describe("S3 uploader against s3rver behind a fault-injecting proxy", () => {
  it("stores a recording byte-identical, with no gap or duplicate, through 500s, stalls and resets", async () => {
    const id = `rec-faults-${Date.now()}`;
    const { cast, pending, publicJwk } = await produce(id);
    expect(pending.length).toBeGreaterThan(10);
    const rand = seeded(42);
    const faults: Fault[] = ["500", "stall", "reset", "reset-after"];
    // About a third of requests fail, every kind of fault appears; the stalls are few (each costs a timeout).
    proxy.setSchedule((n) => {
      if (n < faults.length) return faults[n]!;
      const r = rand();
      return r < 0.12 ? "500" : r < 0.2 ? "reset" : r < 0.3 ? "reset-after" : r < 0.32 ? "stall" : "none";
    });
    const attempts = await flushUntilDone(storeVia(proxy.url), pending);
    proxy.setSchedule(() => "none");
    for (const f of faults) expect(proxy.counts[f as Fault], `fault ${f} injected`).toBeGreaterThan(0);
    expect(attempts).toBeGreaterThan(4);

    const back = await readBack(storeVia(s3url), id, publicJwk);
    expect(back.report).toEqual({ recordingId: id, status: "verified", chunks: pending.length - 1, problems: [] });
    expect(back.seqs.sort((a, b) => a - b)).toEqual([...Array(pending.length - 1).keys()]);
    expect(back.keys).toHaveLength(pending.length); // chunks + manifest, nothing else
    expect(back.cast).toBe(cast);
  }, 240_000);

  it("a store that only fails keeps everything pending and loses nothing", async () => {
    const id = `rec-down-${Date.now()}`;
    const { pending } = await produce(id);
    proxy.setSchedule(() => "500");
    const queue = [...pending];
    await expect(flushInOrder(storeVia(proxy.url), [...queue], () => void queue.shift())).rejects.toThrow();
    expect(queue).toHaveLength(pending.length);
    proxy.setSchedule(() => "none");
    await flushUntilDone(storeVia(proxy.url), queue);
    expect(await storeVia(s3url).list(recordingPrefix(id))).toHaveLength(pending.length);
  }, 120_000);
});
