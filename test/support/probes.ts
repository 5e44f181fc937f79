// Waiting on what a test cannot be told about: a recording reaching the store, a process on the target
// going away, a session's background process under its pty. Shared by the e2e and adversarial suites.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RecordingSummary } from "../../protocol/index.ts";
import type { EdgeClient } from "../../scripts/stack/admin-client.ts";
import type { Stack } from "./stack.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { TerminalClient } from "./terminal-client.ts";

/** Polls the recordings list until the session's recording is stored; `timeoutMs` in ms. */
export async function storedRecording(admin: EdgeClient, sessionId: string, timeoutMs = 20_000) {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    const list = await admin.request<RecordingSummary[]>("GET", "/api/recordings");
    const found = list.find((r) => r.sessionId === sessionId);
    if (found?.status === "stored") return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`recording of ${sessionId} not stored`);
}

/** Running, as opposed to gone or a zombie (this machine's init may be slow to reap orphans). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Polls `check` every 20 ms; returns how long it took, in ms. */
export async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

/** Opens a session and starts a long-running background process under its pty; returns that process's pid. */
export async function sessionWithSleeper(stack: Stack) {
  const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
  const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
  await client.waitForState("connected");
  const pidFile = `/tmp/psm-sleeper-${id}.pid`;
  client.type(`sleep 1000000 & echo $! > ${pidFile}; echo sleeper-$((20+22))\n`);
  await client.waitForOutput("sleeper-42");
  // The shell wrote the file before it echoed; a loaded machine once showed the echo first (a full CI run failed
  // on ENOENT here), so give the file a moment to appear.
  let text = "";
  for (let i = 0; i < 50 && !text; i++) {
    text = await readFile(pidFile, "utf8").catch(() => "");
    if (!text) await new Promise((r) => setTimeout(r, 100));
  }
  const pid = Number(text.trim());
  if (!alive(pid)) throw new Error("the sleeper did not start");
  return { id, client, pid };
}

/** Points the stack's connector at the edge through a TCP proxy the test can cut, and restarts it. */
export async function connectorThroughProxy(stack: Stack): Promise<TcpProxy> {
  const proxy = await startTcpProxy(Number(new URL(stack.edge.url).port));
  const file = join(stack.connectorState, "connector.json");
  const state = JSON.parse(await readFile(file, "utf8")) as { edgeUrl: string };
  state.edgeUrl = `http://127.0.0.1:${proxy.port}`;
  await writeFile(file, JSON.stringify(state), { mode: 0o600 });
  await stack.restartConnector();
  return proxy;
}

/** Every file under `dir` as latin1 text (SQLite pages, Durable Object storage, logs): for secret scans. */
export function allBytes(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.size < 64 * 1024 * 1024) out.push(readFileSync(p).toString("latin1"));
    }
  };
  walk(dir);
  return out.join("\n");
}
