// ConnectorHub: one Durable Object per site. Holds the control sockets of the site's connectors
// (hibernating between messages; heartbeats answered by auto-response) and dispatches each new
// session's signed grant to one live connector: the least loaded first, the next one when a
// connector does not accept in time or dies while asked, so a dead connector never fails a start.
import { DurableObject } from "cloudflare:workers";
import {
  CloseCode,
  ConnectorToHub,
  encodeMessage,
  HEARTBEAT_TIMEOUT_MS,
  type HubToConnector,
  MessageError,
  PING,
  PONG,
  PROTOCOL_VERSION,
  parseMessage,
} from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";
import { signedKeyAnnouncement } from "../worker/keys.ts";
import { PEER_HEADER, type SocketPeer } from "../worker/sockets.ts";

type ReportedError = { at: number; event: string; reason?: string };
type Attachment = {
  connectorId: string;
  siteId: string;
  hello: boolean;
  agent: string;
  since: number;
  /** Sessions the connector last reported, plus those dispatched to it since. */
  sessions: number;
  errors: ReportedError[];
  /** It has sent a report: a connector that answers `open` with `accepted`. Older ones never do. */
  acks?: boolean;
};

export type ConnectorHealth = {
  connectorId: string;
  agent: string;
  connectedAt: number;
  lastSeen: number;
  sessions: number;
  errors: ReportedError[];
};

/** How long a connector has to accept an `open` before the next one is asked: 5 s. */
export const ACCEPT_TIMEOUT_MS = 5_000;

type Answer = "accepted" | "rejected" | "gone" | "timeout";

