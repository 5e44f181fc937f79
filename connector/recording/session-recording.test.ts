// A recorded TargetSession's start against a stand-in room (ws on port 0), no target needed: a
// required recording the spool cannot take ends the session with `recording_unavailable` before any
// target connection; an optional one tells the room it is failing once and goes on unrecorded.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebSocketServer } from "ws";
import type { GrantClaims } from "../../protocol/index.ts";
import { generateIdentityKey, generateSealKey } from "../keys.ts";
import { TargetSession } from "../session.ts";
import type { ConnectorState } from "../state.ts";
import { TargetRefused } from "../target-connect.ts";
import { fakeChunk } from "./fixtures.ts";
import { Recordings, recordingSettings } from "./recordings.ts";

const RID = "3d9c7f5b-ae40-4b6d-9f8c-4a5b6c7d8e9f";
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A room that records the control messages it gets, and recordings whose spool is already full. */
async function setup() {
  const room = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => room.once("listening", r));
  const received: { type: string; [k: string]: unknown }[] = [];
  room.on("connection", (ws) => ws.on("message", (data, bin) => !bin && received.push(JSON.parse(data.toString()))));
  const stateDir = await mkdtemp(join(tmpdir(), "psm-rec-session-"));
  const state: ConnectorState = {
    edgeUrl: `http://127.0.0.1:${(room.address() as { port: number }).port}`,
    connectorId: "c-test",
    siteId: "s-test",
    identityKey: await generateIdentityKey(),
    sealKey: await generateSealKey(),
    edgeKey: {},
  };
  const one = fakeChunk(RID, 0, 1);
  const settings = { ...recordingSettings({}), spoolMaxBytes: one.data.byteLength + one.jws.length };
  const recordings = await Recordings.open(stateDir, state, () => {}, settings);
  await recordings.spool.add(RID, 0, one.data, one.jws, one.claims);
  cleanups.push(
    () => new Promise<void>((r) => room.close(() => r())),
    () => rm(stateDir, { recursive: true, force: true }),
  );
  return { state, recordings, received };
}

function grant(required: boolean): GrantClaims {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: "psm-edge",
    sub: "sess-rec",
    aud: "site:s-test",
    jti: "j",
    iat: now,
    exp: now + 60,
    dl: now + 600,
    usr: { id: "u", name: "alice" },
    tgt: { host: "10.0.0.1", port: 22, protocol: "ssh", hostKey: `SHA256:${"A".repeat(43)}` },
    cred: { id: "c", username: "root", kind: "password", sealed: "a.b.c.d.e" },
    rec: { required, keystrokes: false, id: RID },
    ch: ["shell"],
  };
}

describe("a recorded session's start", () => {
  it("ends a required recording's session with recording_unavailable before touching the target", async () => {
    const { state, recordings, received } = await setup();
    const resolveTarget = vi.fn(async (host: string) => host);
    const ended = vi.fn();
    const session = new TargetSession(state, "sess-rec", grant(true), () => {}, ended, { resolveTarget }, recordings);
    await session.start();
    await vi.waitFor(() => expect(received.map((m) => m.type)).toContain("end"));
    expect(received.find((m) => m.type === "end")).toEqual({ type: "end", reason: "recording_unavailable" });
    expect(resolveTarget).not.toHaveBeenCalled();
    expect(ended).toHaveBeenCalledWith("sess-rec");
  });

  it("lets an optional recording's session go on unrecorded, telling the room once", async () => {
    const { state, recordings, received } = await setup();
    const resolveTarget = vi.fn(async (host: string): Promise<string> => {
      throw new TargetRefused(host, "outside_allowed_ranges");
    });
    const session = new TargetSession(
      state,
      "sess-rec",
      grant(false),
      () => {},
      () => {},
      { resolveTarget },
      recordings,
    );
    await session.start();
    await vi.waitFor(() => expect(received.map((m) => m.type)).toContain("end"));
    expect(received.filter((m) => m.type === "recording")).toEqual([
      { type: "recording", state: "failing", detail: "spool_full" },
    ]);
    expect(resolveTarget).toHaveBeenCalled();
    expect(received.find((m) => m.type === "end")).toEqual({ type: "end", reason: "target_refused" });
  });

  it("fails closed without a spool at all", async () => {
    const { state, received } = await setup();
    const session = new TargetSession(
      state,
      "sess-rec",
      grant(true),
      () => {},
      () => {},
    );
    await session.start();
    await vi.waitFor(() => expect(received.find((m) => m.type === "end")).toBeDefined());
    expect(received.find((m) => m.type === "end")).toEqual({ type: "end", reason: "recording_unavailable" });
  });
});
