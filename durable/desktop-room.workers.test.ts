// A desktop (RDP) session in the SessionRoom, inside the Workers runtime: the room witnesses its
// Guacamole stream (the connector records it: connector/recording/); a viewer that joins is told to
// start afresh and the connector is asked to repaint; the viewer then gets the frames as they are and
// the user's pointer, and nothing it sends reaches the connector or the witness.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeInstruction as ins } from "../protocol/guacamole.ts";
import { decodeFrame, encodeData, encodeMessage, type Witness } from "../protocol/index.ts";
import { type Client, hasText, liveSession, openViewer } from "../worker/test/harness.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const dataText = (c: Client) =>
  c.binaries
    .map((b) => decodeFrame(b))
    .map((f) => (f.kind === "data" ? new TextDecoder().decode(f.payload) : ""))
    .join("");

/** The room's witness of a session, once it has ended (the recording itself is the connector's). */
async function witnessOf(sessionId: string): Promise<Witness> {
  // Written once the session's end is audited, just after the browser hears `ended`.
  let row: { witness: string | null; format: string } | null = null;
  for (let i = 0; i < 200 && !row?.witness; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    row = await env.DB.prepare("SELECT witness, format FROM recordings WHERE session_id = ?")
      .bind(sessionId)
      .first<{ witness: string | null; format: string }>();
  }
  expect(row?.format).toBe("guacamole");
  return JSON.parse(row!.witness!) as Witness;
}

const FRAME =
  ins("size", 0, 64, 48) +
  ins("img", 1, 14, 0, "image/png", 0, 0) +
  ins("blob", 1, "iVBORw0KGgo=") +
  ins("end", 1) +
  ins("sync", 987654321);

describe("desktop sessions in the room", { timeout: 30_000 }, () => {
  it("witnesses the desktop's bytes; a joining viewer gets a repaint and frames, and never types", async () => {
    const { id, user, connector } = await liveSession(
      { recording_required: 1, record_keystrokes: 1 },
      { protocol: "rdp" },
    );
    connector.ws.send(encodeData(bytes(FRAME)));
    await user.next((c) => c.binaries.length === 1, "frame to the user");
    user.ws.send(encodeData(bytes(ins("key", 97, 1) + ins("key", 97, 0))));
    await connector.next((c) => c.binaries.length >= 1, "keys to the connector");

    const viewer = await openViewer(id);
    await viewer.next(hasText("sync", { at: null, reset: true }), "viewer starts afresh");
    await connector.next(hasText("repaint"), "connector asked to repaint");
    await user.next(hasText("watchers", { count: 1 }), "user told");
    const repaint = ins("size", 0, 64, 48) + ins("sync", 987654400);
    connector.ws.send(encodeData(bytes(repaint)));
    await viewer.next((c) => dataText(c).includes(repaint), "the repaint reaches the viewer, whole");
    // The user's pointer is shown to viewers (the position only, no buttons).
    user.ws.send(encodeData(bytes(ins("mouse", 12, 34, 1))));
    await viewer.next((c) => dataText(c).includes(ins("mouse", 12, 34)), "the user's pointer");
    // Viewers only watch: their keys never reach the connector.
    viewer.ws.send(encodeData(bytes(ins("key", 98, 1))));
    user.ws.send(encodeData(bytes(ins("key", 99, 1))));
    await connector.next((c) => dataText(c).includes(ins("key", 99, 1)), "the user's key");
    await new Promise((r) => setTimeout(r, 100));
    expect(dataText(connector)).not.toContain(ins("key", 98, 1));

    connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
    await user.next(hasText("ended", { reason: "user_exit" }), "ended");
    // The witness counts what passed: every output byte, and the user's input only (never the viewer's).
    const witness = await witnessOf(id);
    const userInput = [ins("key", 97, 1) + ins("key", 97, 0), ins("mouse", 12, 34, 1), ins("key", 99, 1)];
    expect(witness).toMatchObject({
      output: bytes(FRAME).byteLength + bytes(repaint).byteLength,
      input: bytes(userInput.join("")).byteLength,
      endReason: "user_exit",
      endedBy: "connector",
    });
  });
});
