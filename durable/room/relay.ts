// The room core's socket protocol (pure): the hellos of the user's browser, live viewers and the
// connector's data socket, the messages after them, and the frames that cross the room. Binary frames
// are validated, then passed on as the same bytes (no copy, no re-encode).
//
// Resume: every output byte has an offset (protocol/output-log.ts). The room keeps the recent output
// by offset; a browser that reconnects says how far it got and is sent the rest, from the room's log
// or, when the room no longer holds it, resent by the connector from its own. Which offsets are real,
// and what the viewers get, is decided by `OutputStream` from the connector's numbers and the room's
// own count, never a browser's.
import {
  BrowserToRoom,
  CloseCode,
  ConnectorToRoom,
  decodeFrame,
  encodeData,
  encodeDataChunks,
  FrameError,
  MAX_LISTING_MESSAGE,
  MessageError,
  OUTPUT_WINDOW,
  PROTOCOL_VERSION,
  parseMessage,
} from "../../protocol/index.ts";
import { PointerRelay } from "../desktop-pointer.ts";
import { type AttachRequest, CreditAccount } from "../output-stream.ts";
import { commandRan } from "./commands.ts";
import type { RoomCore } from "./core.ts";
import type { Peer, PeerId } from "./types.ts";

/** A desktop is repainted for joining viewers at most once per second. */
export const REPAINT_EVERY_MS = 1_000;

type PeerOf<R extends Peer["role"]> = Extract<Peer, { role: R }>;

export class Relay {
  /** Credit each user socket returned against what it was sent (memory: see userCredit). */
  private readonly credits = new Map<PeerId, CreditAccount>();
  private readonly pointer = new PointerRelay();
  /** When the connector was last asked to repaint the desktop, and a repaint waiting for its turn. */
  private repaintedAt = 0;
  private repaintAt: number | null = null;

  constructor(private readonly core: RoomCore) {}

  control(id: PeerId, text: string, now: number): void {
    const peer = this.core.peers.get(id);
    if (!peer) return;
    if (peer.role === "connector") {
      // A listing (MAX_LISTING_MESSAGE) is the largest thing a connector says; everything else is far smaller.
      this.connectorControl(peer, parseMessage(ConnectorToRoom, text, MAX_LISTING_MESSAGE), now);
      return;
    }
    const msg = parseMessage(BrowserToRoom, text);
    if (peer.hello) {
      if (
        msg.type === "ft_list" ||
        msg.type === "ft_upload" ||
        msg.type === "ft_download" ||
        msg.type === "ft_cancel"
      ) {
        this.core.transfers.request(peer, msg, now);
        return;
      }
      if (msg.type === "moderate") {
        if (peer.role !== "viewer" || !peer.moderator)
          throw new MessageError("moderate from a socket that does not moderate");
        this.core.moderation.command(peer, msg, now);
        return;
      }
      if (peer.role === "viewer") return; // a viewer's size does not drive the session
      if (msg.type !== "resize") throw new MessageError("hello sent twice");
      this.core.update({ ...peer, cols: msg.cols, rows: msg.rows });
      const connector = this.core.connector();
      if (connector) this.core.send(connector.id, msg);
      return;
    }
    if (msg.type !== "hello") throw new MessageError("first message must be hello");
    if (!this.versionOk(id, msg.v)) return;
    const meta = this.core.meta!;
    this.core.update(
      peer.role === "user" ? { ...peer, hello: true, cols: msg.cols, rows: msg.rows } : { ...peer, hello: true },
    );
    this.core.send(id, { type: "hello", v: PROTOCOL_VERSION, sessionId: meta.sessionId, deadline: meta.deadline });
    if (this.core.ended) {
      this.core.send(id, { type: "ended", reason: this.core.ended });
      this.core.close(id, CloseCode.Ended, this.core.ended);
      return;
    }
    if (peer.role === "viewer") {
      this.core.send(id, { type: "status", state: this.core.state() });
      this.core.viewers.add(id, true);
      this.resyncViewer(id, now);
      this.core.tellWatchers();
      if (peer.moderator) this.core.moderation.joined({ ...peer, hello: true }, now);
      this.core.moderation.tell(now, id);
      if (peer.writer) this.core.sharing.joined({ ...peer, hello: true }, now);
      else this.core.sharing.tell(id);
      return;
    }
    // One browser drives a session at a time; a newer tab takes over.
    for (const other of [...this.core.peers.values()])
      if (other.role === "user" && other.id !== id) this.core.close(other.id, CloseCode.Replaced, "replaced");
    this.core.life.clearTimer("grace");
    this.core.send(id, { type: "status", state: this.core.state() });
    if (!this.attachBrowser(this.core.peers.get(id) as PeerOf<"user">, msg.resume)) return;
    this.core.life.repeatWarnings(id, now);
    this.core.moderation.tell(now, id);
    this.core.sharing.tell(id);
    this.core.transfers.hello(id);
  }

