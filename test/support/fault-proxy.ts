// An HTTP proxy for tests that injects the failures an object store shows in real life: 500s,
// stalled requests, connection resets before the request reaches the store, and resets after the
// store took the write but before the client heard back. Faults follow a seeded schedule.
import http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault = "none" | "500" | "stall" | "reset" | "reset-after";

export type FaultProxy = {
  url: string;
  /** How many requests saw each fault. */
  counts: Record<Fault, number>;
  /** Replaces the schedule: called once per request, in order. */
  setSchedule(next: (n: number) => Fault): void;
  close(): Promise<void>;
};

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(upstream: string, schedule: (n: number) => Fault): Promise<FaultProxy> {
  const target = new URL(upstream);
  const counts: Record<Fault, number> = { none: 0, "500": 0, stall: 0, reset: 0, "reset-after": 0 };
  let n = 0;
  let next = schedule;
  const stalled = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const fault = next(n++);
    counts[fault]++;
    if (fault === "500") {
      req.resume();
      res.writeHead(500, { "content-type": "application/xml" });
      res.end('<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
      return;
    }
    if (fault === "stall") {
      req.resume(); // read the body, answer nothing: the client's timeout must fire
      stalled.add(res);
      return;
    }
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (fault === "reset-after") {
          up.resume();
          up.on("end", () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on("error", () => req.socket.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    setSchedule(s) {
      next = s;
    },
    async close() {
      for (const res of stalled) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
