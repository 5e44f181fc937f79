// SessionRoom: one Durable Object per session. Pairs the browser's socket with the connector's
// data socket and relays frames both ways, holds the deadline on its alarm, and ends the session
// with a reason that both sides hear. Uses the hibernation API: all state lives in storage and in
// each socket's attachment, so nothing is lost when the object is evicted between messages.
//
// Resume: every output byte has an offset (protocol/output-log.ts). The room keeps the recent
// output by offset; a browser that reconnects says how far it got and is sent the rest, from the
// room's log or, when the room no longer holds it, resent by the connector from its own log. A
// connector whose data socket drops has CONNECTOR_RESUME_GRACE_MS to redial and resume. Which
// offsets are real, and what the recording and the viewers get, is decided by `OutputStream`
// (output-stream.ts) from the connector's numbers and the room's own count, never a browser's.
import { DurableObject } from "cloudflare:workers";
import {
  type AuditEntryInput,
  BrowserToRoom,
  CloseCode,
  CONNECTOR_RESUME_GRACE_MS,
  ConnectorToRoom,
  decodeFrame,
  encodeData,
  encodeDataChunks,
  type EndReason,
  encodeMessage,
  FrameError,
  MessageError,
  OUTPUT_WINDOW,
  PING,
  PONG,
  PROTOCOL_VERSION,
  parseMessage,
  RECORDING_TAIL_WAIT_MS,
  type RoomToBrowser,
  type RoomToConnector,
  type SessionState,
  type Witness,
  type WitnessMarker,
} from "../protocol/index.ts";
import { countMasterPasswordFailure } from "../worker/auth/connect-gate.ts";
import type { Env } from "../worker/env.ts";
import { PEER_HEADER, type SocketPeer } from "../worker/sockets.ts";
import { PointerRelay } from "./desktop-pointer.ts";
import { type AttachRequest, CreditAccount, OutputStream } from "./output-stream.ts";
import { recordWitness, sealRecording } from "./recording/seal.ts";
import { due, idleStep, nextDue, nextWarning, type Timers } from "./timers.ts";
import { LiveViewers, SNAPSHOT_EVERY_MS } from "./viewers.ts";

/** The ledger's one RPC the room uses (typed narrowly: the full stub type is too deep for tsc here). */
type AuditAppender = { append(entry: AuditEntryInput): Promise<unknown> };

export type RoomMeta = {
  sessionId: string;
  userId: string;
  username: string;
  serverId: string;
  /** The checkout the session runs under (absent in rooms started before it was kept). */
  checkoutId?: string;
  siteId: string;
  deadline: number;
  /** Warn the user this long before the deadline, in ms (policy; default 5 min and 1 min). */
  warnBeforeMs?: number[];
  /** End the session after this long without input, in ms; null: never (policy). */
  idleMs?: number | null;
  /** Whether admins may watch live, and whether the user is told they are watched (policy). */
  liveView?: boolean;
  notifyWatched?: boolean;
  /** A browser away this long ends the session as `disconnected`, in ms; null: wait (policy). */
  disconnectGraceMs?: number | null;
  /**
   * Recording policy (docs/recording.md); absent: the session is not recorded. The connector records at
   * the source; the room witnesses what it relayed and seals the manifest.
   */
  recording?: { recordingId: string; required: boolean; keystrokes: boolean; zoneId: string };
  /** Unix ms when the session was created (the witness's start). */
  startedAt?: number;
  /** "rdp": DATA carries a Guacamole stream (docs/rdp.md), so no terminal replay or repaint applies. */
  protocol?: "ssh" | "rdp";
};

export type EndOptions = {
  bySite?: string;
  note?: string;
  actor?: { id: string; name: string };
  /** The connector ended the session itself (its `end`), after sending all its output. */
  byConnector?: boolean;
};

const DEFAULT_WARNINGS_MS = [5 * 60_000, 60_000];
/** Idle sessions are warned 1 minute before they end (or halfway, for limits under 2 minutes). */
const IDLE_WARNING_MS = 60_000;
/** Input time is written to storage at most every 5 s; the alarm re-checks against memory too. */
const INPUT_PERSIST_MS = 5_000;

/** A desktop is repainted for joining viewers at most once per second. */
const REPAINT_EVERY_MS = 1_000;

/** A connector must dial the session's data socket within 30 s of dispatch. */
const ATTACH_TIMEOUT_MS = 30_000;

/** Storage key of the witnessed stream's end, saved with the viewers' snapshot and at every break. */
const WITNESSED_END_KEY = "witnessedEnd";
/** Set at the first witnessed output after the end was saved: the saved end may then be stale. */
const WITNESSED_PAST_SAVE_KEY = "witnessedPastSave";
/** Input bytes relayed to the connector (the witness's count), saved at most this long after they pass. */
const INPUT_COUNT_KEY = "witnessedInput";
const INPUT_COUNT_SAVE_MS = 500;
/** A seal the store refused is tried again this much later. */
const SEAL_RETRY_MS = 30_000;

/** The typed attachment each socket carries across hibernation (kept small: it is serialized). */
type Attachment =
  | { role: "user"; userId: string; hello: boolean; cols: number; rows: number }
  | { role: "viewer"; userId: string; username: string; hello: boolean }
  | { role: "connector"; connectorId: string; hello: boolean; state: "connecting" | "connected" };

