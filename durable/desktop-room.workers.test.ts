// A desktop (RDP) session in the SessionRoom, inside the Workers runtime: its Guacamole stream is
// recorded as a .guac (sync times rewritten, input per policy) that verifies against the signed
// manifest; a viewer that joins is told to start afresh and the connector is asked to repaint; the
// viewer then gets the frames as they are and the user's pointer, and nothing it sends reaches the
// connector.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeInstruction as ins, GuacParser } from "../protocol/guacamole.ts";
import { decodeFrame, encodeData, encodeMessage } from "../protocol/index.ts";
import { type Client, hasText, liveSession, openViewer } from "../worker/test/harness.ts";
import { edgeKey } from "../worker/keys.ts";
import { chunkKey, gunzip, manifestKey, recordingPrefix, seqOfKey } from "../recording/chain.ts";
import { R2Store } from "./recording/store.ts";
import { verifyRecording } from "../recording/verify.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const dataText = (c: Client) =>
  c.binaries
    .map((b) => decodeFrame(b))
    .map((f) => (f.kind === "data" ? new TextDecoder().decode(f.payload) : ""))
    .join("");

/** The stored recording of a session once it is in R2: its row, its text, and the verification. */
async function stored(sessionId: string) {
  let row: { id: string; status: string; format: string } | null = null;
  for (let i = 0; i < 200 && row?.status !== "stored"; i++) {
    await new Promise((r) => setTimeout(r, 20));
    row = await env.DB.prepare("SELECT id, status, format FROM recordings WHERE session_id = ?")
      .bind(sessionId)
      .first();
  }
  expect(row?.status).toBe("stored");
  const store = new R2Store(env.RECORDINGS!);
  const seqs = (await store.list(recordingPrefix(row!.id))).map(seqOfKey).filter((s): s is number => s !== null);
  let text = "";
  for (const seq of seqs.sort((a, b) => a - b))
    text += new TextDecoder().decode(await gunzip((await store.get(chunkKey(row!.id, seq)))!));
  const { report } = await verifyRecording(
    row!.id,
    {
      manifest: async () => {
        const m = await store.get(manifestKey(row!.id));
        return m && new TextDecoder().decode(m);
      },
      list: async () => seqs,
      chunk: (seq) => store.get(chunkKey(row!.id, seq)),
    },
    (await edgeKey(env.EDGE_SIGNING_KEY)).publicJwk,
  );
  return { row: row!, text, report };
}

const FRAME =
  ins("size", 0, 64, 48) +
  ins("img", 1, 14, 0, "image/png", 0, 0) +
  ins("blob", 1, "iVBORw0KGgo=") +
  ins("end", 1) +
  ins("sync", 987654321);

describe("desktop sessions in the room", { timeout: 30_000 }, () => {
  it("records a verified .guac with input; a joining viewer gets a repaint and frames, and never types", async () => {
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
    const { row, text, report } = await stored(id);
    expect(row.format).toBe("guacamole");
    expect(report).toMatchObject({ status: "verified", problems: [] });
    const recorded = new GuacParser().push(text);
    expect(recorded[0]).toEqual({ opcode: "sync", args: ["0"] });
    expect(recorded.at(-1)!.opcode).toBe("sync");
    const syncs = recorded.filter((i) => i.opcode === "sync").map((i) => Number(i.args[0]));
    // The room's clock, not the bridge's: small, from 0, never backwards.
    expect(syncs.every((t, i) => t < 60_000 && (i === 0 || t >= syncs[i - 1]!))).toBe(true);
    expect(recorded.map((i) => i.opcode)).toEqual(expect.arrayContaining(["size", "img", "blob", "end", "key"]));
    const keys = recorded.filter((i) => i.opcode === "key").map((i) => i.args.slice(0, 2).join(","));
    expect(keys).toEqual(["97,1", "97,0", "99,1"]);
  });

  it("records no input when policy does not record keystrokes", async () => {
    const { id, user, connector } = await liveSession(
      { recording_required: 1, record_keystrokes: 0 },
      { protocol: "rdp" },
    );
    connector.ws.send(encodeData(bytes(FRAME)));
    await user.next((c) => c.binaries.length === 1, "frame");
    user.ws.send(encodeData(bytes(ins("key", 97, 1) + ins("mouse", 5, 5, 1))));
    await connector.next((c) => c.binaries.length >= 1, "input");
    connector.ws.send(encodeMessage({ type: "end", reason: "user_exit" }));
    await user.next(hasText("ended", { reason: "user_exit" }), "ended");
    const { text, report } = await stored(id);
    expect(report.status).toBe("verified");
    const ops = new GuacParser().push(text).map((i) => i.opcode);
    expect(ops).toContain("img");
    expect(ops).not.toContain("key");
    expect(ops).not.toContain("mouse");
  });
});
