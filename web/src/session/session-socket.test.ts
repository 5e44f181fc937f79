// The page's session socket notices a stalled connection (no close event ever comes: a sleeping laptop, a
// dead NAT entry) within about 10 s of silence, and shows it as reconnecting; a live one stays connected.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CREDIT_BATCH,
  decodeFrame,
  encodeData,
  type Moderation,
  PONG,
  PROTOCOL_VERSION,
} from "../../../protocol/index.ts";
import { SessionSocket, type SessionSocketEvents, type SocketEndpoint, type SocketState } from "./session-socket.ts";

class FakeSocket {
  static OPEN = 1;
  static made: FakeSocket[] = [];
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  binaryType = "";
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(data: unknown) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  receive(data: unknown) {
    this.onmessage?.({ data });
  }
}

/** The socket's answers to the room (hello, then connected), as one attach. */
function attach(ws: FakeSocket) {
  ws.onopen?.();
  ws.receive(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, sessionId: "s1", deadline: Date.now() + 3_600_000 }));
  ws.receive(JSON.stringify({ type: "status", state: "connected" }));
}

/** A started socket to session s1; `events` replace the no-op defaults (output is rendered at once). */
function open(endpoint: SocketEndpoint, events: Partial<SessionSocketEvents> = {}) {
  const socket = new SessionSocket(
    {
      sessionId: "s1",
      endpoint,
      size: () => ({ cols: 80, rows: 24 }),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    },
    {
      state: () => {},
      deadline: () => {},
      output: (_payload, rendered) => rendered(),
      reset: () => {},
      warning: () => {},
      stopped: () => {},
      error: () => {},
      ...events,
    },
  );
  socket.start();
  return socket;
}

function connect(endpoint: SocketEndpoint = "ws") {
  const states: SocketState[] = [];
  const moderation: Moderation[] = [];
  const socket = open(endpoint, { moderation: (m) => moderation.push(m), state: (st) => states.push(st) });
  const ws = FakeSocket.made.at(-1)!;
  attach(ws);
  return { socket, ws, states, moderation };
}

describe("SessionSocket heartbeat", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("location", { protocol: "http:", host: "psm.test" });
    FakeSocket.made = [];
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("shows a stalled socket as reconnecting within about 10 s, and dials again", async () => {
    const { socket, ws, states } = connect();
    expect(socket.state).toBe("connected");
    await vi.advanceTimersByTimeAsync(3_000);
    expect(ws.sent).toContain('{"type":"ping"}');
    ws.receive(PONG);
    // From here nothing arrives, and no close event either.
    await vi.advanceTimersByTimeAsync(12_000);
    expect(states).toContain("reconnecting");
    // And it dials again once the backoff passes.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSocket.made.length).toBe(2);
  });

  it("stays connected while the edge answers its pings", async () => {
    const { socket, ws, states } = connect();
    for (let i = 0; i < 20; i++) {
      await vi.advanceTimersByTimeAsync(3_000);
      ws.receive(PONG);
    }
    expect(socket.state).toBe("connected");
    expect(states).not.toContain("reconnecting");
  });
});

