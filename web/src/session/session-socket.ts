// The browser's reconnecting socket to a SessionRoom as its user (`/ws`), a read-only viewer (`/watch`), a
// moderator of a moderated session (`/moderate`: read-only too, but it may lock input or end the session) or a person
// the user invited into a shared session (`/join`: a viewer whose keyboard input reaches the target):
// handshake, validation, output credit, heartbeats, capped backoff. No DOM; the pages listen to its events.
// The user's socket counts the output offset it has received (from the room's `sync`) and resumes from
// it after a drop, so the terminal keeps its screen and gets exactly the bytes it missed.
import {
  CREDIT_BATCH,
  CloseCode,
  BROWSER_PING_INTERVAL_MS,
  BROWSER_SILENCE_MS,
  PING,
  PONG,
  PROTOCOL_VERSION,
  RoomToBrowser,
  decodeFrame,
  encodeCredit,
  encodeDataChunks,
  encodeMessage,
  isFatalClose,
  MAX_LISTING_MESSAGE,
  parseMessage,
  type Frame,
  type EndReason,
  type ErrorCode,
  type Moderate,
  type Moderation,
  type Notice,
  type Participants,
} from "../../../protocol/index.ts";

/** What the page shows. `reconnecting` = the socket dropped and a retry is pending or in flight. */
export type SocketState = "connecting" | "waiting_for_connector" | "connected" | "ended" | "reconnecting";

/** How a session stopped for this browser: an `ended` message (maybe with a person's note), or a fatal close. */
export type SessionStop = { reason: EndReason; note?: string } | { closeCode: number };

/** Why the room says the session will end soon; see the `warning` message. */
export type WarningReason = "time_limit" | "idle";

export interface SessionSocketEvents {
  state(state: SocketState): void;
  /** Unix ms at which the edge ends the session. */
  deadline(unixMs: number): void;
  /** Terminal output. Call `rendered` once the bytes are on screen; that returns credit to the connector. */
  output(payload: Uint8Array, rendered: () => void): void;
  /** Clear the terminal: a repaint of the current screen follows (a fresh attach, or a resume that could not be honoured). */
  reset(): void;
  /** The session ends at `at` (unix ms) for `reason` unless something changes (more time, input). */
  warning(reason: WarningReason, at: number): void;
  stopped(stop: SessionStop): void;
  error(code: ErrorCode): void;
  /** How many people are watching live (the user's socket only, when policy tells users). */
  watchers?(count: number): void;
  /** A moderated session's state (docs/governance.md): sent at hello and whenever it changes, to every socket. */
  moderation?(state: Moderation): void;
  /** Command control refused a line (docs/governance.md): `message` is the policy's words for the user. */
  notice?(notice: Notice): void;
  /** A shared session's writers (docs/governance.md "Shared sessions"): sent whenever they change, to every socket. */
  participants?(state: Participants): void;
  /** In a shared session, `name`'s input just reached the target (again at most once a second while they go on). */
  typing?(name: string): void;
  /** File transfer's answers (protocol/file-transfer.ts), the user's socket only. */
  files?(message: FileAnswer): void;
  /** FILE_DATA (a download's bytes) and FILE_CREDIT (an upload's credit). */
  fileFrame?(frame: FileFrame): void;
}

/** The room's file-transfer messages to the user's page. */
export type FileAnswer = Extract<
  RoomToBrowser,
  { type: "ft_allowed" | "ft_listing" | "ft_ready" | "ft_done" | "ft_refused" }
>;
export type FileFrame = Extract<Frame, { kind: "file_data" | "file_credit" }>;
/** The page's file-transfer requests. */
export type FileRequest =
  | { type: "ft_list"; id: number; path: string }
  | { type: "ft_upload"; id: number; path: string; size: number }
  | { type: "ft_download"; id: number; path: string }
  | { type: "ft_cancel"; id: number };

