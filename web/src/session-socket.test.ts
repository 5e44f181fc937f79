// The page's session socket notices a stalled connection (no close event ever comes: a sleeping laptop, a
// dead NAT entry) within about 10 s of silence, and shows it as reconnecting; a live one stays connected.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PONG, PROTOCOL_VERSION } from "../../protocol/index.ts";
import { SessionSocket, type SocketState } from "./session-socket.ts";

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

function connect() {
  const states: SocketState[] = [];
  const socket = new SessionSocket(
    { sessionId: "s1", size: () => ({ cols: 80, rows: 24 }), WebSocketImpl: FakeSocket as unknown as typeof WebSocket },
    {
      state: (s) => states.push(s),
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
  ws.receive(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, sessionId: "s1", deadline: Date.now() + 3_600_000 }));
  ws.receive(JSON.stringify({ type: "status", state: "connected" }));
  return { socket, ws, states };
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
