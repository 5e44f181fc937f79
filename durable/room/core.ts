// The session room's pure core: who is attached and in which role, the output stream's offsets and
// resume, credit and viewer lag, the timers and the session's end. Driven by events with the time
// passed in (a socket opened, a message or frame arrived, a socket went, an alarm, an RPC), it returns
// the actions to take; the Durable Object (../session-room.ts) carries them out and keeps no state of
// its own. Everything that must survive an eviction is written by a `save` action and comes back as
// `Saved`; sockets come back with their attachments (`Peer`).
//
// Input writers: the session's user (one tab at a time: a newer tab takes over) and any viewer marked
// `writer` (a person the user invited: sharing.ts). Every writer's input goes to the connector and is witnessed, by
// writer.
import {
  type AuditEntryInput,
  CloseCode,
  CONNECTOR_RESUME_GRACE_MS,
  type EndReason,
  FrameError,
  MessageError,
  type RoomToBrowser,
  type RoomToConnector,
  type SessionState,
} from "../../protocol/index.ts";
import { OutputStream } from "../output-stream.ts";
import { Lifecycle, type SealAttempt } from "./lifecycle.ts";
import { Moderation } from "./moderation.ts";
import { Relay } from "./relay.ts";
import { Reviews } from "./reviews.ts";
import { Sharing } from "./sharing.ts";
import type { Action, EndOptions, Peer, PeerId, RoomMeta, Saved } from "./types.ts";
import { KEYS } from "./types.ts";
import { FileTransfers } from "./transfers.ts";
import { SNAPSHOT_EVERY_MS, Viewers } from "./viewers.ts";
import { WitnessLog } from "./witness.ts";

export type Presence = {
  user: boolean;
  connector: boolean;
  viewers: number;
  watchers: string[];
  lastInputAt: number | null;
  recording: "recorded" | "not_recorded" | "failing";
  state: SessionState;
};

export class RoomCore {
  meta: RoomMeta | null;
  ended: EndReason | null;
  readonly peers = new Map<PeerId, Peer>();
  readonly stream = new OutputStream();
  readonly viewers: Viewers;
  readonly witness: WitnessLog;
  readonly life: Lifecycle;
  readonly moderation: Moderation;
  readonly reviews: Reviews;
  readonly sharing: Sharing;
  readonly relay = new Relay(this);
  readonly transfers = new FileTransfers(this);
  private snapshotDue = false;
  /** Output was witnessed since the witnessed end was last saved (the saved end may be stale). */
  private pastSave: boolean;
  /** The actions of the event being handled, and its time (for parts that need it deep down). */
  private out: Action[] = [];
  private clock = 0;

  constructor(saved: Saved = {}, peers: Peer[] = []) {
    this.meta = saved.meta ?? null;
    this.ended = saved.ended ?? null;
    this.viewers = new Viewers(() => this.desktop, saved.replay, saved.replayPieces);
    this.witness = new WitnessLog(saved);
    this.life = new Lifecycle(this, saved);
    this.moderation = new Moderation(this, saved);
    this.reviews = new Reviews(this, saved);
    this.sharing = new Sharing(this, saved);
    this.pastSave = saved.witnessedPastSave ?? false;
    if (saved.witnessedEnd !== undefined) this.stream.restore(saved.witnessedEnd, !saved.witnessedPastSave);
    for (const peer of peers) this.adopt(peer);
  }

  /**
   * A socket found attached that the core has not seen (after an eviction: all of them). A viewer's
   * account was lost with memory, so it may credit up to the most it can owe.
   */
  adopt(peer: Peer): void {
    if (this.peers.has(peer.id)) return;
    this.peers.set(peer.id, peer);
    if (peer.role === "viewer" && peer.hello) this.viewers.add(peer.id, false);
  }

  get desktop(): boolean {
    return this.meta?.protocol === "rdp";
  }

  /** Runs one event and returns its actions. */
  private run(event: () => void): Action[] {
    this.out = [];
    event();
    return this.out;
  }

  /** Sets the time of the event about to run. */
  private at(now: number): this {
    this.clock = now;
    return this;
  }

  /** For the relay and the lifecycle: append an action to the event being handled. */
  emit(action: Action): void {
    this.out.push(action);
  }

  /** The actions of the event being handled, for parts that append several. */
  get outbox(): Action[] {
    return this.out;
  }

