// A Node client that speaks exactly the browser's session protocol (hello, credit, resize, input),
// for end-to-end tests and benchmarks. It keeps every byte it received so tests can scan them.
import WebSocket from "ws";
import {
  CREDIT_BATCH,
  decodeFrame,
  encodeCredit,
  encodeDataChunks,
  encodeMessage,
  type EndReason,
  type Frame,
  MAX_LISTING_MESSAGE,
  PROTOCOL_VERSION,
  parseMessage,
  RoomToBrowser,
  type SessionState,
} from "../../protocol/index.ts";

export class TerminalClient {
  readonly received: Buffer[] = [];
  readonly messages: RoomToBrowser[] = [];
  state: SessionState | "closed" = "waiting_for_connector";
  endReason?: EndReason;
  closeCode?: number;
  private text = "";
  private uncredited = 0;
  private waiters = new Set<() => void>();
  /** Output bytes consumed in all; benchmarks read it. */
  bytesIn = 0;
  /** Output offset of the next byte (from the room's `sync`); null while a repaint is shown. Resume from it. */
  offset: number | null = null;
  onData?: (payload: Uint8Array) => void;
  /** FILE_DATA and FILE_CREDIT frames of a file transfer. */
  onFileFrame?: (frame: Extract<Frame, { kind: "file_data" | "file_credit" }>) => void;

  private constructor(
    readonly ws: WebSocket,
    /** False for bulk runs: `received` then stays empty instead of holding every frame. */
    private readonly keepReceived = true,
    /** True: credit is returned only by `credit()`, to play a slow reader. */
    private readonly manualCredit = false,
  ) {}

  /** Output bytes credited back to the connector so far. */
  credited = 0;

  /** Returns up to `max` bytes of consumed-but-uncredited output (manual mode). */
  credit(max = Number.POSITIVE_INFINITY): number {
    const bytes = Math.min(this.uncredited, max);
    if (bytes > 0) {
      this.ws.send(encodeCredit(bytes));
      this.uncredited -= bytes;
      this.credited += bytes;
    }
    return bytes;
  }

  static async open(
    edgeUrl: string,
    sessionId: string,
    cookie: string,
    opts: {
      cols?: number;
      rows?: number;
      origin?: string;
      keepReceived?: boolean;
      manualCredit?: boolean;
      /** Resume after a drop from this output offset (another client's `offset`). */
      resume?: number;
      /**
       * "watch": an admin's read-only live view instead of the user's own socket; "join": an invited person's input
       * socket in a shared session (after accepting the invitation under the same sign-in).
       */
      socket?: "ws" | "watch" | "join";
    } = {},
  ) {
    const url = `${edgeUrl.replace(/^http/, "ws")}/api/sessions/${sessionId}/${opts.socket ?? "ws"}`;
    // No permessage-deflate, as the page gets from the edge (wrangler.toml refuses it; wrangler dev's
    // local proxy would negotiate it on its own, which Cloudflare does not put in the path).
    const ws = new WebSocket(url, {
      headers: { Cookie: cookie, Origin: opts.origin ?? edgeUrl },
      perMessageDeflate: false,
    });
    ws.binaryType = "nodebuffer";
    const client = new TerminalClient(ws, opts.keepReceived ?? true, opts.manualCredit ?? false);
    ws.on("message", (data: Buffer, isBinary) => client.onMessage(data, isBinary));
    ws.on("close", (code) => {
      client.closeCode = code;
      client.state = "closed";
      client.wake();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    ws.send(
      encodeMessage({
        type: "hello",
        v: PROTOCOL_VERSION,
        cols: opts.cols ?? 100,
        rows: opts.rows ?? 30,
        ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
      }),
    );
    return client;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.keepReceived) this.received.push(Buffer.from(data));
    if (!isBinary) {
      const msg = parseMessage(RoomToBrowser, data.toString("utf8"), MAX_LISTING_MESSAGE);
      this.messages.push(msg);
      if (msg.type === "status") this.state = msg.state;
      if (msg.type === "sync") this.offset = msg.at;
      if (msg.type === "ended") {
        this.state = "ended";
        this.endReason = msg.reason;
      }
    } else {
      const frame = decodeFrame(data);
      // File transfer's frames (protocol/file-transfer.ts) go to whoever drives the transfer.
      if (frame.kind === "file_data" || frame.kind === "file_credit") {
        this.onFileFrame?.(frame);
        this.wake();
        return;
      }
      if (frame.kind !== "data") throw new Error("room sent credit to a browser");
      this.bytesIn += frame.payload.byteLength;
      if (this.onData) this.onData(frame.payload);
      else this.text += Buffer.from(frame.payload).toString("utf8");
      // Credit back what we consumed, in batches, as the page does after xterm renders; a repaint
      // (no offset) is not connector output and is not credited.
      if (this.offset === null) {
        this.wake();
        return;
      }
      this.offset += frame.payload.byteLength;
      this.uncredited += frame.payload.byteLength;
      if (!this.manualCredit && this.uncredited >= CREDIT_BATCH) this.credit();
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }

  async until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const found = probe();
    if (found !== undefined) return found;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${what}; state=${this.state} output=${JSON.stringify(this.text.slice(-300))}`,
          ),
        );
      }, timeoutMs);
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      this.waiters.add(check);
    });
  }

  get output(): string {
    return this.text;
  }

  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<string> {
    return this.until(
      `output ${pattern}`,
      () => {
        const hit = typeof pattern === "string" ? this.text.includes(pattern) : pattern.test(this.text);
        return hit ? this.text : undefined;
      },
      timeoutMs,
    );
  }

  waitForState(state: SessionState, timeoutMs?: number): Promise<true> {
    return this.until(`state ${state}`, () => (this.state === state ? true : undefined), timeoutMs);
  }

  waitForEnd(timeoutMs?: number): Promise<EndReason> {
    return this.until("ended", () => this.endReason, timeoutMs);
  }

  waitForClose(timeoutMs?: number): Promise<number> {
    return this.until("close", () => this.closeCode, timeoutMs);
  }

  type(text: string | Uint8Array): void {
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    for (const frame of encodeDataChunks(bytes)) this.ws.send(frame);
  }

  resize(cols: number, rows: number): void {
    this.ws.send(encodeMessage({ type: "resize", cols, rows }));
  }

  close(): void {
    this.ws.close(1000);
  }

  /** Drops the connection with no close handshake, as a network blip or a closed laptop lid does. */
  drop(): void {
    this.ws.terminate();
  }
}