export class SessionRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    // After an eviction: where the witnessed stream ended when last saved (see saveWitnessedEnd).
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get([WITNESSED_END_KEY, WITNESSED_PAST_SAVE_KEY, INPUT_COUNT_KEY]);
      this.inputBytes = (saved.get(INPUT_COUNT_KEY) as number | undefined) ?? 0;
      const end = saved.get(WITNESSED_END_KEY) as number | undefined;
      if (end !== undefined) this.stream.restore(end, !saved.get(WITNESSED_PAST_SAVE_KEY));
    });
  }

  // ---- RPC from the Worker and the ConnectorHub ---------------------------------------------

  async init(meta: RoomMeta): Promise<void> {
    await this.ctx.storage.put("meta", { ...meta, startedAt: meta.startedAt ?? Date.now() });
    // A session shorter than the first warning's lead time is warned as soon as it starts.
    const now = Date.now();
    const warn =
      nextWarning(meta.deadline, meta.warnBeforeMs ?? DEFAULT_WARNINGS_MS, now) ??
      (meta.deadline > now + 2000 ? now + 1000 : undefined);
    await this.setTimers({
      deadline: meta.deadline,
      attach: Date.now() + ATTACH_TIMEOUT_MS,
      ...(warn ? { warn } : {}),
    });
  }

  /** Ends the session. `bySite`, when given, must be the session's site (a connector's report). */
  async end(reason: EndReason, { bySite, note, actor, byConnector }: EndOptions = {}): Promise<boolean> {
    const meta = await this.meta();
    if (!meta || (bySite !== undefined && bySite !== meta.siteId)) return false;
    if (await this.ctx.storage.get("ended")) return false;
    await this.ctx.storage.put("ended", reason);
    await this.setTimers({});
    await this.viewers.save();
    await this.saveWitnessedEnd();
    for (const ws of this.ctx.getWebSockets()) {
      const att = ws.deserializeAttachment() as Attachment;
      if (att.role === "user" || att.role === "viewer")
        send(ws, { type: "ended", reason, ...(note ? { note } : {}) } satisfies RoomToBrowser);
      else send(ws, { type: "end", reason } satisfies RoomToConnector);
      closeQuietly(ws, CloseCode.Ended, reason);
    }
    await this.env.DB.prepare("UPDATE sessions SET status = 'ended', ended_at = ?, end_reason = ? WHERE id = ?")
      .bind(Date.now(), reason, meta.sessionId)
      .run();
    // The connector checked the sealed master password and refused it: counted like a failed sign-in.
    if (reason === "master_password_wrong")
      await countMasterPasswordFailure(this.env, { id: meta.userId, name: meta.username });
    // The one audit writer for the whole deployment (see worker/audit.ts).
    const ledger = this.env.AUDIT_LEDGER.get(this.env.AUDIT_LEDGER.idFromName("global")) as unknown as AuditAppender;
    await ledger.append({
      actor: actor ?? null,
      action: reason === "killed" || reason === "checkout_revoked" ? "session.killed" : "session.ended",
      target: { type: "session", id: meta.sessionId },
      refs: {
        userId: meta.userId,
        serverId: meta.serverId,
        sessionId: meta.sessionId,
        ...(meta.checkoutId ? { checkoutId: meta.checkoutId } : {}),
      },
      data: { reason, ...(note ? { note } : {}) },
    });
    // Then the witness goes on record and the recording is sealed (now, or when its last chunk is in).
    await this.witnessEnd(meta, reason, byConnector ?? false);
    return true;
  }

  /**
   * An extension was granted: the deadline moves to `deadline`, warnings start over, everyone is told,
   * and the connector gets the fresh grant that moves its own backstop. False once the session ended.
   */
  async extend(deadline: number, grant: string): Promise<boolean> {
    const meta = await this.meta();
    if (!meta || (await this.ctx.storage.get("ended")) || deadline <= meta.deadline) return false;
    await this.ctx.storage.put("meta", { ...meta, deadline });
    const { warn: _old, ...timers } = (await this.ctx.storage.get<Timers>("timers")) ?? {};
    const warn = nextWarning(deadline, meta.warnBeforeMs ?? DEFAULT_WARNINGS_MS, Date.now());
    await this.setTimers({ ...timers, deadline, ...(warn ? { warn } : {}) });
    for (const ws of [...this.ctx.getWebSockets("user"), ...this.ctx.getWebSockets("viewer")])
      send(ws, { type: "extended", deadline } satisfies RoomToBrowser);
    const connector = this.connector();
    if (connector) send(connector, { type: "extend", grant } satisfies RoomToConnector);
    await this.mark(`extension: until ${new Date(deadline).toISOString()}`);
    return true;
  }

  /**
   * For the live sessions list: who is attached right now (watchers by username, each once however many tabs),
   * when the user last typed (unix ms; the connect counts as input; null before it), and whether recording works.
   */
  async presence(): Promise<{
    user: boolean;
    connector: boolean;
    viewers: number;
    watchers: string[];
    lastInputAt: number | null;
    recording: "recorded" | "not_recorded" | "failing";
    state: SessionState;
  }> {
    const meta = await this.meta();
    const watchers = this.viewers
      .list()
      .map((ws) => (ws.deserializeAttachment() as Attachment & { role: "viewer" }).username);
    const lastInput = Math.max((await this.ctx.storage.get<number>("lastInput")) ?? 0, this.lastInput);
    return {
      user: !!this.browser(),
      connector: !!this.connector(),
      viewers: watchers.length,
      watchers: [...new Set(watchers)].sort(),
      lastInputAt: lastInput || null,
      recording: !meta?.recording
        ? "not_recorded"
        : (await this.ctx.storage.get<string>("recordingFailed"))
          ? "failing"
          : "recorded",
      state: this.state(),
    };
  }

  /** A connector was revoked: the session it serves ends now (no other connector holds its target connection). */
  async connectorRevoked(connectorId: string): Promise<boolean> {
    const served = this.ctx
      .getWebSockets("connector")
      .some((ws) => (ws.deserializeAttachment() as Attachment & { role: "connector" }).connectorId === connectorId);
    return served && (await this.end("connector_revoked"));
  }

  /**
   * A person lost the right to watch this session (their zone, role or account): their viewer sockets
   * close now. Returns how many closed.
   */
  async dropViewer(userId: string): Promise<number> {
    let dropped = 0;
    for (const ws of this.ctx.getWebSockets("viewer")) {
      const att = ws.deserializeAttachment() as Attachment;
      if (att.role !== "viewer" || att.userId !== userId) continue;
      closeQuietly(ws, CloseCode.Forbidden, "access_revoked");
      this.viewers.gone(ws);
      dropped++;
    }
    if (dropped > 0) await this.tellWatchers();
    return dropped;
  }

  // ---- sockets -------------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const peer = JSON.parse(request.headers.get(PEER_HEADER) ?? "null") as SocketPeer | null;
    const meta = await this.meta();
    if (!peer || !meta) return new Response("not found", { status: 404 });
    const allowed =
      peer.role === "user"
        ? peer.userId === meta.userId
        : peer.role === "viewer"
          ? meta.liveView !== false
          : peer.siteId === meta.siteId;
    if (!allowed) return new Response("forbidden", { status: 403 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [peer.role]);
    const attachment: Attachment =
      peer.role === "user"
        ? { role: "user", userId: peer.userId, hello: false, cols: 80, rows: 24 }
        : peer.role === "viewer"
          ? { role: "viewer", userId: peer.userId, username: peer.username, hello: false }
          : { role: "connector", connectorId: peer.connectorId, hello: false, state: "connecting" };
    server.serializeAttachment(attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    try {
      if (typeof message === "string") await this.onControl(ws, att, message);
      else await this.onFrame(ws, att, message);
    } catch (err) {
      if (!(err instanceof MessageError || err instanceof FrameError)) throw err;
      // A bad frame costs its sender the socket, nothing else. A connector that breaks the
      // protocol cannot carry the session any further, so the session ends with that reason.
      console.warn(`room ${att.role} protocol error: ${err.message}`);
      closeQuietly(ws, CloseCode.ProtocolError, "protocol_error");
      if (att.role === "connector") await this.end("protocol_error");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, "");
    await this.onGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.onGone(ws);
  }

  override async alarm(): Promise<void> {
    const timers = (await this.ctx.storage.get<Timers>("timers")) ?? {};
    const { fired, pending } = due(timers, Date.now());
    await this.setTimers(pending);
    for (const name of fired) {
      if (name === "deadline") await this.end("time_limit");
      if (name === "attach" && !this.connector()) await this.end("connector_unavailable");
      if (name === "warn") await this.warnTimeLimit();
      if (name === "idle") await this.checkIdle();
      if (name === "grace" && !this.browser()) await this.end("disconnected");
      if (name === "reconnect" && !this.connector()) await this.end("connector_lost");
      if (name === "snapshot") {
        this.snapshotDue = false;
        await this.viewers.save();
        await this.saveWitnessedEnd();
      }
      if (name === "seal") await this.seal();
    }
  }

  private async warnTimeLimit(): Promise<void> {
    const meta = await this.meta();
    if (!meta || (await this.ctx.storage.get("ended"))) return;
    const user = this.browser();
    if (user) send(user, { type: "warning", reason: "time_limit", at: meta.deadline } satisfies RoomToBrowser);
    await this.mark("warning: time_limit");
    const next = nextWarning(meta.deadline, meta.warnBeforeMs ?? DEFAULT_WARNINGS_MS, Date.now());
    if (next) await this.addTimer("warn", next);
  }

  /**
   * A browser that (re)attaches inside a warning's lead time hears the warnings it missed: the room
   * warns whoever is attached when a warning is due, and a page opened a moment later must not miss it.
   */
  private async repeatWarnings(user: WebSocket, meta: RoomMeta): Promise<void> {
    const leads = meta.warnBeforeMs ?? DEFAULT_WARNINGS_MS;
    if (meta.deadline - Date.now() <= Math.max(...leads))
      send(user, { type: "warning", reason: "time_limit", at: meta.deadline } satisfies RoomToBrowser);
    if (meta.idleMs && (await this.ctx.storage.get<boolean>("idleWarned"))) {
      const last = Math.max((await this.ctx.storage.get<number>("lastInput")) ?? 0, this.lastInput);
      send(user, { type: "warning", reason: "idle", at: last + meta.idleMs } satisfies RoomToBrowser);
    }
  }

  /** In-memory time of the last input; storage lags it by at most INPUT_PERSIST_MS. */
  private lastInput = 0;

  private async checkIdle(): Promise<void> {
    const meta = await this.meta();
    if (!meta?.idleMs || (await this.ctx.storage.get("ended"))) return;
    const stored = (await this.ctx.storage.get<number>("lastInput")) ?? 0;
    const warned = (await this.ctx.storage.get<boolean>("idleWarned")) ?? false;
    const step = idleStep(Math.max(stored, this.lastInput), meta.idleMs, IDLE_WARNING_MS, warned, Date.now());
    if (step.action === "end") {
      await this.end("idle");
      return;
    }
    if (step.action === "warn") {
      await this.ctx.storage.put("idleWarned", true);
      const user = this.browser();
      if (user) send(user, { type: "warning", reason: "idle", at: step.at } satisfies RoomToBrowser);
      await this.mark("warning: idle");
    }
    await this.addTimer("idle", step.at);
  }

  /** Records input for the idle timeout and the live list's idle time, without a storage write per keystroke. */
  private async noteInput(): Promise<void> {
    const now = Date.now();
    const previous = this.lastInput;
    this.lastInput = now;
    const meta = await this.meta();
    // Storage reads here are served from the object's cache. After a warning, the first input is
    // written at once: memory alone would not survive the object being evicted.
    const warned = meta?.idleMs ? await this.ctx.storage.get<boolean>("idleWarned") : false;
    if (!warned && now - previous < INPUT_PERSIST_MS) return;
    if (!meta?.idleMs) {
      // No idle timeout: kept only so the live list's idle time survives an eviction; output need not wait for it.
      await this.ctx.storage.put("lastInput", now, { allowUnconfirmed: true });
      return;
    }
    await this.ctx.storage.put({ lastInput: now, idleWarned: false });
    await this.addTimer("idle", now + meta.idleMs - Math.min(IDLE_WARNING_MS, meta.idleMs / 2));
  }

  private async addTimer(name: keyof Timers, at: number): Promise<void> {
    const timers = (await this.ctx.storage.get<Timers>("timers")) ?? {};
    await this.setTimers({ ...timers, [name]: at });
  }

  private async clearTimer(name: keyof Timers): Promise<void> {
    const timers = (await this.ctx.storage.get<Timers>("timers")) ?? {};
    if (timers[name] === undefined) return;
    const { [name]: _gone, ...rest } = timers;
    await this.setTimers(rest);
  }

  // ---- relay ---------------------------------------------------------------------------------

  private async onControl(ws: WebSocket, att: Attachment, text: string): Promise<void> {
    if (att.role === "viewer") {
      const msg = parseMessage(BrowserToRoom, text);
      if (att.hello) return; // a viewer's size does not drive the session
      if (msg.type !== "hello") throw new MessageError("first message must be hello");
      if (!this.versionOk(ws, msg.v)) return;
      const meta = (await this.meta())!;
      ws.serializeAttachment({ ...att, hello: true });
      send(ws, { type: "hello", v: PROTOCOL_VERSION, sessionId: meta.sessionId, deadline: meta.deadline });
      const ended = await this.ctx.storage.get<EndReason>("ended");
      if (ended) {
        send(ws, { type: "ended", reason: ended } satisfies RoomToBrowser);
        closeQuietly(ws, CloseCode.Ended, ended);
        return;
      }
      send(ws, { type: "status", state: this.state() } satisfies RoomToBrowser);
      this.setDesktop(meta);
      this.viewers.changed();
      this.viewers.joined(ws);
      await this.viewers.resync(ws);
      await this.tellWatchers();
      return;
    }
    if (att.role === "user") {
      const msg = parseMessage(BrowserToRoom, text);
      if (!att.hello) {
        if (msg.type !== "hello") throw new MessageError("first message must be hello");
        if (!this.versionOk(ws, msg.v)) return;
        const meta = (await this.meta())!;
        const ended = await this.ctx.storage.get<EndReason>("ended");
        ws.serializeAttachment({ ...att, hello: true, cols: msg.cols, rows: msg.rows });
        send(ws, { type: "hello", v: PROTOCOL_VERSION, sessionId: meta.sessionId, deadline: meta.deadline });
        if (ended) {
          send(ws, { type: "ended", reason: ended } satisfies RoomToBrowser);
          closeQuietly(ws, CloseCode.Ended, ended);
          return;
        }
        // One browser drives a session at a time; a newer tab takes over.
        for (const other of this.ctx.getWebSockets("user"))
          if (other !== ws) closeQuietly(other, CloseCode.Replaced, "replaced");
        await this.clearTimer("grace");
        send(ws, { type: "status", state: this.state() } satisfies RoomToBrowser);
        if (!(await this.attachBrowser(ws, msg.resume))) return;
        await this.repeatWarnings(ws, meta);
        return;
      }
      if (msg.type !== "resize") throw new MessageError("hello sent twice");
      ws.serializeAttachment({ ...att, cols: msg.cols, rows: msg.rows });
      const connector = this.connector();
      if (connector) send(connector, msg satisfies RoomToConnector);
      return;
    }

    const msg = parseMessage(ConnectorToRoom, text);
    if (!att.hello) {
      // Events interleave at awaits: a message that arrives while this socket's hello is still being handled
      // (a connector sends its status right after it) waits for it instead of being taken for a first message.
      const pending = this.connectorHellos.get(ws);
      if (pending && msg.type !== "hello") {
        await pending;
        return this.onControl(ws, ws.deserializeAttachment() as Attachment, text);
      }
      const hello = this.connectorHello(ws, att, msg);
      this.connectorHellos.set(ws, hello);
      try {
        await hello;
      } finally {
        this.connectorHellos.delete(ws);
      }
      return;
    }
    switch (msg.type) {
      case "hello":
        throw new MessageError("hello sent twice");
      case "status": {
        ws.serializeAttachment({ ...att, state: msg.state });
        if (msg.state === "connected") {
          const meta = (await this.meta())!;
          await this.env.DB.prepare("UPDATE sessions SET status = 'active' WHERE id = ? AND status = 'pending'")
            .bind(meta.sessionId)
            .run();
          this.stream.connected();
          await this.saveWitnessedEnd();
          const user = this.browser();
          if (user) {
            const u = user.deserializeAttachment() as Extract<Attachment, { role: "user" }>;
            send(ws, { type: "resize", cols: u.cols, rows: u.rows } satisfies RoomToConnector);
            this.sendAttach(ws, { acked: null, from: null });
          }
          // The connector writes its own `connected` into the recording; the room witnesses it.
          await this.mark("connected", false);
          this.lastInput = 0;
          await this.noteInput();
        }
        this.broadcastStatus(msg.state);
        return;
      }
      case "sync":
        await this.onSync(msg.from, msg.to);
        return;
      case "end":
        await this.end(msg.reason, { byConnector: true });
        return;
      case "recording":
        await this.onRecordingState(msg.state, msg.detail);
        return;
    }
  }

  /** Connector data sockets whose hello is being handled (see onControl). */
  private readonly connectorHellos = new WeakMap<WebSocket, Promise<void>>();

  /** A connector's first message: it must be this session's hello; the socket replaces any other. */
  private async connectorHello(
    ws: WebSocket,
    att: Extract<Attachment, { role: "connector" }>,
    msg: ConnectorToRoom,
  ): Promise<void> {
    const meta = await this.meta();
    if (msg.type !== "hello" || msg.sessionId !== meta?.sessionId)
      throw new MessageError("first message must be hello");
    if (!this.versionOk(ws, msg.v)) return;
    const ended = await this.ctx.storage.get<EndReason>("ended");
    if (ended) {
      // A connector redialling a session that ended while it was away.
      send(ws, { type: "end", reason: ended } satisfies RoomToConnector);
      closeQuietly(ws, CloseCode.Ended, ended);
      return;
    }
    for (const other of this.ctx.getWebSockets("connector"))
      if (other !== ws) closeQuietly(other, CloseCode.Replaced, "replaced");
    // Attaches sent to a socket this one replaces are never answered here: output must not wait on them.
    this.stream.connectorGone();
    const state = msg.resume ? "connected" : "connecting";
    // Marked before anything else is awaited: the connector's next message may already be on its way.
    ws.serializeAttachment({ ...att, hello: true, state });
    // A connector took the session: from here on its recording may have chunks to wait for, and only
    // this connector may upload them (worker/recording-chunks.ts).
    if (!msg.resume) {
      await this.ctx.storage.put("connectorSeen", true);
      if (meta.recording)
        this.ctx.waitUntil(
          this.env.DB.prepare("UPDATE recordings SET connector_id = ? WHERE id = ? AND connector_id IS NULL")
            .bind(att.connectorId, meta.recording.recordingId)
            .run(),
        );
    }
    const { attach: _attached, reconnect: _back, ...timers } = (await this.ctx.storage.get<Timers>("timers")) ?? {};
    await this.setTimers(timers);
    send(ws, { type: "hello", v: PROTOCOL_VERSION, sessionId: meta.sessionId } satisfies RoomToConnector);
    this.broadcastStatus(state);
    // Resuming: the SSH session is still up; re-open the window and take what the log lacks.
    if (msg.resume) this.sendAttach(ws, this.stream.connectorResumed());
  }

  /** Binary frames are validated, then forwarded as the same bytes: no copy, no re-encode. */
  private onFrame(ws: WebSocket, att: Attachment, message: ArrayBuffer): Promise<void> | undefined {
    if (!att.hello) throw new FrameError("frame before hello");
    const frame = decodeFrame(message);
    if (att.role === "user") {
      // Input and credit go to the connector once it is connected; before that there is no
      // shell to type into and no output to credit, so they are dropped.
      const connector = this.connector();
      if (frame.kind === "credit" && !this.userCredit(ws).credit(frame.bytes))
        return this.violation(ws, `credit of ${frame.bytes} bytes past the output sent`);
      if (
        connector &&
        (connector.deserializeAttachment() as Attachment & { role: "connector" }).state === "connected"
      ) {
        connector.send(message);
        if (frame.kind === "data") {
          // Desktop viewers see where the user's pointer is (the stream itself does not say).
          if (this.desktop && this.viewers.list().length > 0) {
            const pointer = this.pointer.push(frame.payload);
            if (pointer) this.viewers.push(pointer, encodeData(pointer));
          }
          this.countInput(frame.payload.byteLength);
          return this.noteInput();
        }
      }
      return;
    }
    if (att.role === "viewer") {
      // Viewers only watch: their input never reaches the target. Their credit measures their lag.
      if (frame.kind !== "credit") return;
      const caughtUp = this.viewers.credit(ws, frame.bytes);
      if (caughtUp === "refused") return this.violation(ws, `credit of ${frame.bytes} bytes past the output sent`);
      return caughtUp;
    }
    if (frame.kind !== "data") throw new FrameError("connector sent credit");
    // After an eviction the first output can come before any hello: learn the session's kind first
    // (input gates hold later frames meanwhile, so the order is kept).
    if (this.desktop === undefined)
      return this.meta().then((meta) => {
        this.setDesktop(meta);
        return this.onOutput(frame.payload, message);
      });
    return this.onOutput(frame.payload, message);
  }

  /** Connector output: to the user, into the resume log, the recording and the viewers. */
  private onOutput(whole: Uint8Array, message: ArrayBuffer): Promise<void> | undefined {
    // Between `attach` and the connector's `sync`, what arrives is resent after the sync: dropped.
    const out = this.stream.output(whole);
    if (!out) return;
    if ("resync" in out) {
      const connector = this.connector();
      if (connector) this.sendAttach(connector, out.resync);
      return;
    }
    // The connector never has more than OUTPUT_WINDOW unacknowledged bytes, so no queue forms here.
    const user = this.browser();
    if (user && out.user.byteLength > 0) {
      user.send(skip(whole, out.user, message));
      this.userCredit(user).sentBytes(out.user.byteLength);
    }
    // The witness and the viewers get the same bytes; the user may also get the already-witnessed
    // head of a resend it asked for. A desktop's frames are whole Guacamole instructions: sent to
    // viewers as they are, and no terminal replay is kept (viewers joining get a repaint from the
    // connector). The recording is the connector's (docs/recording.md): no per-byte work here.
    const payload = out.witness;
    if (payload.byteLength === 0) return;
    if (!this.witnessedPastSave) {
      // One write per save period, not awaited: it only tells an evicted room its saved end is stale.
      this.witnessedPastSave = true;
      void this.ctx.storage.put(WITNESSED_PAST_SAVE_KEY, true, { allowUnconfirmed: true });
    }
    this.viewers.push(payload, skip(whole, payload, message));
    if (this.desktop || this.snapshotDue) return;
    this.snapshotDue = true;
    return this.addTimer("snapshot", Date.now() + SNAPSHOT_EVERY_MS);
  }

  // ---- resume and live viewers --------------------------------------------------------------

  /** Output offsets, the resume log, and what was witnessed (memory; the end is saved: saveWitnessedEnd). */
  private readonly stream = new OutputStream();
  /** Credit each browser socket returned against what it was sent (memory: see userCredit). */
  private readonly credits = new WeakMap<WebSocket, CreditAccount>();
  private snapshotDue = false;
  private witnessedPastSave = false;
  private readonly viewers = new LiveViewers(this.ctx.storage, () => this.viewerSockets());

  private viewerSockets(): WebSocket[] {
    return this.ctx
      .getWebSockets("viewer")
      .filter((ws) => ws.readyState === WebSocket.OPEN && (ws.deserializeAttachment() as Attachment).hello);
  }

  /**
   * A browser said hello. Resuming (`resume` = how far it got): send the rest from the log, or have
   * the connector resend it. Fresh: repaint the current screen, and count from the connector's next byte.
   */
  /** An RDP session (from meta; undefined until read, e.g. after an eviction). */
  private desktop: boolean | undefined;

  private setDesktop(meta: RoomMeta | undefined): void {
    this.desktop = meta?.protocol === "rdp";
    this.viewers.desktopRepaint = this.desktop ? (viewer) => this.repaintDesktop(viewer) : null;
  }

  /** The user's pointer position, relayed to desktop viewers. */
  private readonly pointer = new PointerRelay();

  /** When the connector was last asked to repaint the desktop (ms), and a repaint waiting for its turn. */
  private repaintedAt = 0;
  private repaintTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * A desktop viewer joined or caught up: it drops what it holds and waits for the next `size`, and the
   * connector repaints the whole desktop into the stream (the user's page gets it too). At most one
   * repaint per REPAINT_EVERY_MS: viewers joining meanwhile share the next one.
   */
  private repaintDesktop(viewer: WebSocket): void {
    send(viewer, { type: "sync", at: null, reset: true } satisfies RoomToBrowser);
    if (this.repaintTimer) return;
    const ask = () => {
      this.repaintTimer = null;
      this.repaintedAt = Date.now();
      const connector = this.connector();
      if (connector) send(connector, { type: "repaint" } satisfies RoomToConnector);
    };
    const wait = this.repaintedAt + REPAINT_EVERY_MS - Date.now();
    if (wait <= 0) ask();
    else this.repaintTimer = setTimeout(ask, wait);
  }

  /** Returns false when the browser's resume was refused (its socket is closed). */
  private async attachBrowser(user: WebSocket, resume: number | undefined): Promise<boolean> {
    this.setDesktop(await this.meta());
    const connector = this.connector();
    const live =
      connector && (connector.deserializeAttachment() as Attachment & { role: "connector" }).state === "connected"
        ? connector
        : null;
    const att = user.deserializeAttachment() as Extract<Attachment, { role: "user" }>;
    const start = this.stream.userHello(resume, live !== null);
    if (start.kind === "refuse") {
      await this.violation(user, `resume at ${start.resume} past the output end ${start.end}`);
      return false;
    }
    const account = new CreditAccount(false);
    this.credits.set(user, account);
    if (live) {
      send(live, { type: "resize", cols: att.cols, rows: att.rows } satisfies RoomToConnector);
    }
    if (start.kind === "replay") {
      send(user, { type: "sync", at: start.at, reset: false } satisfies RoomToBrowser);
      account.counting = true;
      for (const chunk of start.chunks) {
        for (const frame of encodeDataChunks(chunk)) user.send(frame);
        account.sentBytes(chunk.byteLength);
      }
    } else if (start.kind === "fresh") {
      send(user, { type: "sync", at: null, reset: true } satisfies RoomToBrowser);
      // A desktop's repaint comes from the connector (on `attach`), not from a terminal snapshot.
      if (!this.desktop) await this.viewers.repaint(user, false);
    }
    // A held resume hears its `sync` when the connector's answer shows the offset is real.
    if (live && start.attach) this.sendAttach(live, start.attach);
    return true;
  }

  private sendAttach(connector: WebSocket, at: AttachRequest): void {
    this.stream.attachSent();
    send(connector, { type: "attach", ...at } satisfies RoomToConnector);
  }

  /** The connector answered `attach`: its output from `from` follows. */
  private async onSync(from: number, to: number): Promise<void> {
    const outcome = this.stream.connectorSync(from, to);
    if (outcome.kind === "invalid") throw new MessageError(outcome.detail);
    if (outcome.kind === "stale") return;
    if (outcome.gap > 0) await this.mark(`gap: ${outcome.gap} bytes not relayed`);
    const user = this.browser();
    if (!user) return;
    if (outcome.refuseUser) {
      const { resume, end } = outcome.refuseUser;
      await this.violation(user, `resume at ${resume} past the output end ${end}`);
      return;
    }
    if (outcome.user) {
      send(user, { type: "sync", at: outcome.user.at, reset: outcome.user.reset } satisfies RoomToBrowser);
      this.userCredit(user).counting = true;
    }
  }

  /**
   * The user socket's credit account. One the room lost with its memory (an eviction, only ever while
   * idle) starts over with an allowance of one window: the socket may hold that much output not yet credited.
   */
  private userCredit(ws: WebSocket): CreditAccount {
    let account = this.credits.get(ws);
    if (!account) {
      account = new CreditAccount(true, OUTPUT_WINDOW);
      this.credits.set(ws, account);
    }
    return account;
  }

  /**
   * A browser or viewer sent an offset or a credit the room never produced: it is trying to move what
   * is recorded or watched. Its socket closes with a fatal code, and the attempt is audited.
   */
  private async violation(ws: WebSocket, detail: string): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    const role = att.role;
    console.warn(`room ${role} protocol violation: ${detail}`);
    closeQuietly(ws, CloseCode.ProtocolError, "protocol_violation");
    const meta = await this.meta();
    if (!meta) return;
    const ledger = this.env.AUDIT_LEDGER.get(this.env.AUDIT_LEDGER.idFromName("global")) as unknown as AuditAppender;
    await ledger.append({
      actor:
        att.role === "connector"
          ? null
          : { id: att.userId, name: att.role === "viewer" ? att.username : meta.username },
      action: "session.protocol_violation",
      target: { type: "session", id: meta.sessionId },
      refs: { userId: meta.userId, serverId: meta.serverId, sessionId: meta.sessionId },
      data: { role, detail },
    });
  }

  /** Saves where the witnessed stream ends, so an evicted room knows which offsets are real. */
  private async saveWitnessedEnd(): Promise<void> {
    // A stale end is not saved over the last good one (nor is the sign that it is stale cleared).
    const end = this.stream.exactEnd;
    if (end === null) return;
    this.witnessedPastSave = false;
    await this.ctx.storage.put(WITNESSED_END_KEY, end);
    await this.ctx.storage.delete(WITNESSED_PAST_SAVE_KEY);
  }

  private async tellWatchers(): Promise<void> {
    const meta = await this.meta();
    const user = this.browser();
    if (user && meta?.notifyWatched !== false)
      send(user, { type: "watchers", count: this.viewers.list().length } satisfies RoomToBrowser);
  }

  private async onGone(ws: WebSocket): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    if (att.role === "viewer") {
      this.viewers.gone(ws);
      await this.tellWatchers();
      return;
    }
    if (!att.hello || (await this.ctx.storage.get("ended"))) return;
    const others = this.ctx
      .getWebSockets(att.role)
      .some((other) => other !== ws && other.readyState === WebSocket.OPEN);
    if (others) return;
    if (att.role === "user") {
      const meta = await this.meta();
      if (meta?.disconnectGraceMs != null) await this.addTimer("grace", Date.now() + meta.disconnectGraceMs);
      return;
    }
    // A connector still connecting to the target has nothing to resume.
    if (att.state !== "connected") {
      await this.end("connector_lost");
      return;
    }
    this.stream.connectorGone();
    await this.saveWitnessedEnd();
    this.broadcastStatus("reconnecting");
    await this.addTimer("reconnect", Date.now() + CONNECTOR_RESUME_GRACE_MS);
  }

  // ---- the witness (durable/recording/seal.ts: the manifest that binds it to the connector's chunks) ---

  /** Input bytes relayed to the connector; saved shortly after (INPUT_COUNT_SAVE_MS), and at the end. */
  private inputBytes = 0;
  private inputSave: ReturnType<typeof setTimeout> | null = null;

  private countInput(bytes: number): void {
    this.inputBytes += bytes;
    // A pending timer keeps the object from being evicted before the count is saved.
    this.inputSave ??= setTimeout(() => {
      this.inputSave = null;
      void this.ctx.storage.put(INPUT_COUNT_KEY, this.inputBytes, { allowUnconfirmed: true });
    }, INPUT_COUNT_SAVE_MS);
  }

  /**
   * A marker: witnessed by the room, and (unless the connector makes it itself) sent to the connector,
   * which writes it into the recording where it arrives, in order with the bytes around it.
   */
  private async mark(label: string, toConnector = true): Promise<void> {
    const meta = await this.meta();
    if (!meta?.recording) return;
    const markers = (await this.ctx.storage.get<WitnessMarker[]>("markers")) ?? [];
    // Bounded like the manifest's list: a session warned a thousand times keeps its first thousand.
    if (markers.length < 1000) await this.ctx.storage.put("markers", [...markers, { at: Date.now(), label }]);
    const connector = this.connector();
    if (toConnector && connector) send(connector, { type: "marker", label } satisfies RoomToConnector);
  }

  /** The connector cannot record (an optional recording goes on without it): shown as failing, audited once. */
  private async onRecordingState(state: "recording" | "failing", detail: string | undefined): Promise<void> {
    const meta = await this.meta();
    if (!meta?.recording || state !== "failing" || (await this.ctx.storage.get("recordingFailed"))) return;
    const why = detail?.match(/^[a-z_]{1,64}$/) ? detail : "failing";
    await this.ctx.storage.put("recordingFailed", why);
    await this.recordingAlert(meta, `the connector cannot record (${why}); the session goes on`);
  }

  /** The session ended: the witness goes on record, and the manifest is sealed now or when the last chunk is in. */
  private async witnessEnd(meta: RoomMeta, reason: EndReason, byConnector: boolean): Promise<void> {
    if (!meta.recording) return;
    if (this.inputSave) clearTimeout(this.inputSave);
    this.inputSave = null;
    const now = Date.now();
    const witness: Witness = {
      output: this.stream.witnessedEnd ?? 0,
      input: this.inputBytes,
      markers: (await this.ctx.storage.get<WitnessMarker[]>("markers")) ?? [],
      startedAt: meta.startedAt ?? now,
      endedAt: now,
      endReason: reason,
      endedBy: byConnector ? "connector" : "room",
      recordingFailed: (await this.ctx.storage.get<string>("recordingFailed")) ?? null,
    };
    await this.ctx.storage.put(INPUT_COUNT_KEY, this.inputBytes);
    // No connector ever took the session: no chunk will come, so nothing is waited for.
    const wait = (await this.ctx.storage.get("connectorSeen"))
      ? Number(this.env.RECORDING_TAIL_WAIT_MS) || RECORDING_TAIL_WAIT_MS
      : 0;
    await recordWitness(this.env, meta.recording.recordingId, witness, wait);
    await this.seal();
  }

  /** A chunk was stored (worker/routes/recording-upload.ts): once the session has ended, seal what is due. */
  async chunkArrived(recordingId: string): Promise<void> {
    const meta = await this.meta();
    if (meta?.recording?.recordingId !== recordingId || !(await this.ctx.storage.get("ended"))) return;
    await this.seal();
  }

  /** Signs the manifest when due; otherwise the alarm comes back when the tail wait ends (or to retry). */
  private async seal(): Promise<void> {
    const meta = await this.meta();
    if (!meta?.recording) return;
    const { recordingId } = meta.recording;
    try {
      const outcome = await sealRecording(this.env, recordingId, Date.now());
      if (outcome.kind === "waiting") await this.addTimer("seal", outcome.until);
      if (outcome.kind !== "sealed" || !outcome.changed) return;
      await this.clearTimer("seal");
      const ledger = this.env.AUDIT_LEDGER.get(this.env.AUDIT_LEDGER.idFromName("global")) as unknown as AuditAppender;
      await ledger.append({
        actor: null,
        action: "recording.sealed",
        target: { type: "recording", id: recordingId },
        refs: { userId: meta.userId, serverId: meta.serverId, sessionId: meta.sessionId },
        data: { complete: outcome.complete },
      });
    } catch (err) {
      console.warn(`room ${meta.sessionId}: recording ${recordingId} not sealed yet: ${(err as Error).message}`);
      await this.addTimer("seal", Date.now() + SEAL_RETRY_MS);
    }
  }

  private async recordingAlert(s: { sessionId: string; userId: string; serverId: string }, detail: string) {
    console.warn(`room ${s.sessionId}: recording alert: ${detail}`);
    const ledger = this.env.AUDIT_LEDGER.get(this.env.AUDIT_LEDGER.idFromName("global")) as unknown as AuditAppender;
    await ledger.append({
      actor: null,
      action: "recording.alert",
      target: { type: "session", id: s.sessionId },
      refs: { userId: s.userId, serverId: s.serverId, sessionId: s.sessionId },
      data: { detail },
    });
  }

  // ---- helpers ------------------------------------------------------------------------------

  private versionOk(ws: WebSocket, v: number): boolean {
    if (v === PROTOCOL_VERSION) return true;
    closeQuietly(ws, CloseCode.VersionMismatch, `server speaks v${PROTOCOL_VERSION}`);
    return false;
  }

  private connector(): WebSocket | undefined {
    return this.ctx.getWebSockets("connector").find((ws) => (ws.deserializeAttachment() as Attachment).hello);
  }

  private browser(): WebSocket | undefined {
    return this.ctx.getWebSockets("user").find((ws) => (ws.deserializeAttachment() as Attachment).hello);
  }

  private state(): SessionState {
    const connector = this.connector();
    if (!connector) return "waiting_for_connector";
    return (connector.deserializeAttachment() as Attachment & { role: "connector" }).state;
  }

  private broadcastStatus(state: SessionState): void {
    const user = this.browser();
    if (user) send(user, { type: "status", state } satisfies RoomToBrowser);
  }

  private meta(): Promise<RoomMeta | undefined> {
    return this.ctx.storage.get<RoomMeta>("meta");
  }

  private async setTimers(timers: Timers): Promise<void> {
    await this.ctx.storage.put("timers", timers);
    const at = nextDue(timers);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }
}

function send(ws: WebSocket, message: RoomToBrowser | RoomToConnector): void {
  try {
    ws.send(encodeMessage(message));
  } catch {
    // The socket is already closing; its close handler does the cleanup.
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}

/** The frame to pass on: the original bytes when nothing was cut, else a new DATA frame of what is left. */
function skip(whole: Uint8Array, rest: Uint8Array, frame: ArrayBuffer): ArrayBuffer | Uint8Array {
  return rest === whole ? frame : encodeData(rest);
}