  // ---- RPC ----------------------------------------------------------------------------------

  init(meta: RoomMeta, now: number): Action[] {
    return this.at(now).run(() => {
      this.meta = { ...meta, startedAt: meta.startedAt ?? now };
      this.emit({ do: "save", entries: { [KEYS.meta]: this.meta } });
      this.life.started(now);
    });
  }

  /** Ends the session. `bySite`, when given, must be the session's site (a connector's report). */
  end(reason: EndReason, options: EndOptions, now: number): { ended: boolean; actions: Action[] } {
    let ended = false;
    const actions = this.at(now).run(() => {
      ended = this.endNow(reason, options, now);
    });
    return { ended, actions };
  }

  extend(deadline: number, grant: string, now: number): { extended: boolean; actions: Action[] } {
    let extended = false;
    const actions = this.at(now).run(() => {
      extended = this.life.extend(deadline, now);
      if (!extended) return;
      for (const peer of this.peers.values())
        if (peer.role !== "connector") this.send(peer.id, { type: "extended", deadline });
      const connector = this.connector();
      if (connector) this.send(connector.id, { type: "extend", grant });
      this.mark(`extension: until ${new Date(deadline).toISOString()}`, now);
    });
    return { extended, actions };
  }

  /** A reviewer's answer to a held command (docs/governance.md); false when that review is not pending. */
  decideReview(
    id: string,
    allowed: boolean,
    reviewer: { id: string; name: string },
    now: number,
  ): { decided: boolean; actions: Action[] } {
    let decided = false;
    const actions = this.at(now).run(() => {
      decided = this.reviews.decide(id, allowed, reviewer, now);
    });
    return { decided, actions };
  }

  presence(): Presence {
    const watchers = this.viewers.list().map((id) => (this.peers.get(id) as Peer & { role: "viewer" }).username);
    const lastInput = this.life.lastInputAt();
    return {
      user: !!this.browser(),
      connector: !!this.connector(),
      viewers: watchers.length,
      watchers: [...new Set(watchers)].sort(),
      lastInputAt: lastInput || null,
      recording: !this.meta?.recording ? "not_recorded" : this.witness.failed ? "failing" : "recorded",
      state: this.state(),
    };
  }

  /** A connector was revoked: the session it serves ends now. */
  connectorRevoked(connectorId: string, now: number): { ended: boolean; actions: Action[] } {
    const served = [...this.peers.values()].some((p) => p.role === "connector" && p.connectorId === connectorId);
    return served ? this.end("connector_revoked", {}, now) : { ended: false, actions: [] };
  }

  /**
   * A person lost the right to watch: their viewer sockets close now. `writersOnly`: only their input sockets (an
   * invitation taken back, or the right to join lost, while they may still watch as an admin).
   */
  dropViewer(userId: string, now: number, writersOnly = false): { dropped: number; actions: Action[] } {
    let dropped = 0;
    const actions = this.at(now).run(() => {
      for (const peer of [...this.peers.values()])
        if (peer.role === "viewer" && peer.userId === userId && (!writersOnly || peer.writer)) {
          this.close(peer.id, CloseCode.Forbidden, "access_revoked");
          dropped++;
        }
      if (dropped > 0) this.tellWatchers();
    });
    return { dropped, actions };
  }

  /** A chunk was stored: once the session has ended, seal what is due. */
  chunkArrived(recordingId: string): Action[] {
    return this.run(() => {
      if (this.ended && this.meta?.recording?.recordingId === recordingId) this.emit({ do: "seal", recordingId });
    });
  }

  /** How a seal went: wait for the tail, retry later, or audit the signed manifest. */
  sealed(outcome: SealAttempt, now: number): Action[] {
    return this.at(now).run(() => this.life.sealed(outcome, now));
  }

  // ---- sockets ------------------------------------------------------------------------------

  /** Whether a socket with this identity may attach to this session at all. */
  admits(
    peer:
      | { role: "user"; userId: string }
      | { role: "viewer"; writer?: boolean }
      | { role: "connector"; siteId: string },
  ): boolean {
    if (!this.meta) return false;
    if (peer.role === "user") return peer.userId === this.meta.userId;
    // A person the user invited takes part (and is shown to everyone), whether or not admins may watch.
    if (peer.role === "viewer") return peer.writer === true ? !this.desktop : this.meta.liveView !== false;
    return peer.siteId === this.meta.siteId;
  }

