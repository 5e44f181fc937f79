// SessionRoom: one Durable Object per session, a thin shell around the room's pure core
// (durable/room/core.ts). It accepts the sockets, hands every event to the core with the time, and
// carries out the actions the core returns: frames and messages to sockets, storage writes, the alarm,
// and the I/O of an ended session (D1, the audit ledger, the recording's witness and seal). Uses the
// hibernation API: the core is rebuilt from storage and the sockets' attachments whenever the
// object wakes, so nothing is lost when it is evicted between messages.
import { DurableObject } from "cloudflare:workers";
import {
  type AuditEntryInput,
  type EndReason,
  encodeMessage,
  PING,
  PONG,
  RECORDING_TAIL_WAIT_MS,
} from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";
import { PEER_HEADER, peerOf } from "../protocol/peer.ts";
import { closeReview, openReview } from "../edge-shared/command-reviews.ts";
import { nameConnector, recordWitness } from "../edge-shared/recording-index.ts";
import { markSessionActive, markSessionEnded, sessionPending } from "../edge-shared/session-store.ts";
import { sealRecording } from "./recording/seal.ts";
import { workerEffects } from "./worker-effects.ts";
import { type Presence, RoomCore } from "./room/core.ts";
import type { SealAttempt } from "./room/lifecycle.ts";
import {
  type Action,
  type EndOptions,
  KEYS,
  type Peer,
  type PeerId,
  type RoomMeta,
  replayKey,
  type Saved,
} from "./room/types.ts";

export type { EndOptions, RoomMeta };

/** The ledger's one RPC the room uses (typed narrowly: the full stub type is too deep for tsc here). */
type AuditAppender = { append(entry: AuditEntryInput): Promise<unknown> };

