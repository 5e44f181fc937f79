// Prometheus metrics on a loopback-only port: the connector opens no port reachable from the
// network (it only dials out), so the scrape endpoint binds 127.0.0.1 and nothing else.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Health } from "./health.ts";

export async function startMetrics(health: Health, port: number): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(health.prometheus());
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  server.unref();
  return { port: (server.address() as AddressInfo).port, server };
}