  /** A socket was accepted (it says hello next). */
  open(peer: Peer): Action[] {
    return this.run(() => {
      this.peers.set(peer.id, peer);
      this.emit({ do: "peer", peer });
    });
  }

  /** A text message: validated here; one that breaks the protocol costs its sender the socket. */
  control(id: PeerId, text: string, now: number): Action[] {
    return this.at(now).run(() => this.guard(id, now, () => this.relay.control(id, text, now)));
  }

  /** A binary frame. */
  frame(id: PeerId, message: ArrayBuffer, now: number): Action[] {
    return this.at(now).run(() => this.guard(id, now, () => this.relay.frame(id, message, now)));
  }

  /** A socket closed or failed. */
  gone(id: PeerId, now: number): Action[] {
    return this.at(now).run(() => {
      const peer = this.peers.get(id);
      if (!peer) return;
      this.forget(id);
      if (peer.role === "viewer") {
        this.tellWatchers();
        return;
      }
      if (!peer.hello || this.ended) return;
      if ([...this.peers.values()].some((p) => p.role === peer.role)) return;
      this.transfers.gone(peer.role, now);
      if (peer.role === "user") {
        this.life.browserGone(now);
        return;
      }
      // A connector still connecting to the target has nothing to resume.
      if (peer.state !== "connected") {
        this.endNow("connector_lost", {}, now);
        return;
      }
      this.stream.connectorGone();
      this.saveWitnessedEnd();
      this.broadcastStatus("reconnecting");
      this.life.addTimer("reconnect", now + CONNECTOR_RESUME_GRACE_MS);
    });
  }

  alarm(now: number): Action[] {
    return this.at(now).run(() => this.life.alarm(now));
  }

  /** A memory timer is due (the input count's save, a desktop repaint waiting its turn). */
  tick(now: number): Action[] {
    return this.at(now).run(() => {
      this.witness.tick(now, this.out);
      this.relay.tick(now);
    });
  }

  private guard(id: PeerId, now: number, handle: () => void): void {
    try {
      handle();
    } catch (err) {
      if (!(err instanceof MessageError || err instanceof FrameError)) throw err;
      // A connector that breaks the protocol cannot carry the session any further: the session ends.
      const peer = this.peers.get(id);
      this.emit({ do: "log", line: `room ${peer?.role} protocol error: ${err.message}` });
      this.close(id, CloseCode.ProtocolError, "protocol_error");
      if (peer?.role === "connector") this.endNow("protocol_error", {}, now);
    }
  }

  // ---- shared by the relay and the lifecycle --------------------------------------------------

  /** Ends the session now (see `end`); false when it had ended already or the site is not its own. */
  endNow(reason: EndReason, { bySite, note, actor, byConnector }: EndOptions, now: number): boolean {
    const meta = this.meta;
    if (!meta || (bySite !== undefined && bySite !== meta.siteId) || this.ended) return false;
    this.ended = reason;
    this.emit({ do: "save", entries: { [KEYS.ended]: reason } });
    this.life.setTimers({});
    this.viewers.save(this.out);
    this.saveWitnessedEnd();
    for (const peer of [...this.peers.values()]) {
      if (peer.role === "connector") this.send(peer.id, { type: "end", reason });
      else this.send(peer.id, { type: "ended", reason, ...(note ? { note } : {}) });
      this.close(peer.id, CloseCode.Ended, reason);
    }
    const witness = meta.recording
      ? {
          recordingId: meta.recording.recordingId,
          // No connector ever took the session: no chunk will come, so nothing is waited for.
          tailWait: this.witness.connectorSeen,
          witness: this.witness.end(
            this.stream.witnessedEnd ?? 0,
            { startedAt: meta.startedAt ?? now, endedAt: now },
            reason,
            byConnector ? "connector" : "room",
            this.out,
          ),
        }
      : null;
    this.emit({ do: "ended", reason, ...(note ? { note } : {}), ...(actor ? { actor } : {}), witness });
    return true;
  }

  send(to: PeerId, msg: RoomToBrowser | RoomToConnector): void {
    this.emit({ do: "send", to, msg });
  }