  /**
   * A browser said hello. Resuming (`resume` = how far it got): send the rest from the log, or have the
   * connector resend it. Fresh: repaint the current screen, and count from the connector's next byte.
   * Returns false when the resume was refused (its socket is closed).
   */
  private attachBrowser(user: PeerOf<"user">, resume: number | undefined): boolean {
    const live = this.core.liveConnector();
    const start = this.core.stream.userHello(resume, live !== undefined);
    if (start.kind === "refuse") {
      this.violation(user.id, `resume at ${start.resume} past the output end ${start.end}`);
      return false;
    }
    const account = this.userCredit(user.id, new CreditAccount(false));
    if (live) this.core.send(live.id, { type: "resize", cols: user.cols, rows: user.rows });
    if (start.kind === "replay") {
      this.core.send(user.id, { type: "sync", at: start.at, reset: false });
      account.counting = true;
      for (const chunk of start.chunks) {
        this.sendBytes(user.id, chunk);
        account.sentBytes(chunk.byteLength);
      }
    } else if (start.kind === "fresh") {
      this.core.send(user.id, { type: "sync", at: null, reset: true });
      // A desktop's repaint comes from the connector (on `attach`), not from a terminal snapshot.
      if (!this.core.desktop) this.core.viewers.repaint(user.id, false, this.core.outbox);
    }
    // A held resume hears its `sync` when the connector's answer shows the offset is real.
    if (live && start.attach) this.sendAttach(live.id, start.attach);
    return true;
  }

  private connectorControl(peer: PeerOf<"connector">, msg: ConnectorToRoom, now: number): void {
    if (!peer.hello) {
      this.connectorHello(peer, msg);
      return;
    }
    switch (msg.type) {
      case "hello":
        throw new MessageError("hello sent twice");
      case "status": {
        this.core.update({ ...peer, state: msg.state });
        if (msg.state === "connected") {
          this.core.emit({ do: "activated" });
          this.core.stream.connected();
          this.core.saveWitnessedEnd();
          const user = this.core.browser();
          if (user) {
            this.core.send(peer.id, { type: "resize", cols: user.cols, rows: user.rows });
            this.sendAttach(peer.id, { acked: null, from: null });
          }
          // The connector writes its own `connected` into the recording; the room witnesses it.
          this.core.mark("connected", now, false);
          this.core.life.connected(now);
        }
        this.core.broadcastStatus(msg.state);
        return;
      }
      case "sync":
        this.onSync(msg.from, msg.to, now);
        return;
      case "end":
        this.core.endNow(msg.reason, { byConnector: true }, now);
        return;
      case "recording":
        if (msg.state === "failing") this.core.life.recordingFailing(msg.detail);
        return;
      case "notice": {
        // Command control's words for the user (docs/governance.md): passed on as they are (the policy's text).
        const user = this.core.browser();
        if (user) this.core.send(user.id, msg);
        return;
      }
      case "command":
        commandRan(this.core, msg, now);
        return;
      case "command_review":
        this.core.reviews.requested(msg, now);
        return;
      case "command_review_withdrawn":
        this.core.reviews.withdrawn(msg.id, now);
        return;
      case "ft_listing":
      case "ft_ready":
      case "ft_done":
      case "ft_refused":
        this.core.transfers.answer(msg, now);
        return;
    }
  }