export class SessionRoom extends DurableObject<Env> {
  /** Set before any event is delivered (the constructor's blockConcurrencyWhile). */
  private core = new RoomCore();
  private readonly sockets = new Map<PeerId, WebSocket>();
  private readonly ids = new WeakMap<WebSocket, PeerId>();
  /** The memory timer the core asked for (`wake`), if one is pending. */
  private wakeAt: number | null = null;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Heartbeats are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    void ctx.blockConcurrencyWhile(async () => {
      const peers: Peer[] = [];
      for (const ws of ctx.getWebSockets()) {
        let peer = ws.deserializeAttachment() as Peer;
        if (!peer.id) {
          // A socket accepted before peers had ids.
          peer = { ...peer, id: crypto.randomUUID() };
          ws.serializeAttachment(peer);
        }
        this.track(peer.id, ws);
        peers.push(peer);
      }
      this.core = new RoomCore(await loadSaved(ctx.storage), peers);
    });
  }

  // ---- RPC from the Worker and the ConnectorHub ---------------------------------------------

  async init(meta: RoomMeta): Promise<void> {
    await this.run(this.core.init(meta, Date.now()));
  }

  /** Ends the session. `bySite`, when given, must be the session's site (a connector's report). */
  async end(reason: EndReason, options: EndOptions = {}): Promise<boolean> {
    const { ended, actions } = this.core.end(reason, options, Date.now());
    await this.run(actions);
    return ended;
  }

  /**
   * An extension was granted: the deadline moves to `deadline`, warnings start over, everyone is told,
   * and the connector gets the fresh grant that moves its own backstop. False once the session ended.
   */
  async extend(deadline: number, grant: string): Promise<boolean> {
    const { extended, actions } = this.core.extend(deadline, grant, Date.now());
    await this.run(actions);
    return extended;
  }

  /**
   * For the live sessions list: who is attached right now (watchers by username, each once however many tabs),
   * when the user last typed (unix ms; the connect counts as input; null before it), and whether recording works.
   */
  async presence(): Promise<Presence> {
    return this.core.presence();
  }

  /** A connector was revoked: the session it serves ends now (no other connector holds its target connection). */
  async connectorRevoked(connectorId: string): Promise<boolean> {
    const { ended, actions } = this.core.connectorRevoked(connectorId, Date.now());
    await this.run(actions);
    return ended;
  }

  /**
   * A person lost the right to watch this session: their viewer sockets close now (`writersOnly`: only their input
   * sockets, for a person who lost the right to join but may still watch). Returns how many closed.
   */
  async dropViewer(userId: string, writersOnly = false): Promise<number> {
    const { dropped, actions } = this.core.dropViewer(userId, Date.now(), writersOnly);
    await this.run(actions);
    return dropped;
  }

  /**
   * A reviewer's answer to a held command (worker/routes/command-reviews.ts checked who may give it). False when
   * that review is no longer pending (answered, timed out, withdrawn, or the session ended).
   */
  async decideReview(id: string, allowed: boolean, reviewer: { id: string; name: string }): Promise<boolean> {
    const { decided, actions } = this.core.decideReview(id, allowed, reviewer, Date.now());
    await this.run(actions);
    return decided;
  }

  /** A chunk was stored (worker/routes/recording-upload.ts): once the session has ended, seal what is due. */
  async chunkArrived(recordingId: string): Promise<void> {
    await this.run(this.core.chunkArrived(recordingId));
  }

  // ---- sockets -------------------------------------------------------------------------------

  override async fetch(request: Request): Promise<Response> {
    const peer = peerOf(request.headers.get(PEER_HEADER));
    if (!peer || !this.core.meta) return new Response("not found", { status: 404 });
    if (!this.core.admits(peer)) return new Response("forbidden", { status: 403 });
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [peer.role]);
    const id = crypto.randomUUID();
    this.track(id, server);
    await this.run(
      this.core.open(
        peer.role === "user"
          ? { id, role: "user", userId: peer.userId, hello: false, cols: 80, rows: 24 }
          : peer.role === "viewer"
            ? {
                id,
                role: "viewer",
                userId: peer.userId,
                username: peer.username,
                hello: false,
                ...(peer.moderator ? { moderator: true, ...(peer.personId ? { personId: peer.personId } : {}) } : {}),
                ...(peer.writer ? { writer: true } : {}),
              }
            : { id, role: "connector", connectorId: peer.connectorId, hello: false, state: "connecting" },
      ),
    );
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> | undefined {
    const id = this.idOf(ws);
    const now = Date.now();
    return this.run(
      typeof message === "string" ? this.core.control(id, message, now) : this.core.frame(id, message, now),
    );
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, "");
    await this.gone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.gone(ws);
  }

  override async alarm(): Promise<void> {
    await this.run(this.core.alarm(Date.now()));
  }

  private async gone(ws: WebSocket): Promise<void> {
    const id = this.idOf(ws);
    this.sockets.delete(id);
    await this.run(this.core.gone(id, Date.now()));
  }

  private track(id: PeerId, ws: WebSocket): void {
    this.sockets.set(id, ws);
    this.ids.set(ws, id);
  }

  /** A socket's peer id; a socket this instance has not tracked yet (accepted by an earlier one) is adopted. */
  private idOf(ws: WebSocket): PeerId {
    const known = this.ids.get(ws);
    if (known) return known;
    const peer = ws.deserializeAttachment() as Peer;
    this.track(peer.id, ws);
    this.core.adopt(peer);
    return peer.id;
  }

  // ---- carrying out the core's actions ---------------------------------------------------------

  /** Runs the actions in order; returns a promise only when one of them does I/O that must be awaited. */
  private run(actions: Action[], from = 0): Promise<void> | undefined {
    for (let i = from; i < actions.length; i++) {
      const action = actions[i]!;
      switch (action.do) {
        case "frame":
          send(this.sockets.get(action.to), action.frame);
          break;
        case "send":
          send(this.sockets.get(action.to), encodeMessage(action.msg));
          break;
        case "close": {
          const ws = this.sockets.get(action.to);
          this.sockets.delete(action.to);
          if (ws) closeQuietly(ws, action.code, action.reason);
          break;
        }
        case "peer":
          this.sockets.get(action.peer.id)?.serializeAttachment(action.peer);
          break;
        case "save":
          // Not awaited: writes are applied in order, and outgoing messages wait for them unless unconfirmed.
          void this.ctx.storage.put(action.entries, action.unconfirmed ? { allowUnconfirmed: true } : {});
          break;
        case "remove":
          void this.ctx.storage.delete(action.keys);
          break;
        case "alarm":
          void (action.at === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(action.at));
          break;
        case "wake":
          this.wake(action.at);
          break;
        case "log":
          console.warn(action.line);
          break;
        default:
          return this.effect(action).then(() => this.run(actions, i + 1));
      }
    }
  }

  /** The actions that wait on I/O outside the object. */
  private async effect(action: Action): Promise<void> {
    const meta = this.core.meta;
    switch (action.do) {
      case "audit":
        await this.ledger().append(action.entry);
        return;
      case "activated":
        if (meta && (await markSessionActive(this.env.DB, meta.sessionId)) && meta.masterPassword)
          await workerEffects().masterPasswordSettled(this.env, meta.userId);
        return;
      case "served":
        this.ctx.waitUntil(nameConnector(this.env.DB, action.recordingId, action.connectorId).run());
        return;
      case "ended":
        await this.ended(action);
        return;
      case "seal":
        await this.seal(action.recordingId);
        return;
      case "review_open":
        if (!meta) return;
        await openReview(this.env.DB, meta.sessionId, action.review);
        // The reviewers' devices hear of it in the background: the held line does not wait for push services.
        this.ctx.waitUntil(
          workerEffects()
            .commandReviewWaiting(this.env, meta.sessionId, action.review.id)
            .catch((err: unknown) => console.warn(`review notice: ${err instanceof Error ? err.name : "error"}`)),
        );
        return;
      case "review_closed":
        if (meta) await closeReview(this.env.DB, meta.sessionId, action.id, action.decision, action.by, action.at);
        return;
    }
  }

  private async ended(action: Extract<Action, { do: "ended" }>): Promise<void> {
    const meta = this.core.meta!;
    const { reason, note, actor, witness } = action;
    // A master password reserved at connect and never judged (the session ended before the connector got that far).
    const unjudged =
      meta.masterPassword && reason !== "master_password_wrong" && (await sessionPending(this.env.DB, meta.sessionId));
    await markSessionEnded(this.env.DB, meta.sessionId, reason, Date.now());
    if (unjudged) await workerEffects().masterPasswordSettled(this.env, meta.userId);
    // A command still held for review goes with the session: nobody may answer it any more.
    await closeReview(this.env.DB, meta.sessionId, null, "ended", null, Date.now());
    // The connector checked the sealed master password and refused it: counted like a failed sign-in.
    if (reason === "master_password_wrong")
      await workerEffects().masterPasswordWrong(
        this.env,
        { id: meta.userId, name: meta.username },
        meta.masterPassword === true,
      );
    await this.ledger().append({
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
    if (!witness) return;
    // Then the witness goes on record and the recording is sealed (now, or when its last chunk is in).
    const wait = witness.tailWait ? Number(this.env.RECORDING_TAIL_WAIT_MS) || RECORDING_TAIL_WAIT_MS : 0;
    await recordWitness(this.env.DB, witness.recordingId, witness.witness, wait);
    await this.seal(witness.recordingId);
  }

  /** Signs the manifest when due; the core sets the alarm to come back when the tail wait ends, or to retry. */
  private async seal(recordingId: string): Promise<void> {
    let outcome: SealAttempt;
    try {
      outcome = await sealRecording(this.env, recordingId, Date.now());
    } catch (err) {
      outcome = { kind: "failed", detail: (err as Error).message };
    }
    await this.run(this.core.sealed(outcome, Date.now()));
  }

  private wake(at: number): void {
    if (this.wakeAt !== null && this.wakeAt <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    // A pending timer also keeps the object from being evicted before the core's memory timer runs.
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = null;
        this.wakeTimer = null;
        void this.run(this.core.tick(Date.now()))?.catch((err) => console.warn(`room tick: ${err}`));
      },
      Math.max(0, at - Date.now()),
    );
  }

  private ledger(): AuditAppender {
    return this.env.AUDIT_LEDGER.get(this.env.AUDIT_LEDGER.idFromName("global")) as unknown as AuditAppender;
  }
}

/** Everything the core saved, read back when the object wakes (one read, plus the screen's pieces). */
async function loadSaved(storage: DurableObjectStorage): Promise<Saved> {
  const keys = Object.values(KEYS);
  const got = await storage.get(keys);
  const saved: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(KEYS))
    if (got.has(key) && key !== KEYS.replayCount) saved[name] = got.get(key);
  const pieces = (got.get(KEYS.replayCount) as number | undefined) ?? 0;
  if (pieces > 0) {
    const names = Array.from({ length: pieces }, (_, i) => replayKey(i));
    const stored = await storage.get<Uint8Array>(names);
    const parts = names.flatMap((name) => stored.get(name) ?? []);
    const replay = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const part of parts) {
      replay.set(part, at);
      at += part.byteLength;
    }
    saved.replay = replay;
  }
  return { ...(saved as Saved), replayPieces: pieces };
}

function send(ws: WebSocket | undefined, data: string | ArrayBuffer | Uint8Array): void {
  try {
    ws?.send(data);
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