// A moderator's socket (moderated sessions, docs/governance.md): read-only like a live view, every output byte
// counted for credit, the room's moderation state passed on, and the moderator's commands sent on it only.
describe("SessionSocket as a moderator", () => {
  beforeEach(() => {
    vi.stubGlobal("location", { protocol: "http:", host: "psm.test" });
    FakeSocket.made = [];
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const sentJson = (ws: FakeSocket) =>
    ws.sent.filter((d): d is string => typeof d === "string" && d.startsWith("{")).map((d) => JSON.parse(d));

  it("opens /moderate, sends no input, and passes the room's moderation state on", () => {
    const { socket, ws, moderation } = connect("moderate");
    expect(ws.url).toBe("ws://psm.test/api/sessions/s1/moderate");
    expect(socket.sendInput("ls\r")).toBe(false);
    const state = { type: "moderation", required: 1, moderators: ["mona"], locked: false } as const;
    ws.receive(JSON.stringify(state));
    expect(moderation).toEqual([state]);
  });

  it("sends no command before the room answered its hello (the room expects a hello first)", () => {
    const socket = new SessionSocket(
      {
        sessionId: "s1",
        endpoint: "moderate",
        size: () => ({ cols: 80, rows: 24 }),
        WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      },
      {
        state: () => {},
        deadline: () => {},
        output: () => {},
        reset: () => {},
        warning: () => {},
        stopped: () => {},
        error: () => {},
      },
    );
    socket.start();
    const ws = FakeSocket.made.at(-1)!;
    ws.onopen?.();
    expect(socket.moderate("end")).toBe(false);
    expect(sentJson(ws).map((m) => m.type)).toEqual(["hello"]);
  });

  it("sends lock, unlock and end; a user's socket sends none", () => {
    const { socket, ws } = connect("moderate");
    expect(socket.moderate("lock", 30)).toBe(true);
    expect(socket.moderate("unlock")).toBe(true);
    expect(socket.moderate("end")).toBe(true);
    expect(sentJson(ws).filter((m) => m.type === "moderate")).toEqual([
      { type: "moderate", action: "lock", seconds: 30 },
      { type: "moderate", action: "unlock" },
      { type: "moderate", action: "end" },
    ]);
    const user = connect("ws");
    expect(user.socket.moderate("end")).toBe(false);
    expect(sentJson(user.ws).some((m) => m.type === "moderate")).toBe(false);
  });

  it("returns credit for everything it renders, as a live view does", () => {
    const { ws } = connect("moderate");
    // Output arrives with no sync before it (viewers get none): it is connector output all the same.
    const chunk = new Uint8Array(CREDIT_BATCH / 4).fill(0x61);
    for (let i = 0; i < 4; i++) ws.receive(encodeData(chunk).slice().buffer);
    const credits = ws.sent.filter((d) => d instanceof Uint8Array).map((d) => decodeFrame(d as Uint8Array));
    expect(credits).toEqual([{ kind: "credit", bytes: CREDIT_BATCH }]);
  });
});

// A person the session's user invited (shared sessions, docs/governance.md): the `join` socket sends what they type,
// never a resize (a viewer's size does not drive the session), returns credit like a live view, and passes on who
// writes and who is typing.
describe("SessionSocket joined to a shared session", () => {
  beforeEach(() => {
    vi.stubGlobal("location", { protocol: "http:", host: "psm.test" });
    FakeSocket.made = [];
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  function joined() {
    const participants: unknown[] = [];
    const typing: string[] = [];
    const socket = open("join", {
      participants: (p) => participants.push(p),
      typing: (name) => typing.push(name),
    });
    const ws = FakeSocket.made.at(-1)!;
    attach(ws);
    return { socket, ws, participants, typing };
  }

  it("opens /join with a viewer's hello and sends typed input as DATA frames, never a resize", () => {
    const { socket, ws } = joined();
    expect(ws.url).toBe("ws://psm.test/api/sessions/s1/join");
    const hello = JSON.parse(ws.sent[0] as string);
    expect(hello).toEqual({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 });
    expect(socket.sendInput("echo hi\r")).toBe(true);
    const frames = ws.sent.filter((d) => d instanceof Uint8Array).map((d) => decodeFrame(d as Uint8Array));
    expect(frames).toEqual([{ kind: "data", payload: new TextEncoder().encode("echo hi\r") }]);
    socket.resize(100, 40);
    expect(ws.sent.filter((d) => typeof d === "string" && d.includes("resize"))).toEqual([]);
  });

  it("passes on the room's participants and typing messages", () => {
    const { ws, participants, typing } = joined();
    const state = { type: "participants", user: "alice", writers: ["bob"] };
    ws.receive(JSON.stringify(state));
    ws.receive(JSON.stringify({ type: "typing", name: "alice" }));
    expect(participants).toEqual([state]);
    expect(typing).toEqual(["alice"]);
  });

  it("returns credit for what it renders, as a live view does", () => {
    const { ws } = joined();
    const chunk = new Uint8Array(CREDIT_BATCH).fill(0x61);
    ws.receive(encodeData(chunk).slice().buffer);
    const credits = ws.sent.filter((d) => d instanceof Uint8Array).map((d) => decodeFrame(d as Uint8Array));
    expect(credits).toEqual([{ kind: "credit", bytes: CREDIT_BATCH }]);
  });
});

// The session user's own socket: it counts the output offset from the room's `sync` and resumes from it after a drop;
// it returns credit in CREDIT_BATCH steps for counted output only, never on a socket that replaced the one the bytes
// came on; and it retries with capped, jittered backoff that starts afresh once the room says hello again.
describe("SessionSocket as the session's user: resume, credit and backoff", () => {
  let resets: number;
  let render: (() => void)[];
  let stops: unknown[];
  beforeEach(() => {
    vi.useFakeTimers();
    vi.stubGlobal("location", { protocol: "http:", host: "psm.test" });
    vi.spyOn(Math, "random").mockReturnValue(0);
    FakeSocket.made = [];
    resets = 0;
    render = [];
    stops = [];
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  const user = () =>
    open("ws", {
      // The page renders later: each `rendered` is kept and called by the test.
      output: (_payload, rendered) => render.push(rendered),
      reset: () => resets++,
      stopped: (stop) => stops.push(stop),
    });
  const hello = (ws: FakeSocket) =>
    JSON.parse(ws.sent.find((d) => typeof d === "string" && d.includes('"hello"')) as string);
  const data = (bytes: number) => encodeData(new Uint8Array(bytes).fill(0x61)).slice().buffer;
  const credits = (ws: FakeSocket) =>
    ws.sent.filter((d) => d instanceof Uint8Array).map((d) => decodeFrame(d as Uint8Array));

  it("resumes from the offset it received, and clears the screen when the room says the resume cannot be honoured", async () => {
    const socket = user();
    const first = FakeSocket.made.at(-1)!;
    attach(first);
    expect(hello(first)).not.toHaveProperty("resume");
    first.receive(JSON.stringify({ type: "sync", at: 1_000, reset: true }));
    expect(resets).toBe(1);
    first.receive(data(300));
    first.receive(data(200));
    first.onclose?.({ code: 1006 });
    expect(socket.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(250);
    const second = FakeSocket.made.at(-1)!;
    expect(second).not.toBe(first);
    second.onopen?.();
    expect(hello(second)).toMatchObject({ type: "hello", resume: 1_500 });
    // The room could not resume from there: it says where the stream stands now, with a reset and a repaint.
    second.receive(JSON.stringify({ type: "sync", at: 9_000, reset: true }));
    expect(resets).toBe(2);
  });

  it("credits rendered output in CREDIT_BATCH steps, not a repaint before the first sync, nor on a newer socket", async () => {
    user();
    const first = FakeSocket.made.at(-1)!;
    attach(first);
    // A repaint before the room's sync is not connector output: rendering it returns no credit.
    const quarter = CREDIT_BATCH / 4;
    for (let i = 0; i < 4; i++) first.receive(data(quarter));
    for (const done of render.splice(0)) done();
    expect(credits(first)).toEqual([]);
    first.receive(JSON.stringify({ type: "sync", at: 0, reset: false }));
    for (let i = 0; i < 6; i++) first.receive(data(quarter));
    for (const done of render.splice(0, 3)) done();
    expect(credits(first)).toEqual([]);
    render.shift()?.();
    expect(credits(first)).toEqual([{ kind: "credit", bytes: CREDIT_BATCH }]);
    // The last two chunks are rendered only after the socket was replaced: that credit belongs to no socket.
    first.onclose?.({ code: 1006 });
    await vi.advanceTimersByTimeAsync(250);
    const second = FakeSocket.made.at(-1)!;
    attach(second);
    second.receive(JSON.stringify({ type: "sync", at: 6 * quarter, reset: false }));
    for (const done of render.splice(0)) done();
    for (let i = 0; i < 2; i++) second.receive(data(quarter));
    for (const done of render.splice(0)) done();
    expect(credits(second)).toEqual([]);
    expect(credits(first)).toEqual([{ kind: "credit", bytes: CREDIT_BATCH }]);
    // Two more on the new socket make its first batch: counted from that socket's own bytes.
    for (let i = 0; i < 2; i++) second.receive(data(quarter));
    for (const done of render.splice(0)) done();
    expect(credits(second)).toEqual([{ kind: "credit", bytes: CREDIT_BATCH }]);
  });

  it("backs off from 250–500 ms doubling to a 5–10 s cap, afresh after a hello, and stops on a fatal close", async () => {
    user();
    const dials = () => FakeSocket.made.length;
    // Math.random() is 0: each delay is the low end, half its ceiling.
    const waits = [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000];
    for (const wait of waits) {
      const before = dials();
      FakeSocket.made.at(-1)!.onclose?.({ code: 1006 });
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(dials()).toBe(before);
      await vi.advanceTimersByTimeAsync(1);
      expect(dials()).toBe(before + 1);
    }
    // Attached again: the next drop starts from the first delay.
    attach(FakeSocket.made.at(-1)!);
    FakeSocket.made.at(-1)!.onclose?.({ code: 1006 });
    await vi.advanceTimersByTimeAsync(250);
    expect(dials()).toBe(waits.length + 2);
    // A fatal close (4000–4099: refused, ended, revoked) is final: no retry.
    FakeSocket.made.at(-1)!.onclose?.({ code: 4003 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(dials()).toBe(waits.length + 2);
    expect(stops).toEqual([{ closeCode: 4003 }]);
  });
});
