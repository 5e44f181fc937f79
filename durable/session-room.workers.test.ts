// SessionRoom and ConnectorHub inside the Workers runtime: dispatch, pairing and relay both ways
// with flow control, protocol errors isolated to one socket, rebuild after hibernation, and the
// deadline alarm.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  CloseCode,
  decodeFrame,
  encodeCredit,
  encodeData,
  encodeMessage,
  PROTOCOL_VERSION,
} from "../protocol/index.ts";
import {
  api,
  changeRoomMeta,
  checkout,
  type Client,
  connectControl,
  expireTimer,
  hasText,
  liveSession,
  login,
  openSocket,
  openViewer,
  ORIGIN,
  seedSite,
  seedUser,
  revive,
} from "../worker/test/harness.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const payloads = (c: Client) => c.binaries.map((b) => decodeFrame(b));

describe("SessionRoom relay", () => {
  it("dispatches a signed grant to the site's connector and pairs both sockets", async () => {
    const { open, connector, user, id } = await liveSession();
    expect(open.grant.split(".")).toHaveLength(3);
    // The browser never sees the grant, and the connector gets the browser's size first.
    expect(JSON.stringify(user.texts)).not.toContain(open.grant.slice(0, 20));
    expect(connector.texts).toContainEqual({ type: "resize", cols: 120, rows: 40 });
    const row = await env.DB.prepare("SELECT status FROM sessions WHERE id = ?").bind(id).first<{ status: string }>();
    expect(row!.status).toBe("active");
  });

  it("relays terminal bytes both ways and passes credit to the connector", async () => {
    const { connector, user } = await liveSession();
    connector.ws.send(encodeData(bytes("root@db1:~# ")));
    await user.next((c) => c.binaries.length === 1, "output");
    expect(payloads(user)).toEqual([{ kind: "data", payload: bytes("root@db1:~# ") }]);
    user.ws.send(encodeData(bytes("id\r")));
    user.ws.send(encodeCredit(12));
    await connector.next((c) => c.binaries.length === 2, "input and credit");
    // Input waits for the recording's turn; credit does not: their order to the connector is free.
    expect(payloads(connector)).toEqual(
      expect.arrayContaining([
        { kind: "data", payload: bytes("id\r") },
        { kind: "credit", bytes: 12 },
      ]),
    );
    user.ws.send(encodeMessage({ type: "resize", cols: 90, rows: 20 }));
    await connector.next(hasText("resize", { cols: 90, rows: 20 }), "resize");
  });

  it("closes only the offending socket on a malformed or oversized frame", async () => {
    const { connector, user, id, cookie } = await liveSession();
    user.ws.send(new Uint8Array([0x09, 1, 2]));
    await user.next((c) => c.closed !== undefined, "user closed");
    expect(user.closed!.code).toBe(CloseCode.ProtocolError);
    // The session lives on: a new browser socket attaches and the relay still works.
    const again = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    again.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    await again.next(hasText("status", { state: "connected" }), "reattached");
    // A fresh page: the connector resends from the end of what the room witnessed (nothing is
    // outstanding here), so output dropped while an attach was pending still reaches the recording.
    await connector.next(hasText("attach", { acked: 0, from: 0 }), "attach for the new page");
    connector.ws.send(encodeMessage({ type: "sync", from: 0, to: 0 }));
    await again.next(hasText("sync", { at: 0, reset: false }), "sync");
    connector.ws.send(encodeData(bytes("still here")));
    await again.next((c) => c.binaries.length === 1, "output after reattach");
    again.ws.send(new Uint8Array(70 * 1024).fill(1));
    await again.next((c) => c.closed !== undefined, "oversized closes");
    expect(again.closed!.code).toBe(CloseCode.ProtocolError);
    const bad = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    bad.ws.send('{"type":"resize","cols":80,"rows":24}');
    await bad.next((c) => c.closed !== undefined, "resize before hello closes");
    expect(bad.closed!.code).toBe(CloseCode.ProtocolError);
    expect(connector.closed).toBeUndefined();
  });

  it("refuses another protocol version with a fatal code", async () => {
    const { id, cookie } = await liveSession();
    const old = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    old.ws.send(encodeMessage({ type: "hello", v: 99, cols: 80, rows: 24 }));
    await old.next((c) => c.closed !== undefined, "closed");
    expect(old.closed!.code).toBe(CloseCode.VersionMismatch);
  });

  it("relays with a fresh instance after hibernation, from storage and attachments alone", async () => {
    const { connector, user, room } = await liveSession();
    await runInDurableObject(room, async (_live, state) => {
      // A new object over the same state is what the runtime builds after evicting the old one. Nothing
      // was witnessed since the end was saved (at "connected"), so it knows its end and relays at once.
      const revived = await revive(state);
      const [connectorSide] = state.getWebSockets("connector");
      const [userSide] = state.getWebSockets("user");
      await revived.webSocketMessage(connectorSide!, encodeData(bytes("after nap")).buffer as ArrayBuffer);
      await revived.webSocketMessage(userSide!, encodeCredit(9).buffer as ArrayBuffer);
    });
    await user.next((c) => c.binaries.length === 1, "output via revived room");
    expect(payloads(user)).toEqual([{ kind: "data", payload: bytes("after nap") }]);
    await connector.next((c) => c.binaries.length === 1, "credit via revived room");
  });

  it("ends the session at its deadline whether or not a browser is attached", async () => {
    const { connector, user, room, id } = await liveSession();
    user.ws.close(1000);
    await expireTimer(room, "deadline");
    expect(await runDurableObjectAlarm(room)).toBe(true);
    await connector.next(hasText("end", { reason: "time_limit" }), "end to connector");
    await connector.next((c) => c.closed !== undefined, "connector closed");
    expect(connector.closed!.code).toBe(CloseCode.Ended);
    const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE id = ?").bind(id).first();
    expect(row).toEqual({ status: "ended", end_reason: "time_limit" });
  });

  it("tells the browser why when the connector drops or ends the session", async () => {
    const first = await liveSession();
    first.connector.ws.close(1011, "gone");
    // The connector has CONNECTOR_RESUME_GRACE_MS to come back; then the session ends.
    await first.user.next(hasText("status", { state: "reconnecting" }), "reconnecting");
    expect(await expireTimer(first.room, "reconnect")).toBeGreaterThan(Date.now());
    expect(await runDurableObjectAlarm(first.room)).toBe(true);
    await first.user.next(hasText("ended", { reason: "connector_lost" }), "connector_lost");
    await first.user.next((c) => c.closed !== undefined, "user closed");
    expect(first.user.closed!.code).toBe(CloseCode.Ended);

    const second = await liveSession();
    second.connector.ws.send(encodeMessage({ type: "end", reason: "host_key_mismatch" }));
    await second.user.next(hasText("ended", { reason: "host_key_mismatch" }), "reason");
  });

  it("ends a session the connector rejected, but only for the connector's own site", async () => {
    const { control, user, id } = await liveSession();
    const stranger = await seedSite();
    const strangerControl = await connectControl(stranger);
    strangerControl.ws.send(encodeMessage({ type: "rejected", sessionId: id, reason: "grant_rejected" }));
    await new Promise((r) => setTimeout(r, 100));
    expect(user.texts).not.toContainEqual({ type: "ended", reason: "grant_rejected" });
    control.ws.send(encodeMessage({ type: "rejected", sessionId: id, reason: "grant_rejected" }));
    await user.next(hasText("ended", { reason: "grant_rejected" }), "rejected");
  });

  it("answers 503 connector_unavailable when no connector of the site is online", async () => {
    const site = await seedSite();
    await site.entitle(await seedUser("lonely", "lonely-password-1", ["requester"]));
    const cookie = await login("lonely", "lonely-password-1");
    const { id: checkoutId } = await checkout(cookie, site);
    const res = await api("/api/sessions", { method: "POST", cookie, body: { checkoutId } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("connector_unavailable");
  });
});

describe("SessionRoom time limits and idle", () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("warns the user before the deadline", async () => {
    const { user, room } = await liveSession();
    const deadline = await runInDurableObject(room, async (_instance, state) => {
      return (await state.storage.get<Record<string, number>>("timers"))!.deadline!;
    });
    await expireTimer(room, "warn");
    expect(await runDurableObjectAlarm(room)).toBe(true);
    await user.next(hasText("warning", { reason: "time_limit", at: deadline }), "time warning");
    // The next warning (5 minutes before; then 1 minute) is queued, and the session goes on.
    await runInDurableObject(room, async (_instance, state) => {
      const timers = (await state.storage.get<Record<string, number>>("timers"))!;
      expect(timers.warn).toBe(deadline - 5 * 60_000);
    });
    expect(user.closed).toBeUndefined();
  });

  it("warns an idle session, resets on input, then ends it as idle", async () => {
    const { user, connector, room } = await liveSession();
    const idleMs = 3000;
    await changeRoomMeta(room, { idleMs });
    const fire = async () => {
      await expireTimer(room, "idle");
      await runDurableObjectAlarm(room);
    };
    await sleep(1700);
    await fire();
    await user.next(hasText("warning", { reason: "idle" }), "idle warning");
    // Typing counts as activity: the next check finds the session busy.
    user.ws.send(encodeData(bytes("ls\r")));
    await connector.next((c) => c.binaries.length === 1, "input relayed");
    await sleep(1700);
    await fire();
    expect(user.texts).not.toContainEqual(expect.objectContaining({ type: "ended" }));
    await sleep(3100);
    await fire();
    await user.next(hasText("ended", { reason: "idle" }), "ended idle");
  }, 20_000);
});

describe("SessionRoom live view", () => {
  const text = (c: Client) =>
    new TextDecoder().decode(Buffer.concat(payloads(c).map((f) => (f.kind === "data" ? f.payload : new Uint8Array()))));

  it("shows a late viewer the current screen at once, then live output; the viewer never types", async () => {
    const { id, user, connector } = await liveSession();
    connector.ws.send(encodeData(bytes("boot noise\x1b[H\x1b[2Jroot@db1:~# ls\r\nbackup.tgz\r\n")));
    await user.next((c) => c.binaries.length === 1, "user output");
    const viewer = await openViewer(id);
    await viewer.next((c) => text(c).includes("backup.tgz"), "snapshot");
    expect(text(viewer)).not.toContain("boot noise");
    await user.next(hasText("watchers", { count: 1 }), "user told");
    connector.ws.send(encodeData(bytes("live line\r\n")));
    await viewer.next((c) => text(c).includes("live line"), "live");
    viewer.ws.send(encodeData(bytes("rm -rf /\r")));
    viewer.ws.send(encodeMessage({ type: "resize", cols: 10, rows: 5 }));
    user.ws.send(encodeData(bytes("pwd\r")));
    await connector.next((c) => c.binaries.length >= 1, "user input");
    await new Promise((r) => setTimeout(r, 100));
    expect(text(connector)).toBe("pwd\r");
    expect(connector.texts).not.toContainEqual({ type: "resize", cols: 10, rows: 5 });
    viewer.ws.close(1000);
    await user.next(hasText("watchers", { count: 0 }), "viewer gone");
  });

  it("skips a viewer that stops reading and resyncs it later; the session never waits", async () => {
    const { id, user, connector } = await liveSession();
    const viewer = await openViewer(id);
    await viewer.next(hasText("status"), "viewer ready");
    const chunk = new Uint8Array(60 * 1024).fill(0x61);
    for (let i = 0; i < 24; i++) connector.ws.send(encodeData(chunk)); // 1.4 MiB, the viewer credits nothing
    await user.next((c) => c.binaries.length === 24, "user got everything");
    await new Promise((r) => setTimeout(r, 100));
    const seen = viewer.binaries.length;
    expect(seen).toBeLessThan(25);
    // It credits exactly what it was sent (crediting more would be refused as a protocol violation).
    const received = viewer.binaries.reduce((n, b) => {
      const frame = decodeFrame(b);
      return n + (frame.kind === "data" ? frame.payload.byteLength : 0);
    }, 0);
    viewer.ws.send(encodeCredit(received));
    await viewer.next((c) => c.binaries.length > seen, "resync");
    expect(text(viewer).includes("\x1bc")).toBe(true);
  });

  it("refuses to be watched where policy forbids live view", async () => {
    const site = await seedSite({ live_view_allowed: 0 });
    const username = `nv-${crypto.randomUUID().slice(0, 6)}`;
    await site.entitle(await seedUser(username, "user-password-1", ["requester"]));
    const cookie = await login(username, "user-password-1");
    await connectControl(site);
    const { id: checkoutId } = await checkout(cookie, site);
    const { id } = (await (await api("/api/sessions", { method: "POST", cookie, body: { checkoutId } })).json()) as {
      id: string;
    };
    await expect(openViewer(id)).rejects.toThrow(/403/);
  });
});
