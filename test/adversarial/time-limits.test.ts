// Adversarial suite, time limits under crash and partition, with real peers (wrangler dev, OpenSSH,
// the connector process). A session must never outlive what governs it:
// - the connector is killed (kill -9) mid-session: the user hears `connector_lost` once the redial grace
//   is over, the target's processes under the pty hang up, and the restarted connector does not bring
//   the session back;
// - the connector's link to the edge is cut and stays cut: the session ends for the user, and the
//   connector's side hangs up too rather than keeping a shell nobody can watch.
// (The deadline's own alarm after an eviction: durable/session-resume.workers.test.ts; the connector's
// deadline backstop with the edge silent: test/e2e/connector-deadline.test.ts.)
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CONNECTOR_RESUME_GRACE_MS } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { TerminalClient } from "../support/terminal-client.ts";

/** Running, as opposed to gone or a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWithPeers("adversarial: time limits under crash and partition", missingPeers(), () => {
  let stack: Stack;
  let proxy: TcpProxy;

  beforeAll(async () => {
    stack = await startStack();
    // The connector reaches the edge through a proxy the test can cut.
    proxy = await startTcpProxy(Number(new URL(stack.edge.url).port));
    const file = join(stack.connectorState, "connector.json");
    const state = JSON.parse(await readFile(file, "utf8")) as { edgeUrl: string };
    state.edgeUrl = `http://127.0.0.1:${proxy.port}`;
    await writeFile(file, JSON.stringify(state), { mode: 0o600 });
    await stack.restartConnector();
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  /** Opens a session with a background process under its pty; returns the client and that pid. */
  async function sessionWithSleeper() {
    let opened: { id: string } | undefined;
    // The restarted connector may need a moment to reconnect its control socket.
    for (let i = 0; i < 50 && !opened; i++)
      opened = await stack.user.openSession(stack.serverId, stack.credentialId).catch(async () => {
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      });
    const { id } = opened!;
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    const pidFile = `/tmp/psm-adv-sleeper-${id}.pid`;
    client.type(`sleep 1000000 & echo $! > ${pidFile}; echo sleeper-$((20+22))\n`);
    await client.waitForOutput("sleeper-42");
    const pid = Number((await readFile(pidFile, "utf8")).trim());
    expect(alive(pid)).toBe(true);
    return { id, client, pid };
  }

  it("attack: kill -9 the connector mid-session — guarantee: the session ends as connector_lost and its processes hang up", async () => {
    const { id, client, pid } = await sessionWithSleeper();
    await stack.restartConnector(); // SIGKILL, then a fresh process
    expect(await client.waitForEnd(CONNECTOR_RESUME_GRACE_MS + 10_000)).toBe("connector_lost");
    await until("the pty's process to hang up", () => !alive(pid), 10_000);
    // The restarted connector knows nothing of it: the session stays ended.
    const row = await stack.user.request<{ status: string; endReason: string | null }>("GET", `/api/sessions/${id}`);
    expect(row).toMatchObject({ status: "ended", endReason: "connector_lost" });
    client.close();
  });

  it("attack: cut the connector off the edge for good — guarantee: the session ends on both sides", async () => {
    const { client, pid } = await sessionWithSleeper();
    proxy.setBlocked(true);
    expect(proxy.cut()).toBeGreaterThan(0);
    const reason = await client.waitForEnd(CONNECTOR_RESUME_GRACE_MS + 10_000).catch((err) => {
      throw new Error(`${err}; close ${client.closeCode}; messages ${JSON.stringify(client.messages)}`);
    });
    expect(reason).toBe("connector_lost");
    // The connector cannot hear that the session ended; it gives up redialling and hangs up itself.
    await until("the connector to hang up the target", () => !alive(pid), 60_000);
    proxy.setBlocked(false);
    client.close();
  });
});
