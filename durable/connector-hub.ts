// ConnectorHub: one Durable Object per site. Holds the control sockets of the site's connectors
// (hibernating between messages; heartbeats answered by auto-response) and dispatches each new
// session's signed grant to one live connector.
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
import { PEER_HEADER, type SocketPeer } from "../worker/sockets.ts";

type Attachment = { connectorId: string; siteId: string; hello: boolean; agent: string; since: number };

export type ConnectorHealth = { connectorId: string; agent: string; connectedAt: number; lastSeen: number };

export class ConnectorHub extends DurableObject<Env> {
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
        return;
      }
      if (msg.type !== "rejected") throw new MessageError("hello sent twice");
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
  }

  /** Sends `open` to one live connector. False when none is live. */
  async dispatch(sessionId: string, grant: string): Promise<boolean> {
    const live = this.live();
    if (live.length === 0) return false;
    // Random choice spreads sessions over a site's connectors without shared state.
    const ws = live[Math.floor(Math.random() * live.length)]!;
    return send(ws, { type: "open", sessionId, grant });
  }

  async health(): Promise<ConnectorHealth[]> {
    return this.live().map((ws) => {
      const att = ws.deserializeAttachment() as Attachment;
      return {
        connectorId: att.connectorId,
        agent: att.agent,
        connectedAt: att.since,
        lastSeen: this.lastSeen(ws, att),
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
