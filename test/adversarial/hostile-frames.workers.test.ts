// Adversarial suite, hostile frames: random, malformed and oversized messages from the browser, a
// viewer and the connector never crash the room, nothing malformed is ever passed on to the other
// side, and nothing a viewer sends ever reaches the target. (Hostile Guacamole instructions toward the
// RDP bridge: connector/rdp/browser-input.test.ts and the bridge's fuzz targets, docs/security.md.)
import { runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, parseMessage, RoomToBrowser, RoomToConnector } from "../../protocol/index.ts";
import { liveSession, openViewer } from "../../worker/test/harness.ts";
import type { SessionRoom } from "../../durable/session-room.ts";

const hostile = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom(
    '{"type":"hello","v":1,"cols":80,"rows":24}',
    '{"type":"hello","v":1,"sessionId":"x"}',
    '{"type":"resize","cols":0,"rows":1}',
    '{"type":"resize","cols":80,"rows":24}',
    '{"type":"end","reason":"killed"}',
    '{"type":"status","state":"connected"}',
    '{"type":"window","bytes":1}',
    '{"type":"hello","v":1,"cols":80,"rows":24,"resume":3}',
    '{"type":"hello","v":1,"cols":80,"rows":24,"resume":-1}',
    '{"type":"hello","v":1,"sessionId":"x","resume":{"sent":9}}',
    '{"type":"sync","from":0,"to":5}',
    '{"type":"sync","from":99999999,"to":1}',
    '{"type":"attach","acked":null,"from":null}',
    '{"type":"extend","grant":"a.b.c"}',
    '{"type":"open","sessionId":"x","grant":"a.b.c"}',
    `{"type":"resize","cols":80,"rows":24,"pad":"${"x".repeat(20_000)}"}`,
  ),
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ minLength: 0, maxLength: 8 }).map((b) => Uint8Array.of(0x02, ...b)),
  fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => Uint8Array.of(0x01, ...b)),
  fc.constant(new Uint8Array(70_000).fill(1)),
);

const asMessage = (m: string | Uint8Array): string | ArrayBuffer =>
  typeof m === "string" ? m : (m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength) as ArrayBuffer);

/** Feeds 400 hostile messages to the room as if they came from the `role` socket; returns how many ran. */
async function fuzz(room: DurableObjectStub<SessionRoom>, role: "user" | "connector" | "viewer"): Promise<number> {
  let runs = 0;
  await runInDurableObject(room, async (instance: SessionRoom, state) => {
    const [socket] = state.getWebSockets(role);
    await fc.assert(
      fc.asyncProperty(hostile, async (message) => {
        runs++;
        await instance.webSocketMessage(socket!, asMessage(message));
      }),
      { numRuns: 400 },
    );
  });
  await new Promise((r) => setTimeout(r, 200));
  return runs;
}

describe("SessionRoom under hostile input", () => {
  for (const role of ["user", "connector"] as const) {
    it(`never crashes and never forwards garbage from the ${role}`, async () => {
      const { user, connector, room } = await liveSession();
      expect(await fuzz(room, role)).toBe(400);
      // Whatever reached the other side is well formed.
      const other = role === "user" ? connector : user;
      for (const text of other.texts) {
        expect(() =>
          parseMessage(role === "user" ? RoomToConnector : RoomToBrowser, JSON.stringify(text)),
        ).not.toThrow();
      }
      for (const frame of other.binaries) {
        const decoded = decodeFrame(frame);
        if (role === "connector") expect(decoded.kind).toBe("data");
      }
    }, 60_000);
  }

  it("never crashes on a viewer's messages, and nothing a viewer sends reaches the target", async () => {
    const { id, connector, room } = await liveSession();
    const viewer = await openViewer(id, { hello: false });
    viewer.ws.send('{"type":"hello","v":1,"cols":80,"rows":24}');
    await viewer.next((c) => c.texts.length > 0, "viewer hello");
    const before = { texts: connector.texts.length, binaries: connector.binaries.length };
    expect(await fuzz(room, "viewer")).toBe(400);
    expect(connector.binaries.length).toBe(before.binaries);
    expect(connector.texts.length).toBe(before.texts);
  }, 60_000);
});
