// Recording at the source as the connector wires it: settings from the environment, when a session
// cannot be recorded (spool full, uploads failing past the outage bound), a session's chunks from the
// recorder through the spool to the edge, and the spool in the health report and metrics.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compactVerify, importJWK } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CHUNK_HEADER,
  ChunkClaims,
  type GrantClaims,
  RECORDING_CHUNK_MS,
  SPOOL_MAX_BYTES,
  SPOOL_OUTAGE_MS,
} from "../../protocol/index.ts";
import { Health } from "../health.ts";
import { generateIdentityKey, publicJwk } from "../keys.ts";
import type { ConnectorState } from "../state.ts";
import { fakeChunk } from "./fixtures.ts";
import { Recordings, recordingSettings } from "./recordings.ts";

const RID = "2c8b6e4a-9d3f-4a5c-8e7b-3f4a5b6c7d8e";
const dirs: string[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function open(edgeUrl: string, settings = recordingSettings({})) {
  const stateDir = await mkdtemp(join(tmpdir(), "psm-rec-"));
  dirs.push(stateDir);
  const identityKey = await generateIdentityKey();
  const state = { edgeUrl, connectorId: "conn-1", identityKey } as unknown as ConnectorState;
  const logged: string[] = [];
  const recordings = await Recordings.open(stateDir, state, (event) => logged.push(event), settings);
  cleanups.push(() => recordings.stop());
  return { recordings, identityKey, logged };
}

const grant = (rec: GrantClaims["rec"]) =>
  ({ rec, tgt: { protocol: "ssh", host: "h", port: 22, hostKey: "" } }) as unknown as GrantClaims;
const session = (g: GrantClaims) => ({
  sessionId: "sess-1",
  grant: g,
  cols: 80,
  rows: 24,
  onFailure() {},
  onDrain() {},
});

describe("Recordings", () => {
  it("reads its settings from the environment, with the protocol's defaults", () => {
    expect(recordingSettings({})).toEqual({
      spoolMaxBytes: SPOOL_MAX_BYTES,
      outageMs: SPOOL_OUTAGE_MS,
      chunkMs: RECORDING_CHUNK_MS,
    });
    expect(
      recordingSettings({ PSM_SPOOL_MAX_BYTES: "1000", PSM_SPOOL_OUTAGE_MS: "60000", PSM_RECORDING_CHUNK_MS: "500" }),
    ).toEqual({ spoolMaxBytes: 1000, outageMs: 60_000, chunkMs: 500 });
    expect(() => recordingSettings({ PSM_SPOOL_MAX_BYTES: "lots" })).toThrow(/positive integer/);
  });

  it("records a session into the spool and uploads its signed chunks", async () => {
    const bodies: { path: string; jws: string }[] = [];
    const server: Server = createServer((req, res) => {
      bodies.push({ path: req.url ?? "", jws: String(req.headers[CHUNK_HEADER]) });
      req.resume().on("end", () => res.writeHead(201).end());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => server.close());
    const { recordings, identityKey } = await open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    recordings.start();
    const opened = await recordings.begin(session(grant({ required: true, keystrokes: false, id: RID })));
    if (!("recorder" in opened)) throw new Error("not recording");
    opened.recorder.output(new TextEncoder().encode("hello"));
    opened.recorder.end("user_exit");
    await recordings.drain();
    await vi.waitFor(() => expect(recordings.health().chunks).toBe(0));
    expect(bodies.map((b) => b.path)).toEqual([`/connector/recordings/${RID}/chunks/0`]);
    const { payload } = await compactVerify(bodies[0]!.jws, await importJWK(publicJwk(identityKey), "EdDSA"));
    expect(ChunkClaims.parse(JSON.parse(new TextDecoder().decode(payload)))).toMatchObject({
      rid: RID,
      sid: "sess-1",
      final: true,
      out: 5,
    });
  });

  it("says why a session cannot be recorded: a full spool, or uploads failing past the outage bound", async () => {
    const one = fakeChunk(RID, 0, 1);
    const size = one.data.byteLength + one.jws.length;
    const full = await open("http://127.0.0.1:9", { ...recordingSettings({}), spoolMaxBytes: size });
    await full.recordings.spool.add(RID, 0, one.data, one.jws, one.claims);
    expect(await full.recordings.begin(session(grant({ required: true, keystrokes: false, id: RID })))).toEqual({
      unavailable: "spool_full",
    });

    const down = await open("http://127.0.0.1:9", { ...recordingSettings({}), outageMs: 1 });
    expect(await down.recordings.unavailable()).toBeNull();
    await down.recordings.spool.add(RID, 0, one.data, one.jws, one.claims);
    down.recordings.start();
    await vi.waitFor(() => expect(down.recordings.uploader.failingSince).not.toBeNull());
    await new Promise((r) => setTimeout(r, 5));
    expect(await down.recordings.unavailable()).toBe("upload_outage");
  });

  it("puts the spool in the health snapshot and the metrics, and its alert among the errors", async () => {
    let t = 10_000;
    const health = new Health("a", () => t);
    health.spool = () => ({ bytes: 900, limit: 1000, chunks: 3, oldestAt: 4_000, failingSince: 7_000 });
    health.observe("recording.spool_high", { reason: "90%", bytes: 900, limit: 1000 });
    expect(health.lastErrors()).toEqual([{ at: 10_000, event: "recording.spool_high", reason: "90%" }]);
    expect(health.snapshot().spool).toMatchObject({ bytes: 900, chunks: 3 });
    const text = health.prometheus();
    expect(text).toContain("psm_connector_spool_bytes 900");
    expect(text).toContain("psm_connector_spool_limit_bytes 1000");
    expect(text).toContain("psm_connector_spool_chunks 3");
    expect(text).toContain("psm_connector_spool_oldest_age_seconds 6");
    expect(text).toContain("psm_connector_upload_failing_seconds 3");
    t = 20_000;
    health.spool = () => ({ bytes: 0, limit: 1000, chunks: 0, oldestAt: null, failingSince: null });
    expect(health.prometheus()).toContain("psm_connector_upload_failing_seconds 0");
  });
});
