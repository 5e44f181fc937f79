// The uploader against a real HTTP server on port 0: order, retries without loss or reordering,
// refusals moved aside, the per-request token bound to the chunk's path, failingSince, and a
// restarted connector uploading what its spool holds.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, type JWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CHUNK_HEADER, CONNECTOR_TOKEN_AUD } from "../../protocol/index.ts";
import { connectorToken, generateIdentityKey } from "../keys.ts";
import { fakeChunk } from "./fixtures.ts";
import { Spool } from "./spool.ts";
import { Uploader, uploadRetryDelay } from "./uploader.ts";

const A = "0a6f4c2e-7b1d-4e3a-9c5f-1d2e3f4a5b6c";
const B = "1b7a5d3f-8c2e-4f4b-8d6a-2e3f4a5b6c7d";

type Received = { method: string; path: string; auth: string; jws: string; type: string; body: string };

/** An edge stand-in: answers each request with the next scripted status (200 when the script is out). */
async function edge(script: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (p: Buffer) => parts.push(p));
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        path: req.url ?? "",
        auth: req.headers.authorization ?? "",
        jws: String(req.headers[CHUNK_HEADER] ?? ""),
        type: req.headers["content-type"] ?? "",
        body: Buffer.concat(parts).toString("utf8"),
      });
      res.writeHead(script.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, script };
}

