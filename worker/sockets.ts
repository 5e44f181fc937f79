// Websocket upgrades: checked here, accepted only by a Durable Object. The Worker never holds a socket.
import type { MiddlewareHandler } from "hono";
import { PEER_HEADER, type SocketPeer } from "../protocol/peer.ts";
import type { AppContext } from "./env.ts";
import { ApiFailure } from "./errors.ts";

export const requireUpgrade: MiddlewareHandler<AppContext> = async (c, next) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
    throw new ApiFailure("bad_request", "not a websocket upgrade");
  await next();
};

/** Browser sockets must come from our own origin: a cookie alone would let any site open one (CSWSH). */
export const requireSameOrigin: MiddlewareHandler<AppContext> = async (c, next) => {
  const origin = c.req.header("Origin");
  if (!origin || origin !== new URL(c.req.url).origin) throw new ApiFailure("forbidden", `foreign origin ${origin}`);
  await next();
};

export function forwardSocket(
  stub: { fetch(request: Request): Promise<Response> },
  request: Request,
  peer: SocketPeer,
) {
  const headers = new Headers(request.headers);
  headers.set(PEER_HEADER, JSON.stringify(peer));
  headers.delete("Authorization");
  headers.delete("Cookie");
  return stub.fetch(new Request(request.url, { method: "GET", headers }));
}