  /** Closes a socket; the core forgets the peer at once (its close event finds nothing). */
  close(id: PeerId, code: number, reason: string): void {
    if (!this.peers.has(id)) return;
    this.forget(id);
    this.emit({ do: "close", to: id, code, reason });
  }

  forget(id: PeerId): void {
    const peer = this.peers.get(id);
    this.peers.delete(id);
    if (peer?.role === "viewer" && peer.hello && !this.ended) {
      if (peer.moderator) this.moderation.left(peer, this.clock);
      if (peer.writer) this.sharing.left(peer, this.clock);
    }
    this.relay.forget(id);
    this.viewers.gone(id);
  }

  update(peer: Peer): void {
    this.peers.set(peer.id, peer);
    this.emit({ do: "peer", peer });
  }

  /** The connector's data socket that said hello. */
  connector(): (Peer & { role: "connector" }) | undefined {
    for (const peer of this.peers.values()) if (peer.role === "connector" && peer.hello) return peer;
  }

  /** The connector, when it has reached the target: input and credit go to it. */
  liveConnector(): (Peer & { role: "connector" }) | undefined {
    const connector = this.connector();
    return connector?.state === "connected" ? connector : undefined;
  }

  /** The user's browser that said hello (one at a time). */
  browser(): (Peer & { role: "user" }) | undefined {
    for (const peer of this.peers.values()) if (peer.role === "user" && peer.hello) return peer;
  }

  state(): SessionState {
    return this.connector()?.state ?? "waiting_for_connector";
  }

  broadcastStatus(state: SessionState): void {
    const user = this.browser();
    if (user) this.send(user.id, { type: "status", state });
  }

  tellWatchers(): void {
    const user = this.browser();
    if (!user || this.meta?.notifyWatched === false) return;
    // The people the user invited type with them and are named by `participants`: they are not watchers.
    const writers = [...this.peers.values()].filter((p) => p.role === "viewer" && p.hello && p.writer).length;
    this.send(user.id, { type: "watchers", count: this.viewers.count - writers });
  }

  /** Audits an event of this session: its refs come from the meta, and its target (unless given) is the session. */
  auditSession(
    actor: AuditEntryInput["actor"],
    action: AuditEntryInput["action"],
    data: AuditEntryInput["data"],
    target?: AuditEntryInput["target"],
  ): void {
    const meta = this.meta!;
    this.emit({
      do: "audit",
      entry: {
        actor,
        action,
        target: target ?? { type: "session", id: meta.sessionId },
        refs: { userId: meta.userId, serverId: meta.serverId, sessionId: meta.sessionId },
        data,
      },
    });
  }

  /**
   * A marker: witnessed by the room, and (unless the connector makes it itself) sent to the connector,
   * which writes it into the recording where it arrives, in order with the bytes around it.
   */
  mark(label: string, now: number, toConnector = true): void {
    if (!this.meta?.recording || !this.witness.mark(label, now, this.out)) return;
    const connector = this.connector();
    if (toConnector && connector) this.send(connector.id, { type: "marker", label });
  }

  /** Saves where the witnessed stream ends, so an evicted room knows which offsets are real. */
  saveWitnessedEnd(): void {
    // A stale end is not saved over the last good one (nor is the sign that it is stale cleared).
    const end = this.stream.exactEnd;
    if (end === null) return;
    this.pastSave = false;
    this.emit({ do: "save", entries: { [KEYS.witnessedEnd]: end } });
    this.emit({ do: "remove", keys: [KEYS.witnessedPastSave] });
  }

  /** Output was witnessed: the saved end may be stale from now on; the screen snapshot is due within 5 s. */
  witnessed(now: number): void {
    if (!this.pastSave) {
      // One write per save period: it only tells an evicted room its saved end is stale.
      this.pastSave = true;
      this.emit({ do: "save", entries: { [KEYS.witnessedPastSave]: true }, unconfirmed: true });
    }
    if (this.desktop || this.snapshotDue) return;
    this.snapshotDue = true;
    this.life.addTimer("snapshot", now + SNAPSHOT_EVERY_MS);
  }

  /** The snapshot timer fired: the viewers' screen and the witnessed end are saved. */
  snapshot(): void {
    this.snapshotDue = false;
    this.viewers.save(this.out);
    this.saveWitnessedEnd();
  }
}
