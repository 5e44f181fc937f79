// The fake Duo (test/fakes/duo.ts) on loopback HTTPS for end-to-end tests: the edge's server-to-server calls
// (health check, token) reach it over real TLS, its certificate issued by a test CA the edge is told to trust
// (NODE_EXTRA_CA_CERTS, read by wrangler's Miniflare). The browser's visit to Duo's prompt is answered by the
// same fake through Playwright's routing (Chromium does not trust the test CA), see test/e2e/strong-auth.test.ts.
import { mkdtemp } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/stack/process.ts";
import { read, testCa } from "../support/pki.ts";
import { FakeDuo } from "./duo.ts";

export type DuoServer = { duo: FakeDuo; caCert: string; stop: () => Promise<void> };

export async function startDuoServer(): Promise<DuoServer> {
  const dir = await mkdtemp(join(tmpdir(), "psm-duo-"));
  const ca = testCa(dir, "duo");
  const issued = ca.server();
  let duo: FakeDuo | undefined;
  const server: Server = createServer({ cert: read(issued.cert), key: read(issued.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const request = new Request(`https://${req.headers.host}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
      duo!
        .handle(request)
        .then(async (answer) => {
          res.writeHead(answer.status, Object.fromEntries(answer.headers));
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(500);
          res.end();
        });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  duo = new FakeDuo(`127.0.0.1:${port}`);
  return {
    duo,
    caCert: ca.cert,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