export class ConnectorHub extends DurableObject<Env> {
  /** `open`s waiting for their connector's answer, by session id. In memory: a dispatch is one RPC. */
  private readonly waiting = new Map<string, { connectorId: string; answer: (a: Answer) => void }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    const peer = JSON.parse(request.headers.get(PEER_HEADER) ?? "null") as SocketPeer | null;
    if (peer?.role !== "connector") return new Response("forbidden", { status: 403 });
    // A connector that reconnects replaces its previous socket.
    for (const old of this.ctx.getWebSockets(peer.connectorId)) closeQuietly(old, CloseCode.Replaced, "replaced");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [peer.connectorId]);
    server.serializeAttachment({
      connectorId: peer.connectorId,
      siteId: peer.siteId,
      hello: false,
      agent: "",
      since: Date.now(),
      sessions: 0,
      errors: [],
    } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    try {
      if (typeof message !== "string") throw new MessageError("binary on control socket");
      const msg = parseMessage(ConnectorToHub, message);
      if (!att.hello) {
        if (msg.type !== "hello") throw new MessageError("first message must be hello");
        if (msg.v !== PROTOCOL_VERSION) {
          closeQuietly(ws, CloseCode.VersionMismatch, `server speaks v${PROTOCOL_VERSION}`);
          return;
        }
        ws.serializeAttachment({ ...att, hello: true, agent: msg.agent } satisfies Attachment);
        send(ws, { type: "hello", v: PROTOCOL_VERSION, siteId: att.siteId, connectorId: att.connectorId });
        // The keys the edge signs with now and next, vouched for by the current one (protocol/edge-keys.ts).
        send(ws, { type: "edge_keys", keys: await signedKeyAnnouncement(this.env) });
        return;
      }
      if (msg.type === "hello") throw new MessageError("hello sent twice");
      if (msg.type === "report") {
        ws.serializeAttachment({ ...att, sessions: msg.sessions, errors: msg.errors, acks: true } satisfies Attachment);
        return;
      }
      if (msg.type === "accepted") {
        this.answer(msg.sessionId, att.connectorId, "accepted");
        return;
      }
      this.answer(msg.sessionId, att.connectorId, "rejected");
      console.warn(`connector ${att.connectorId} rejected session ${msg.sessionId}: ${msg.reason}`);
      const room = this.env.SESSION_ROOM.get(this.env.SESSION_ROOM.idFromName(msg.sessionId));
      await room.end(msg.reason, { bySite: att.siteId });
    } catch (err) {
      if (!(err instanceof MessageError)) throw err;
      console.warn(`hub: connector ${att.connectorId} protocol error: ${err.message}`);
      closeQuietly(ws, CloseCode.ProtocolError, "protocol_error");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, "");
    this.connectorGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.connectorGone(ws);
  }

  /**
   * Hands a session to a live connector: the least loaded first (ties at random), then the next
   * until one accepts. False when none is live or none accepted: the caller ends the session.
   */
  async dispatch(sessionId: string, grant: string): Promise<boolean> {
    const tried = new Set<string>();
    for (;;) {
      const candidates = this.live()
        .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment, tie: Math.random() }))
        .filter((c) => !tried.has(c.att.connectorId))
        .sort((a, b) => a.att.sessions - b.att.sessions || a.tie - b.tie);
      const next = candidates[0];
      if (!next) return false;
      tried.add(next.att.connectorId);
      // A connector from before `accepted` existed (rolling upgrade): a delivered `open` is all we get.
      if (!next.att.acks) {
        if (send(next.ws, { type: "open", sessionId, grant })) return true;
        continue;
      }
      const answer = await this.ask(next.ws, next.att.connectorId, sessionId, grant);
      if (answer === "accepted" || answer === "rejected") {
        // A rejection already ended the session with the connector's reason; another would refuse too.
        if (answer === "accepted" && next.ws.readyState === WebSocket.OPEN) {
          const att = next.ws.deserializeAttachment() as Attachment;
          next.ws.serializeAttachment({ ...att, sessions: att.sessions + 1 } satisfies Attachment);
        }
        return true;
      }
      console.warn(
        `hub: connector ${next.att.connectorId} did not take session ${sessionId} (${answer}); trying another`,
      );
    }
  }

  private ask(ws: WebSocket, connectorId: string, sessionId: string, grant: string): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => this.answer(sessionId, connectorId, "timeout"), ACCEPT_TIMEOUT_MS);
      this.waiting.set(sessionId, {
        connectorId,
        answer: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
      if (!send(ws, { type: "open", sessionId, grant })) this.answer(sessionId, connectorId, "gone");
    });
  }

  /** Asks the connector to replace its identity key; false when it is not online. */
  async rotateIdentity(connectorId: string): Promise<boolean> {
    const ws = this.ctx
      .getWebSockets(connectorId)
      .find((s) => (s.deserializeAttachment() as Attachment).hello && s.readyState === WebSocket.OPEN);
    if (!ws) return false;
    send(ws, { type: "rotate_identity" });
    return true;
  }

  /**
   * Sends a credential rotation job (signed, protocol/rotation.ts) to one live connector, the least loaded;
   * its id, or null when none is live. The connector answers over HTTPS (POST /connector/rotations/:job).
   */
  async rotate(job: string): Promise<string | null> {
    const candidates = this.live()
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }))
      .sort((a, b) => a.att.sessions - b.att.sessions);
    for (const { ws, att } of candidates) if (send(ws, { type: "rotate", job })) return att.connectorId;
    return null;
  }

  /** The connector was revoked: its control socket closes now (its tokens no longer authenticate). */
  async revoke(connectorId: string): Promise<number> {
    const sockets = this.ctx.getWebSockets(connectorId);
    for (const ws of sockets) {
      this.connectorGone(ws);
      closeQuietly(ws, CloseCode.Forbidden, "revoked");
    }
    return sockets.length;
  }

  /** Settles a waiting dispatch, if one waits for this connector's answer. */
  private answer(sessionId: string, connectorId: string, answer: Answer): void {
    const w = this.waiting.get(sessionId);
    if (!w || w.connectorId !== connectorId) return;
    this.waiting.delete(sessionId);
    w.answer(answer);
  }

  private connectorGone(ws: WebSocket): void {
    const { connectorId } = ws.deserializeAttachment() as Attachment;
    for (const [sessionId, w] of this.waiting)
      if (w.connectorId === connectorId) this.answer(sessionId, connectorId, "gone");
  }

  async health(): Promise<ConnectorHealth[]> {
    return this.live().map((ws) => {
      const att = ws.deserializeAttachment() as Attachment;
      return {
        connectorId: att.connectorId,
        agent: att.agent,
        connectedAt: att.since,
        lastSeen: this.lastSeen(ws, att),
        sessions: att.sessions,
        errors: att.errors,
      };
    });
  }

  /** Connectors that said hello and pinged recently; silent ones are closed so they reconnect. */
  private live(): WebSocket[] {
    const now = Date.now();
    return this.ctx.getWebSockets().filter((ws) => {
      const att = ws.deserializeAttachment() as Attachment;
      if (!att.hello || ws.readyState !== WebSocket.OPEN) return false;
      if (now - this.lastSeen(ws, att) <= HEARTBEAT_TIMEOUT_MS) return true;
      closeQuietly(ws, CloseCode.TryAgain, "heartbeat timeout");
      return false;
    });
  }

  private lastSeen(ws: WebSocket, att: Attachment): number {
    return Math.max(att.since, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
  }
}

function send(ws: WebSocket, message: HubToConnector): boolean {
  try {
    ws.send(encodeMessage(message));
    return true;
  } catch {
    return false;
  }
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