const servers: Server[] = [];
const dirs: string[] = [];
const uploaders: Uploader[] = [];
afterEach(async () => {
  for (const u of uploaders.splice(0)) u.stop();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function setup(edgeUrl: string, dir?: string) {
  const stateDir = dir ?? (await mkdtemp(join(tmpdir(), "psm-upload-")));
  if (!dir) dirs.push(stateDir);
  const spool = await Spool.open(stateDir);
  const key: JWK = await generateIdentityKey();
  const logged: [string, Record<string, unknown> | undefined][] = [];
  /** The uploader's `failingSince` as each line was logged (a retry window can be shorter than any polling). */
  const failingAtLog: (number | null)[] = [];
  const uploader: Uploader = new Uploader({
    spool,
    edgeUrl,
    token: (endpoint) => connectorToken("conn-1", key, endpoint),
    log: (event, fields) => {
      logged.push([event, fields]);
      failingAtLog.push(uploader.failingSince);
    },
    retryDelay: () => 20,
  });
  uploaders.push(uploader);
  return { stateDir, spool, uploader, logged, failingAtLog };
}

async function add(spool: Spool, rid: string, seq: number, at: number, final = false) {
  const c = fakeChunk(rid, seq, at, final);
  await spool.add(rid, seq, c.data, c.jws, c.claims);
}

const path = (rid: string, seq: number) => `/connector/recordings/${rid}/chunks/${seq}`;

describe("Uploader", () => {
  it("uploads the spool's chunks in order, each with its own token for exactly its path", async () => {
    const { url, received } = await edge();
    const { spool, uploader } = await setup(url);
    await add(spool, A, 0, 1);
    await add(spool, B, 0, 2);
    await add(spool, A, 1, 3, true);
    uploader.start();
    await vi.waitFor(() => expect(spool.stats().chunks).toBe(0));
    expect(received.map((r) => r.path)).toEqual([path(A, 0), path(B, 0), path(A, 1)]);
    for (const r of received) {
      expect(r.method).toBe("PUT");
      expect(r.type).toBe("application/octet-stream");
      const claims = decodeJwt(r.auth.replace(/^Bearer /, ""));
      expect(claims).toMatchObject({ ep: r.path, iss: "conn-1", aud: CONNECTOR_TOKEN_AUD });
    }
    expect(new Set(received.map((r) => decodeJwt(r.auth.slice(7)).jti)).size).toBe(3);
    expect(received[1]!.jws).toBe(fakeChunk(B, 0, 2).jws);
    expect(received[1]!.body).toBe(`gzip bytes of ${B} #0`);
    expect(await readdir(spool.dir)).toEqual([B]);
  });

  it("is kicked by a new chunk", async () => {
    const { url, received } = await edge();
    const { spool, uploader } = await setup(url);
    uploader.start();
    await add(spool, A, 0, 1);
    await vi.waitFor(() => expect(received.map((r) => r.path)).toEqual([path(A, 0)]));
    await add(spool, A, 1, 2);
    await vi.waitFor(() => expect(received.map((r) => r.path)).toEqual([path(A, 0), path(A, 1)]));
  });

  it("retries a failing chunk (503, 503, then 200) without losing or reordering anything; failingSince follows", async () => {
    const { url, received } = await edge([503, 503]);
    const { spool, uploader, logged, failingAtLog } = await setup(url);
    await add(spool, A, 0, 1);
    await add(spool, A, 1, 2);
    uploader.start();
    await vi.waitFor(() => expect(spool.stats().chunks).toBe(0));
    expect(received.map((r) => r.path)).toEqual([path(A, 0), path(A, 0), path(A, 0), path(A, 1)]);
    // Failing was said while it failed: failingSince was set when upload_failing was logged.
    expect(failingAtLog[logged.findIndex(([e]) => e === "recording.upload_failing")]).toEqual(expect.any(Number));
    expect(uploader.failingSince).toBeNull();
    expect(logged.filter(([e]) => e === "recording.upload_failing")).toHaveLength(1);
    expect(logged.filter(([e]) => e === "recording.upload_retry")).toHaveLength(1);
  });

  it("treats 401 and a dead edge as failures to retry, and reports since when", async () => {
    const { url, received } = await edge([401]);
    const { spool, uploader } = await setup(url);
    await add(spool, A, 0, 1);
    uploader.start();
    await vi.waitFor(() => expect(received).toHaveLength(2));
    await vi.waitFor(() => expect(spool.stats().chunks).toBe(0));

    const dead = await setup("http://127.0.0.1:9");
    await add(dead.spool, B, 0, 1);
    const before = Date.now();
    dead.uploader.start();
    await vi.waitFor(() => expect(dead.uploader.failingSince).not.toBeNull());
    expect(dead.uploader.failingSince!).toBeGreaterThanOrEqual(before);
    expect(dead.uploader.health()).toMatchObject({ chunks: 1, oldestAt: 1, failingSince: dead.uploader.failingSince });
    expect(dead.spool.stats().chunks).toBe(1);
  });

  it("moves a chunk the edge refuses for good (409) to spool-rejected and goes on with the next", async () => {
    const { url, received } = await edge([409]);
    const { stateDir, spool, uploader, logged } = await setup(url);
    await add(spool, A, 0, 1);
    await add(spool, A, 1, 2);
    uploader.start();
    await vi.waitFor(() => expect(spool.stats().chunks).toBe(0));
    expect(received.map((r) => r.path)).toEqual([path(A, 0), path(A, 1)]);
    expect((await readdir(join(stateDir, "spool-rejected", A))).sort()).toEqual(["000000.gz", "000000.jws"]);
    expect(logged.find(([e]) => e === "recording.chunk_rejected")?.[1]).toMatchObject({ seq: 0, status: 409 });
    expect(uploader.failingSince).toBeNull();
  });

  it("skips a chunk whose files were removed from under it", async () => {
    const { url, received } = await edge();
    const { spool, uploader, logged } = await setup(url);
    await add(spool, A, 0, 1);
    await add(spool, A, 1, 2);
    await rm(join(spool.dir, A, "000000.gz"));
    await rm(join(spool.dir, A, "000000.jws"));
    uploader.start();
    await vi.waitFor(() => expect(spool.stats().chunks).toBe(0));
    expect(received.map((r) => r.path)).toEqual([path(A, 1)]);
    expect(logged.map(([e]) => e)).toContain("recording.chunk_missing");
  });

  it("uploads, after a restart, what the spool held", async () => {
    // The first run cannot reach the edge; its chunks stay on disk.
    const first = await setup("http://127.0.0.1:9");
    await add(first.spool, A, 0, 1);
    await add(first.spool, A, 1, 2);
    first.uploader.start();
    await vi.waitFor(() => expect(first.uploader.failingSince).not.toBeNull());
    first.uploader.stop();

    const { url, received } = await edge();
    const second = await setup(url, first.stateDir);
    expect(second.spool.stats().chunks).toBe(2);
    second.uploader.start();
    await vi.waitFor(() => expect(second.spool.stats().chunks).toBe(0));
    expect(received.map((r) => r.path)).toEqual([path(A, 0), path(A, 1)]);
    // Found at start, so no session will add to it: its directory goes once it is empty.
    expect(await readdir(second.spool.dir)).toEqual([]);
  });

  it("backs off from about 1 s, doubling, capped at 60 s, with jitter", () => {
    expect(uploadRetryDelay(0, () => 0)).toBe(500);
    expect(uploadRetryDelay(0, () => 1)).toBe(1000);
    expect(uploadRetryDelay(3, () => 1)).toBe(8000);
    expect(uploadRetryDelay(20, () => 0)).toBe(30_000);
    expect(uploadRetryDelay(20, () => 1)).toBe(60_000);
  });
});