  /**
   * A connector's first message: it must be this session's hello. The first fresh hello binds the session to that
   * connector; after it only the same connector is let in (a redial replaces its older socket). Another one's
   * hello, fresh or resuming, is refused: a connector that accepted the start after the hub had asked the next
   * one (ACCEPT_TIMEOUT_MS), or one claiming a session it does not hold. Its socket closes (4003), so it ends its
   * target connection, and the attempt is audited; the session goes on with the connector that took it.
   */
  private connectorHello(peer: PeerOf<"connector">, msg: ConnectorToRoom): void {
    const meta = this.core.meta!;
    if (msg.type !== "hello" || msg.sessionId !== meta.sessionId) throw new MessageError("first message must be hello");
    if (!this.versionOk(peer.id, msg.v)) return;
    if (this.core.ended) {
      // A connector redialling a session that ended while it was away.
      this.core.send(peer.id, { type: "end", reason: this.core.ended });
      this.core.close(peer.id, CloseCode.Ended, this.core.ended);
      return;
    }
    const { servedBy, connectorSeen } = this.core.witness;
    const refused =
      servedBy !== null && servedBy !== peer.connectorId
        ? `connector ${peer.connectorId} said hello for a session connector ${servedBy} serves`
        : msg.resume && !connectorSeen
          ? `connector ${peer.connectorId} resumed a session no connector took`
          : null;
    if (refused) {
      this.core.emit({ do: "log", line: `room: ${refused}` });
      this.core.close(peer.id, CloseCode.Forbidden, "not_this_connector");
      this.core.auditSession(null, "session.protocol_violation", { role: "connector", detail: refused });
      return;
    }
    for (const other of [...this.core.peers.values()])
      if (other.role === "connector" && other.id !== peer.id) this.core.close(other.id, CloseCode.Replaced, "replaced");
    // Attaches sent to a socket this one replaces are never answered here: output must not wait on them.
    this.core.stream.connectorGone();
    const state = msg.resume ? "connected" : "connecting";
    this.core.update({ ...peer, hello: true, state });
    // A connector took the session: from here on its recording may have chunks to wait for, and only
    // this connector may upload them (worker/recording-chunks.ts).
    if (!msg.resume) {
      this.core.witness.tookSession(peer.connectorId, this.core.outbox);
      if (meta.recording)
        this.core.emit({ do: "served", connectorId: peer.connectorId, recordingId: meta.recording.recordingId });
    }
    this.core.life.connectorBack();
    this.core.send(peer.id, { type: "hello", v: PROTOCOL_VERSION, sessionId: meta.sessionId });
    this.core.broadcastStatus(state);
    // Resuming: the SSH session is still up; re-open the window and take what the log lacks.
    if (msg.resume) this.sendAttach(peer.id, this.core.stream.connectorResumed());
  }

  /** The connector answered `attach`: its output from `from` follows. */
  private onSync(from: number, to: number, now: number): void {
    const outcome = this.core.stream.connectorSync(from, to);
    if (outcome.kind === "invalid") throw new MessageError(outcome.detail);
    if (outcome.kind === "stale") return;
    if (outcome.gap > 0) this.core.mark(`gap: ${outcome.gap} bytes not relayed`, now);
    if (outcome.resyncViewers) for (const viewer of this.core.viewers.list()) this.resyncViewer(viewer, now);
    const user = this.core.browser();
    if (!user) return;
    if (outcome.refuseUser) {
      const { resume, end } = outcome.refuseUser;
      this.violation(user.id, `resume at ${resume} past the output end ${end}`);
      return;
    }
    if (outcome.user) {
      this.core.send(user.id, { type: "sync", at: outcome.user.at, reset: outcome.user.reset });
      this.userCredit(user.id).counting = true;
    }
  }

