// Recording inside the Workers runtime, through the real routes and the SessionRoom: a session is
// recorded to R2, sealed with a signed manifest that verifies, the room's copy is removed; no
// blind-typed secret reaches the recording; fail-closed and optional policies when the store fails.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeData, encodeMessage } from "../../protocol/index.ts";
import { hasText, liveSession, revive } from "../../worker/test/harness.ts";
import { edgeKey } from "../../worker/keys.ts";
import type { SessionRoom } from "../session-room.ts";
import { chunkKey, gunzip, manifestKey, recordingPrefix, seqOfKey, sha256Hex } from "../../recording/chain.ts";
import { Recorder } from "./recorder.ts";
import { S3Store } from "./s3-store.ts";
import { R2Store, type RecordingStore } from "./store.ts";
import { verifyRecording } from "../../recording/verify.ts";

const CANARY = `canary-${crypto.randomUUID()}`;
const bytes = (text: string) => new TextEncoder().encode(text);
/** Output that gzip cannot shrink much (letters from a PRNG), so the buffer limit is reached for sure. */
function noisy(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = 0x21 + ((x >>> 0) % 90);
  }
  return out;
}

/** An S3 store on a port where nothing listens: every request fails as a down store does. */
const downStore = () =>
  new S3Store({
    endpoint: "http://127.0.0.1:9",
    region: "auto",
    bucket: "b",
    accessKeyId: "k",
    secretAccessKey: "s",
    timeoutMs: 2000,
  });

async function recordingOf(sessionId: string) {
  return env.DB.prepare("SELECT * FROM recordings WHERE session_id = ?")
    .bind(sessionId)
    .first<{ id: string; status: string; complete: number; chunks: number; retain_until: number | null }>();
}

async function storedCast(recordingId: string): Promise<{ cast: string; raw: Uint8Array[] }> {
  const store = new R2Store(env.RECORDINGS!);
  const keys = await store.list(recordingPrefix(recordingId));
  const seqs = keys
    .map(seqOfKey)
    .filter((s): s is number => s !== null)
    .sort((a, b) => a - b);
  const raw: Uint8Array[] = [];
  const texts: string[] = [];
  for (const seq of seqs) {
    const data = (await store.get(chunkKey(recordingId, seq)))!;
    raw.push(data);
    texts.push(new TextDecoder().decode(await gunzip(data)));
  }
  raw.push((await store.get(manifestKey(recordingId))) ?? new Uint8Array());
  return { cast: texts.join(""), raw };
}

async function verifiedInR2(recordingId: string) {
  const { publicJwk } = await edgeKey(env.EDGE_SIGNING_KEY);
  const store = new R2Store(env.RECORDINGS!);
  const { report } = await verifyRecording(
    recordingId,
    {
      manifest: async () => {
        const m = await store.get(manifestKey(recordingId));
        return m && new TextDecoder().decode(m);
      },
      list: async () => (await store.list(recordingPrefix(recordingId))).map(seqOfKey).filter((s) => s !== null),
      chunk: (seq) => store.get(chunkKey(recordingId, seq)),
    },
    publicJwk,
  );
  return report;
}

/** Swaps the room's recorder for one over the same storage whose store the test controls. */
async function controlStore(room: DurableObjectStub<SessionRoom>, bufferLimit?: number) {
  const control = { store: new R2Store(env.RECORDINGS!) as RecordingStore };
  await runInDurableObject(room, async (instance: SessionRoom, state) => {
    const key = await edgeKey(env.EDGE_SIGNING_KEY);
    (instance as unknown as { recorderInstance: Recorder }).recorderInstance = new Recorder({
      storage: state.storage,
      store: async () => control.store,
      signingKey: async () => key.privateKey,
      db: env.DB,
      alert: async () => {},
      ...(bufferLimit ? { bufferLimit } : {}),
    });
  });
  return control;
}

