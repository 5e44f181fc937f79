// A loopback TCP proxy whose live connections can be cut at will: a network blip between two peers
// (here the connector and the edge) without stopping either.
import { createConnection, createServer, type Server, type Socket } from "node:net";

export type TcpProxy = {
  port: number;
  cut: () => number;
  /** While blocked, new connections are reset at once (a partition that redialling cannot cross). */
  setBlocked: (blocked: boolean) => void;
  close: () => Promise<void>;
};

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const live = new Set<Socket>();
  let blocked = false;
  const server: Server = createServer((client) => {
    if (blocked) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ port: targetPort, host: targetHost });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      live.add(a);
      a.on("close", () => {
        live.delete(a);
        b.destroy();
      });
      a.on("error", () => b.destroy());
      a.pipe(b);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    /** Resets every connection through the proxy now; new ones are still accepted. Returns how many. */
    cut: () => {
      const count = live.size / 2;
      for (const socket of live) socket.resetAndDestroy();
      return count;
    },
    setBlocked: (value) => {
      blocked = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of live) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
