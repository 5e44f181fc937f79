// Starts the edge locally: `wrangler d1 migrations apply --local` then `wrangler dev`, with its
// own state folder and secrets file, on a loopback port.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { freePort, type Proc, startProcess, waitFor } from "./process.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const OFFLINE = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

export type EdgeSecrets = { EDGE_SIGNING_KEY: string; USER_TOKEN_SECRET: string; BOOTSTRAP_TOKEN: string };

export async function generateEdgeSecrets(): Promise<EdgeSecrets> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return {
    EDGE_SIGNING_KEY: JSON.stringify(await exportJWK(privateKey)),
    USER_TOKEN_SECRET: randomBytes(32).toString("base64url"),
    BOOTSTRAP_TOKEN: randomBytes(24).toString("base64url"),
  };
}

export function envFile(secrets: Record<string, string>): string {
  return `${Object.entries(secrets)
    .map(([k, v]) => `${k}='${v}'`)
    .join("\n")}\n`;
}

export type Edge = { url: string; proc: Proc; stop: () => Promise<void> };

export async function startEdge(opts: {
  stateDir: string;
  secrets: EdgeSecrets;
  port?: number;
  vars?: Record<string, string>;
  echo?: boolean;
  /** Serve GET /__scheduled so tests can fire the cron trigger. */
  testScheduled?: boolean;
  /** Run wrangler dev inside this network namespace (the caller relays `port` to it). */
  netns?: string;
}): Promise<Edge> {
  await mkdir(opts.stateDir, { recursive: true, mode: 0o700 });
  const envPath = join(opts.stateDir, "edge.env");
  await writeFile(envPath, envFile({ ...opts.secrets, ...opts.vars }), { mode: 0o600 });
  const persist = join(opts.stateDir, "wrangler");
  const migrate = startProcess(
    process.execPath,
    [WRANGLER, "d1", "migrations", "apply", "psm", "--local", "--persist-to", persist],
    {
      name: "migrate",
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE, CI: "true" },
    },
  );
  const code = await new Promise<number | null>((resolve) => migrate.child.once("exit", resolve));
  if (code !== 0) throw new Error(`d1 migrations failed:\n${migrate.output()}`);

  // A port we picked can still be taken before wrangler binds it; then we pick again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await runWranglerDev(opts, persist, envPath, opts.port ?? (await freePort()));
    } catch (err) {
      const taken = err instanceof Error && err.message.includes("Address already in use");
      if (!taken || opts.port !== undefined || attempt === 3) throw err;
    }
  }
}

async function runWranglerDev(
  opts: Parameters<typeof startEdge>[0],
  persist: string,
  envPath: string,
  port: number,
): Promise<Edge> {
  const inspector = await freePort();
  const proc = startProcess(
    opts.netns ? "ip" : process.execPath,
    [
      ...(opts.netns ? ["netns", "exec", opts.netns, process.execPath] : []),
      WRANGLER,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspector),
      "--persist-to",
      persist,
      "--env-file",
      envPath,
      "--show-interactive-dev-session=false",
      ...(opts.testScheduled ? ["--test-scheduled"] : []),
      "--live-reload=false",
    ],
    { name: "edge", cwd: ROOT, env: { ...process.env, ...OFFLINE }, echo: opts.echo },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "wrangler dev",
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`wrangler exited:\n${proc.output()}`);
        const res = await fetch(`${url}/api/me`, { signal: AbortSignal.timeout(5_000) });
        return res.status === 401 ? true : undefined;
      },
      60_000,
    );
  } catch (err) {
    await proc.stop();
    // What wrangler printed is what says why it never answered (its secrets file is never printed).
    throw new Error(`${(err as Error).message}\n--- wrangler dev printed ---\n${proc.output().slice(-6_000)}`);
  }
  return { url, proc, stop: () => proc.stop() };
}

/**
 * Runs one SQL statement against a local edge's D1 (the state `startEdge` persisted under `stateDir`) and
 * returns its rows. For tests that must look at what the edge stores (sealed blobs), never for the product.
 */
export async function d1Query<T>(stateDir: string, sql: string): Promise<T[]> {
  const args = [
    WRANGLER,
    "d1",
    "execute",
    "psm",
    "--local",
    "--persist-to",
    join(stateDir, "wrangler"),
    "--json",
    "--command",
    sql,
  ];
  const options = { cwd: ROOT, env: { ...process.env, ...OFFLINE, CI: "true" }, maxBuffer: 16 * 1024 * 1024 };
  // This reader opens the SQLite file the running `wrangler dev` writes to, so it can meet the edge's write lock
  // (SQLITE_BUSY): that is a clash of two processes on one file, not an answer, so it reads again.
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await promisify(execFile)(process.execPath, args, options);
      return (JSON.parse(stdout) as Array<{ results: T[] }>)[0]!.results;
    } catch (err) {
      if (attempt >= 8 || !/SQLITE_BUSY|database is locked/.test(String(err))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
    }
  }
}