describe("session recording", { timeout: 30_000 }, () => {
  it("records output, echoed input, resizes and markers to R2; the manifest verifies; no secret is kept", async () => {
    const { id, connector, user, room } = await liveSession({ recording_required: 1, record_keystrokes: 1 });
    connector.ws.send(encodeData(bytes("admin@db1:~$ ")));
    await user.next((c) => c.binaries.length === 1, "prompt");
    // Typed like a person: each key's echo is on screen before the next key (the echo gate decides by
    // what the output shows next, so a key sent before the previous echo arrived would count as blind).
    for (const ch of "whoami") {
      const before = { input: connector.binaries.length, echo: user.binaries.length };
      user.ws.send(encodeData(bytes(ch)));
      await connector.next((c) => c.binaries.length > before.input, "input");
      connector.ws.send(encodeData(bytes(ch)));
      await user.next((c) => c.binaries.length > before.echo, "echo");
    }
    user.ws.send(encodeData(bytes("\r")));
    connector.ws.send(encodeData(bytes("\r\nadmin\r\nadmin@db1:~$ sudo -k true\r\n[sudo] password for admin: ")));
    await user.next((c) => c.binaries.length >= 8, "echo and output");
    // Typed blind at a password prompt: must not be recorded.
    user.ws.send(encodeData(bytes(`${CANARY}\r`)));
    await new Promise((r) => setTimeout(r, 50));
    connector.ws.send(encodeData(bytes("\r\nadmin@db1:~$ ")));
    user.ws.send(encodeMessage({ type: "resize", cols: 100, rows: 30 }));
    await connector.next(hasText("resize", { cols: 100, rows: 30 }), "resize");
    await user.next((c) => c.binaries.length >= 9, "after password");
    expect(await room.extend(Date.now() + 3_600_000, "grant-for-test")).toBe(true);

    connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
    await user.next(hasText("ended", { reason: "user_exit" }), "ended");

    let row = await recordingOf(id);
    for (let i = 0; i < 100 && row?.status !== "stored"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      row = await recordingOf(id);
    }
    expect(row).toMatchObject({ status: "stored", complete: 1 });
    expect(row!.retain_until).toBeGreaterThan(Date.now() + 89 * 86_400_000);

    expect(await verifiedInR2(row!.id)).toMatchObject({ status: "verified", problems: [] });

    const { cast, raw } = await storedCast(row!.id);
    const events = cast
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]);
    expect(JSON.parse(cast.split("\n")[0]!)).toMatchObject({ version: 2 });
    const markers = events.filter((e) => e[1] === "m").map((e) => e[2]);
    expect(markers).toEqual(["start", "connected", expect.stringMatching(/^extension: until /), "end: user_exit"]);
    expect(events.filter((e) => e[1] === "r").map((e) => e[2])).toEqual(["120x40", "100x30"]);
    expect(
      events
        .filter((e) => e[1] === "i")
        .map((e) => e[2])
        .join(""),
    ).toBe("whoami\r\r");
    expect(
      events
        .filter((e) => e[1] === "o")
        .map((e) => e[2])
        .join(""),
    ).toContain("[sudo] password for admin: ");
    // The canary is nowhere: not in the text, not in any stored byte (gzip or manifest).
    expect(cast).not.toContain(CANARY);
    for (const data of raw) expect(new TextDecoder("latin1").decode(data)).not.toContain(CANARY.slice(0, 12));
    // Flushed and verified: the room keeps nothing of it.
    await runInDurableObject(room, async (_i, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM rec_chunks").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM rec_batches").one().n).toBe(0);
    });
  });

  it("R2 refuses an upload whose bytes do not match its SHA-256 (what lets the room skip the read-back)", async () => {
    const store = new R2Store(env.RECORDINGS!);
    const data = bytes("chunk bytes");
    await expect(store.put("recordings/check/x", data, "0".repeat(64))).rejects.toThrow();
    expect(await store.get("recordings/check/x")).toBeNull();
    await store.put("recordings/check/x", data, await sha256Hex(data));
    expect(await store.get("recordings/check/x")).toEqual(data);
  });

  it("a room rebuilt after eviction goes on with the same recording: nothing lost, nothing twice, it verifies", async () => {
    const { id, connector, user, room } = await liveSession();
    connector.ws.send(encodeData(bytes("before-eviction\r\n")));
    await user.next((c) => c.binaries.length === 1, "first output");
    await new Promise((r) => setTimeout(r, 60)); // past the 20 ms line batch
    await runInDurableObject(room, async (_live, state) => {
      const revived = await revive(state);
      const [connectorSide] = state.getWebSockets("connector");
      await revived.webSocketMessage(connectorSide!, encodeData(bytes("after-eviction\r\n")).buffer as ArrayBuffer);
      // Its saved end (0) is older than its last byte (17): it asks where the output starts, and the
      // connector resends everything it holds. Only the bytes after the dropped ones are new to anyone.
      await connector.next(hasText("attach", { from: 0 }), "resync attach");
      await revived.webSocketMessage(connectorSide!, encodeMessage({ type: "sync", from: 0, to: 33 }));
      const resend = bytes("before-eviction\r\nafter-eviction\r\n");
      await revived.webSocketMessage(connectorSide!, encodeData(resend).buffer as ArrayBuffer);
      await revived.end("user_exit");
    });
    await user.next((c) => c.binaries.length === 2, "the new output, once");
    expect(user.texts).toContainEqual({ type: "sync", at: 17, reset: false });
    expect(user.binaries.map((b) => new TextDecoder().decode(b.slice(1)))).toEqual([
      "before-eviction\r\n",
      "after-eviction\r\n",
    ]);
    await user.next(hasText("ended"), "ended");
    let row = await recordingOf(id);
    for (let i = 0; i < 100 && row?.status !== "stored"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      row = await recordingOf(id);
    }
    expect(row?.status).toBe("stored");
    const { cast } = await storedCast(row!.id);
    const out = cast
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]);
    expect(out.filter((e) => e[1] === "o").map((e) => e[2])).toEqual(["before-eviction\r\n", "after-eviction\r\n"]);
    expect(out.filter((e) => e[1] === "m").map((e) => e[2])).toEqual(["start", "connected", "end: user_exit"]);
    expect(await verifiedInR2(row!.id)).toMatchObject({ status: "verified", problems: [] });
  });

  it("keeps chunks in the room while the store is down and flushes them once it is back", async () => {
    const { id, connector, user, room } = await liveSession();
    const control = await controlStore(room);
    control.store = downStore();
    connector.ws.send(encodeData(new Uint8Array(60_000).fill(0x61)));
    connector.ws.send(encodeData(new Uint8Array(60_000).fill(0x62)));
    await user.next((c) => c.binaries.length === 2, "output");
    connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
    await user.next(hasText("ended"), "ended");
    const row = await recordingOf(id);
    expect(row!.status).toBe("sealed"); // manifest signed, upload pending
    await runInDurableObject(room, async (_i, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM rec_chunks WHERE data IS NOT NULL").one().n).toBe(
        row!.chunks,
      );
      const timers = (await state.storage.get<Record<string, number>>("timers"))!;
      expect(timers.record).toBeGreaterThan(Date.now()); // a retry is scheduled on the room's alarm
    });
    control.store = new R2Store(env.RECORDINGS!);
    await runInDurableObject(room, async (_i, state) => {
      await state.storage.put("timers", { record: Date.now() - 1 });
    });
    await runInDurableObject(room, async (instance: SessionRoom) => instance.alarm());
    expect((await recordingOf(id))!.status).toBe("stored");
    const { cast } = await storedCast(row!.id);
    expect(cast).toContain("a".repeat(60_000));
    expect(cast).toContain("b".repeat(60_000));
  });

  it("required recording: the session ends with recording_unavailable at the buffer limit", async () => {
    const { connector, user, room } = await liveSession({ recording_required: 1 });
    const control = await controlStore(room, 256 * 1024);
    control.store = downStore();
    for (let i = 0; i < 8; i++) connector.ws.send(encodeData(noisy(60_000, i + 1)));
    await user.next(hasText("ended", { reason: "recording_unavailable" }), "ended for recording");
    await connector.next(hasText("end", { reason: "recording_unavailable" }), "connector told");
  });

  it("optional recording: past the buffer limit the session goes on, the recording is marked incomplete, an alert is raised", async () => {
    const { id, connector, user, room } = await liveSession();
    const alerts: string[] = [];
    const control = await controlStore(room, 256 * 1024);
    await runInDurableObject(room, async (instance: SessionRoom) => {
      const r = (instance as unknown as { recorderInstance: Recorder }).recorderInstance;
      (r as unknown as { deps: { alert: (s: unknown, d: string) => Promise<void> } }).deps.alert = async (_s, d) => {
        alerts.push(d);
      };
    });
    control.store = downStore();
    for (let i = 0; i < 8; i++) connector.ws.send(encodeData(noisy(60_000, i + 1)));
    await user.next((c) => c.binaries.length === 8, "all output relayed");
    expect(user.texts.some((m) => (m as { type: string }).type === "ended")).toBe(false);
    expect(alerts.some((a) => a.includes("buffer limit"))).toBe(true);
    control.store = new R2Store(env.RECORDINGS!);
    connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
    await user.next(hasText("ended", { reason: "user_exit" }), "ended normally");
    const row = await recordingOf(id);
    expect(row).toMatchObject({ status: "stored", complete: 0 });
  });

  it("fail closed at start: a required recording whose store is down refuses the session; optional starts with an alert", async () => {
    const meta = (required: boolean) => ({
      sessionId: crypto.randomUUID(),
      userId: "u",
      username: "u",
      serverId: "s",
      siteId: "site",
      deadline: Date.now() + 60_000,
      recording: { required, keystrokes: false, zoneId: "z" },
    });
    for (const required of [true, false]) {
      const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(crypto.randomUUID()));
      const alerts: string[] = [];
      const result = await runInDurableObject(room, async (instance: SessionRoom, state) => {
        const key = await edgeKey(env.EDGE_SIGNING_KEY);
        (instance as unknown as { recorderInstance: Recorder }).recorderInstance = new Recorder({
          storage: state.storage,
          store: async () => downStore(),
          signingKey: async () => key.privateKey,
          db: env.DB,
          alert: async (_s, d) => void alerts.push(d),
        });
        return instance.init(meta(required));
      }).catch((err: Error) => ({ error: err.message }));
      if (required) {
        expect(result).toEqual({ recording: false });
        expect(alerts).toEqual([]);
      } else {
        // Optional: the recording starts (the D1 row needs real session rows, so only the alert is checked).
        expect(alerts).toEqual(["object store unavailable at session start; chunks wait in the room"]);
      }
    }
  });
});