/**
 * Which of the room's sockets: the session user's own (`/ws`), an admin's live view (`/watch`), a moderator's
 * live view of a moderated session (`/moderate`), or an invited person's view with input (`/join`).
 */
export type SocketEndpoint = "ws" | "watch" | "moderate" | "join";

export interface SessionSocketOptions {
  sessionId: string;
  /** Default `ws`. */
  endpoint?: SocketEndpoint;
  /**
   * Send no input or resizes (default: for `watch` and `moderate`). Credit still flows: the room measures a viewer's
   * lag by it. A `join` socket sends input, but like any viewer's its size does not drive the session.
   */
  readOnly?: boolean;
  /** The terminal's current size, sent in every hello. */
  size(): { cols: number; rows: number };
  WebSocketImpl?: typeof WebSocket;
}

/** Backoff: 500 ms doubling to a 10 s cap; each delay is jittered down to half so tabs do not retry in step. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;

/**
 * Input waiting in the socket's send buffer beyond this (256 KiB) is refused rather than queued:
 * a user who pastes into a stalled connection is told, instead of the tab buffering without bound.
 */
const MAX_BUFFERED_INPUT = 256 * 1024;

const utf8 = new TextEncoder();

/** `wss://<this host>/api/sessions/<id>/<endpoint>` (same origin, so the session cookie goes along). */
export function sessionSocketUrl(sessionId: string, endpoint: SocketEndpoint, page: Location = location): string {
  const scheme = page.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${page.host}/api/sessions/${encodeURIComponent(sessionId)}/${endpoint}`;
}

export class SessionSocket {
  private ws: WebSocket | null = null;
  private current: SocketState = "connecting";
  /** Bumped for every new socket, so late write callbacks of an old socket never grant credit. */
  private generation = 0;
  /** Rendered output bytes not yet returned as credit, on the current socket. */
  private rendered = 0;
  /** Output offset of the next byte, once the room said where the stream stands; null while repainting. */
  private offset: number | null = null;
  private attempt = 0;
  private lastHeard = 0;
  /** The timeout is enforced only once the room has answered a ping on this socket (see heartbeat). */
  private pongSeen = false;
  private sentSize = { cols: 0, rows: 0 };
  /** The room answered this socket's hello: only then does it take commands (before, it expects a hello). */
  private greeted = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private done = false;
  private readonly WebSocketImpl: typeof WebSocket;
  private readonly endpoint: SocketEndpoint;
  private readonly readOnly: boolean;

  constructor(
    private readonly options: SessionSocketOptions,
    private readonly events: SessionSocketEvents,
  ) {
    this.WebSocketImpl = options.WebSocketImpl ?? WebSocket;
    this.endpoint = options.endpoint ?? "ws";
    this.readOnly = options.readOnly ?? (this.endpoint === "watch" || this.endpoint === "moderate");
  }

  get state(): SocketState {
    return this.current;
  }

  /** Connection attempts that failed since the room last said hello (an upgrade refused with 403 never opens). */
  get failedAttempts(): number {
    return this.attempt;
  }

  start(): void {
    if (this.done || this.ws) return;
    globalThis.addEventListener?.("online", this.retryNow);
    this.open();
  }

  /** Leaves the session (the page is going away). The session itself keeps running until its deadline. */
  stop(): void {
    this.done = true;
    globalThis.removeEventListener?.("online", this.retryNow);
    this.teardown(1000, "leaving");
  }

  /** Sends keyboard input; only while connected, never when read-only. Returns false when it was not sent. */
  sendInput(data: string | Uint8Array): boolean {
    const ws = this.ws;
    if (this.readOnly || this.current !== "connected" || !ws || ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > MAX_BUFFERED_INPUT) return false;
    const bytes = typeof data === "string" ? utf8.encode(data) : data;
    for (const frame of encodeDataChunks(bytes)) ws.send(frame);
    return true;
  }

  /**
   * A moderator's command (the `moderate` socket only): lock input for `seconds`, unlock it, or end the session.
   * Returns false when it was not sent (another socket, or the room has not answered this socket's hello).
   */
  moderate(action: Moderate["action"], seconds?: number): boolean {
    if (this.endpoint !== "moderate" || this.current === "ended" || !this.greeted) return false;
    return this.sendControl(
      seconds === undefined ? { type: "moderate", action } : { type: "moderate", action, seconds },
    );
  }

  /** A file-transfer request (the user's socket only, once the room answered its hello). */
  sendFile(message: FileRequest): boolean {
    if (this.endpoint !== "ws" || this.current === "ended" || !this.greeted) return false;
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN) return false;
    ws.send(encodeMessage(message));
    return true;
  }

  /** A FILE_DATA or FILE_CREDIT frame on the current socket; false when there is none (the transfer is lost). */
  sendFileFrame(frame: Uint8Array): boolean {
    const ws = this.ws;
    if (this.endpoint !== "ws" || !this.greeted || !ws || ws.readyState !== ws.OPEN) return false;
    ws.send(frame);
    return true;
  }

  /** Tells the room the terminal's new size; a viewer's (read-only or joined) does not drive the session. */
  resize(cols: number, rows: number): void {
    if (this.endpoint !== "ws" || this.readOnly || (cols === this.sentSize.cols && rows === this.sentSize.rows)) return;
    if (this.sendControl({ type: "resize", cols, rows })) this.sentSize = { cols, rows };
  }

  private open(): void {
    const generation = ++this.generation;
    this.rendered = 0;
    this.pongSeen = false;
    this.greeted = false;
    const ws = new this.WebSocketImpl(sessionSocketUrl(this.options.sessionId, this.endpoint));
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      if (generation !== this.generation) return;
      this.lastHeard = Date.now();
      const { cols, rows } = this.options.size();
      this.sentSize = { cols, rows };
      const resume = this.endpoint === "ws" && this.offset !== null ? { resume: this.offset } : {};
      ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols, rows, ...resume }));
      this.heartbeatTimer = setInterval(this.heartbeat, BROWSER_PING_INTERVAL_MS);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (generation !== this.generation) return;
      this.lastHeard = Date.now();
      try {
        if (typeof event.data === "string") this.onText(event.data);
        else this.onBinary(event.data as ArrayBuffer, generation);
      } catch {
        // Anything malformed from the room: the stream can no longer be trusted, so stop for good.
        this.fail(CloseCode.ProtocolError);
      }
    };
    ws.onclose = (event: CloseEvent) => {
      if (generation !== this.generation) return;
      this.dropped(event.code);
    };
    // An error is always followed by close; the close decides what happens.
    ws.onerror = () => {};
  }

  private onText(text: string): void {
    if (text === PONG) {
      this.pongSeen = true;
      return;
    }
    // A folder's listing is the largest message the room sends (MAX_LISTING_MESSAGE).
    const message = parseMessage(RoomToBrowser, text, MAX_LISTING_MESSAGE);
    switch (message.type) {
      case "hello":
        if (message.v !== PROTOCOL_VERSION || message.sessionId !== this.options.sessionId) {
          this.fail(message.v !== PROTOCOL_VERSION ? CloseCode.VersionMismatch : CloseCode.ProtocolError);
          return;
        }
        this.attempt = 0; // attached: the next drop starts its backoff afresh
        this.greeted = true;
        this.events.deadline(message.deadline);
        if (this.current === "reconnecting") this.setState("connecting");
        return;
      case "status":
        // `ended` is only final once the `ended` message brings its reason.
        if (message.state !== "ended") this.setState(message.state);
        return;
      case "warning":
        this.events.warning(message.reason, message.at);
        return;
      case "extended":
        this.events.deadline(message.deadline);
        return;
      case "sync":
        if (message.reset) this.events.reset();
        this.offset = message.at;
        return;
      case "ended":
        this.finish(message.note ? { reason: message.reason, note: message.note } : { reason: message.reason });
        this.teardown(1000, "ended");
        return;
      case "error":
        this.events.error(message.code);
        return;
      case "watchers":
        this.events.watchers?.(message.count);
        return;
      case "moderation":
        this.events.moderation?.(message);
        return;
      case "notice":
        this.events.notice?.(message);
        return;
      case "participants":
        this.events.participants?.(message);
        return;
      case "typing":
        this.events.typing?.(message.name);
        return;
      case "ft_allowed":
      case "ft_listing":
      case "ft_ready":
      case "ft_done":
      case "ft_refused":
        this.events.files?.(message);
        return;
    }
  }

  private onBinary(data: ArrayBuffer, generation: number): void {
    const frame = decodeFrame(data);
    if (frame.kind === "file_data" || frame.kind === "file_credit") {
      this.events.fileFrame?.(frame);
      return;
    }
    if (frame.kind !== "data") throw new Error("unexpected frame from room");
    const bytes = frame.payload.byteLength;
    // Only counted bytes are acknowledged: a repaint is not connector output.
    const counted = this.endpoint !== "ws" || this.offset !== null;
    if (this.offset !== null) this.offset += bytes;
    this.events.output(frame.payload, () => {
      if (counted) this.creditRendered(generation, bytes);
    });
  }

  /** Flow control: return credit in CREDIT_BATCH steps for output the terminal has actually rendered. */
  private creditRendered(generation: number, bytes: number): void {
    const ws = this.ws;
    if (generation !== this.generation || !ws || ws.readyState !== ws.OPEN) return;
    this.rendered += bytes;
    if (this.rendered >= CREDIT_BATCH) {
      ws.send(encodeCredit(this.rendered));
      this.rendered = 0;
    }
  }

  /**
   * Every BROWSER_PING_INTERVAL_MS: send PING (the edge answers PONG by auto-response). Silence for
   * BROWSER_SILENCE_MS after a PONG was seen means a stalled socket; an edge that never answers pings is
   * not held to it, so an idle session is not torn down.
   */
  private readonly heartbeat = (): void => {
    if (this.pongSeen && Date.now() - this.lastHeard > BROWSER_SILENCE_MS) {
      // Half-open socket (sleeping laptop, dead NAT entry): no close event will ever come.
      this.teardown(4100, "heartbeat timeout");
      this.dropped(CloseCode.TryAgain);
      return;
    }
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) ws.send(PING);
  };

  private dropped(code: number): void {
    this.clearTimers();
    this.ws = null;
    this.generation++;
    if (this.done) return;
    if (isFatalClose(code)) {
      this.finish({ closeCode: code });
      return;
    }
    this.setState("reconnecting");
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt++;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** The browser came back online: skip the rest of the backoff. */
  private readonly retryNow = (): void => {
    if (this.done || this.current !== "reconnecting" || this.retryTimer === undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.open();
  };

  private fail(code: number): void {
    this.finish({ closeCode: code });
    this.teardown(code, "");
  }

  private finish(stop: SessionStop): void {
    if (this.done) return;
    this.done = true;
    globalThis.removeEventListener?.("online", this.retryNow);
    this.setState("ended");
    this.events.stopped(stop);
  }

  private teardown(code: number, reason: string): void {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    this.generation++;
    if (ws && (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)) {
      try {
        ws.close(code, reason);
      } catch {
        // close() throws on an out-of-range code in some engines; the socket is abandoned anyway.
      }
    }
  }

  private sendControl(message: { type: "resize"; cols: number; rows: number } | Moderate): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN) return false;
    ws.send(encodeMessage(message));
    return true;
  }

  private setState(state: SocketState): void {
    if (state === this.current) return;
    this.current = state;
    this.events.state(state);
  }

  private clearTimers(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeatTimer);
    this.retryTimer = undefined;
    this.heartbeatTimer = undefined;
  }
}
