// A live viewer as the admin's watch page connects: `/api/sessions/<id>/watch` with an admin's
// cookie, `hello`, then read-only output (a repaint from the room's replay buffer, then live
// frames), returning credit in 64 KiB batches like the page. It records when each echoed "x"
// arrives, so the benchmark can time keystroke -> every viewer.
import WebSocket from "ws";
import { CREDIT_BATCH, decodeFrame, encodeCredit, encodeMessage, PROTOCOL_VERSION } from "../../protocol/index.ts";
import { countX, MarkerScanner } from "./pipe.ts";

/** The room repaints a viewer (first join, or after it fell 1 MiB behind) with a terminal reset. */
const RESET = "\x1bc";

export class Viewer {
  bytes = 0;
  resyncs = 0;
  closed = false;
  /** performance.now() of each "x" seen since `armEcho`; undefined entries are not recorded. */
  readonly xArrivals: number[] = [];
  private uncredited = 0;
  private armed?: MarkerScanner;
  private recording = false;
  private readonly resets = new MarkerScanner(RESET);

  private constructor(readonly ws: WebSocket) {}

  static async open(edgeUrl: string, sessionId: string, cookie: string): Promise<Viewer> {
    // No compression offered: 50 real viewers would each inflate in their own browser; here one
    // Node process would inflate for all 50 and become the bottleneck of the measurement.
    const ws = new WebSocket(`${edgeUrl.replace(/^http/, "ws")}/api/sessions/${sessionId}/watch`, {
      headers: { Cookie: cookie, Origin: edgeUrl },
      perMessageDeflate: false,
    });
    ws.binaryType = "nodebuffer";
    const viewer = new Viewer(ws);
    ws.on("message", (data: Buffer, isBinary) => viewer.onMessage(data, isBinary));
    ws.on("close", () => {
      viewer.closed = true;
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`watch refused: HTTP ${res.statusCode}`)));
    });
    ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    return viewer;
  }

  /** From the next `marker` on, the arrival time of every "x" is recorded. */
  armEcho(marker: string): void {
    this.armed = new MarkerScanner(marker);
    this.recording = false;
    this.xArrivals.length = 0;
  }

  stopRecording(): void {
    this.armed = undefined;
    this.recording = false;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) return;
    const now = performance.now();
    const frame = decodeFrame(data);
    if (frame.kind !== "data") return;
    const payload = frame.payload;
    this.bytes += payload.byteLength;
    if (this.resets.push(payload)) {
      this.resyncs++;
      this.resets.reset();
    }
    if (this.recording) {
      for (let n = countX(payload); n > 0; n--) this.xArrivals.push(now);
    } else if (this.armed?.push(payload)) {
      this.recording = true;
    }
    this.uncredited += payload.byteLength;
    if (this.uncredited >= CREDIT_BATCH) {
      this.ws.send(encodeCredit(this.uncredited));
      this.uncredited = 0;
    }
  }

  close(): void {
    this.ws.close(1000);
  }
}