  frame(id: PeerId, message: ArrayBuffer, now: number): void {
    const peer = this.core.peers.get(id);
    if (!peer) return;
    if (!peer.hello) throw new FrameError("frame before hello");
    const frame = decodeFrame(message);
    if (frame.kind === "file_data" || frame.kind === "file_credit") {
      if (peer.role === "connector") this.core.transfers.connectorFrame(frame, message);
      else this.core.transfers.userFrame(peer, frame, message, now);
      return;
    }
    if (peer.role === "connector") {
      if (frame.kind !== "data") throw new FrameError("connector sent credit");
      this.onOutput(frame.payload, message, now);
      return;
    }
    if (frame.kind === "credit") {
      // A user's credit opens the connector's window; a viewer's measures its own lag.
      if (peer.role === "viewer") this.viewerCredit(id, frame.bytes, now);
      else if (!this.userCredit(id).credit(frame.bytes))
        this.violation(id, `credit of ${frame.bytes} bytes past the output sent`);
      else {
        const live = this.core.liveConnector();
        if (live) this.core.emit({ do: "frame", to: live.id, frame: message });
      }
      return;
    }
    // Input: from the user, or a person the user invited (a viewer marked writer). Before the connector is
    // connected there is no shell to type into, so it is dropped. Viewers only watch: their input never reaches
    // the target.
    if (peer.role === "viewer" && !peer.writer) return;
    const live = this.core.liveConnector();
    // A moderated session without its moderators, or locked by one: nothing typed reaches the target.
    if (!live || !this.core.moderation.inputOpen(now)) return;
    const name = peer.role === "viewer" ? peer.username : this.core.meta!.username;
    this.core.sharing.input({ id: peer.userId, name }, live.id, now);
    this.core.emit({ do: "frame", to: live.id, frame: message });
    this.inputRelayed(peer.userId, frame.payload, now);
  }

  private viewerCredit(id: PeerId, bytes: number, now: number): void {
    const outcome = this.core.viewers.credit(id, bytes);
    if (outcome === "refused") this.violation(id, `credit of ${bytes} bytes past the output sent`);
    else if (outcome === "caught_up") this.resyncViewer(id, now);
  }

  /** Connector output: to the user, into the resume log, and to the viewers. */
  private onOutput(whole: Uint8Array, message: ArrayBuffer, now: number): void {
    // Between `attach` and the connector's `sync`, what arrives is resent after the sync: dropped.
    const out = this.core.stream.output(whole);
    if (!out) return;
    if ("resync" in out) {
      const connector = this.core.connector();
      if (connector) this.sendAttach(connector.id, out.resync);
      return;
    }
    // The connector never has more than OUTPUT_WINDOW unacknowledged bytes, so no queue forms here.
    const user = this.core.browser();
    if (user && out.user.byteLength > 0) {
      this.core.emit({ do: "frame", to: user.id, frame: skip(whole, out.user, message) });
      this.userCredit(user.id).sentBytes(out.user.byteLength);
    }
    // The witness and the viewers get the same bytes; the user may also get the already-witnessed head
    // of a resend it asked for. The recording is the connector's (docs/recording.md): no per-byte work here.
    const payload = out.witness;
    if (payload.byteLength === 0) return;
    this.core.viewers.push(payload, skip(whole, payload, message), this.core.outbox);
    this.core.witnessed(now);
  }

  /** A memory timer is due: a desktop repaint waiting for its turn. */
  tick(now: number): void {
    if (this.repaintAt !== null && now >= this.repaintAt) this.askRepaint(now);
  }

  /** A socket is gone: its credit account goes with it. */
  forget(id: PeerId): void {
    this.credits.delete(id);
  }

  sendAttach(connector: PeerId, at: AttachRequest): void {
    this.core.stream.attachSent();
    this.core.send(connector, { type: "attach", ...at });
  }

  /**
   * A browser or viewer sent an offset or a credit the room never produced: it is trying to move what
   * is recorded or watched. Its socket closes with a fatal code, and the attempt is audited.
   */
  violation(id: PeerId, detail: string): void {
    const peer = this.core.peers.get(id);
    const meta = this.core.meta;
    if (!peer || !meta) return;
    this.core.emit({ do: "log", line: `room ${peer.role} protocol violation: ${detail}` });
    this.core.close(id, CloseCode.ProtocolError, "protocol_violation");
    const actor =
      peer.role === "connector"
        ? null
        : { id: peer.userId, name: peer.role === "viewer" ? peer.username : meta.username };
    this.core.auditSession(actor, "session.protocol_violation", { role: peer.role, detail });
  }

  /** The user socket's credit account; one lost with memory starts with an allowance of one window. */
  userCredit(id: PeerId, fresh?: CreditAccount): CreditAccount {
    if (fresh) this.credits.set(id, fresh);
    let account = this.credits.get(id);
    if (!account) {
      account = new CreditAccount(true, OUTPUT_WINDOW);
      this.credits.set(id, account);
    }
    return account;
  }

  /** Output frames for a socket: DATA frames of `bytes`. */
  sendBytes(to: PeerId, bytes: Uint8Array): void {
    for (const frame of encodeDataChunks(bytes)) this.core.emit({ do: "frame", to, frame });
  }

  /** The user's pointer position for desktop viewers (the stream itself does not say where it is). */
  pointerMoved(input: Uint8Array): void {
    if (!this.core.desktop || this.core.viewers.count === 0) return;
    const pointer = this.pointer.push(input);
    if (pointer) this.core.viewers.pushAside(encodeData(pointer), this.core.outbox);
  }

  /** A viewer joined or caught up: repainted from the replay, or (a desktop) by the connector. */
  resyncViewer(viewer: PeerId, now: number): void {
    if (this.core.viewers.resync(viewer, this.core.outbox)) return;
    // A desktop viewer drops what it holds and waits for the next `size`; the connector repaints the whole
    // desktop into the stream (the user's page gets it too), at most once per REPAINT_EVERY_MS.
    this.core.send(viewer, { type: "sync", at: null, reset: true });
    if (this.repaintAt !== null) return;
    const at = this.repaintedAt + REPAINT_EVERY_MS;
    if (at <= now) this.askRepaint(now);
    else {
      this.repaintAt = at;
      this.core.emit({ do: "wake", at });
    }
  }

  private askRepaint(now: number): void {
    this.repaintAt = null;
    this.repaintedAt = now;
    const connector = this.core.connector();
    if (connector) this.core.send(connector.id, { type: "repaint" });
  }

  /** Input from a writer reached the connector: witnessed, and counted as activity. */
  inputRelayed(writer: string, bytes: Uint8Array, now: number): void {
    this.pointerMoved(bytes);
    const saveAt = this.core.witness.input(bytes.byteLength, writer, now);
    if (saveAt !== null) this.core.emit({ do: "wake", at: saveAt });
    this.core.life.noteInput(now);
  }

  private versionOk(id: PeerId, v: number): boolean {
    if (v === PROTOCOL_VERSION) return true;
    this.core.close(id, CloseCode.VersionMismatch, `server speaks v${PROTOCOL_VERSION}`);
    return false;
  }
}

/** The frame to pass on: the original bytes when nothing was cut, else a new DATA frame of what is left. */
function skip(whole: Uint8Array, rest: Uint8Array, frame: ArrayBuffer): ArrayBuffer | Uint8Array {
  return rest === whole ? frame : encodeData(rest);
}
