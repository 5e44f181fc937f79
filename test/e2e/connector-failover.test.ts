// Several connectors per site: the ConnectorHub spreads new sessions over three live connectors;
// after one is killed with SIGKILL, new sessions start on the others without a failed start and
// the sessions it carried end with `connector_lost`. The admin sees each connector's health.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ConnectorInfo } from "../../protocol/index.ts";
import { enrollConnector, runConnector } from "../../scripts/stack/connector.ts";
import type { Proc } from "../../scripts/stack/process.ts";
import { loadState } from "../../connector/state.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("three connectors per site", missingPeers(), () => {
  let stack: Stack;
  const extra: Proc[] = [];
  const clients: TerminalClient[] = [];
  const connectors = () => [stack.connector, ...extra];

  beforeAll(async () => {
    stack = await startStack();
    // The site's second and third connectors get a copy of the site's seal key.
    const sealKeyFile = join(stack.dir, "site-seal-key.json");
    await writeFile(sealKeyFile, JSON.stringify((await loadState(stack.connectorState)).sealKey), { mode: 0o600 });
    for (const n of [2, 3]) {
      const { token } = await stack.admin.enrollmentToken(stack.siteId);
      const dir = join(stack.dir, `connector-${n}`);
      await enrollConnector(stack.edge.url, token, dir, `connector-${n}`, sealKeyFile);
      extra.push(await runConnector(dir));
    }
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.allSettled(extra.map((p) => p.stop()));
    await stack?.stop();
  });

  const health = () => stack.admin.request<ConnectorInfo[]>("GET", `/api/sites/${stack.siteId}/connectors`);

  async function connect(): Promise<TerminalClient> {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    clients.push(client);
    (client as TerminalClient & { sessionId: string }).sessionId = id;
    return client;
  }
  const sessionId = (c: TerminalClient) => (c as TerminalClient & { sessionId: string }).sessionId;
  const carrier = (c: TerminalClient) => connectors().findIndex((p) => p.output().includes(sessionId(c)));

  it("shows the admin three online connectors with version and heartbeat", async () => {
    await expect.poll(async () => (await health()).filter((c) => c.online).length, { timeout: 20_000 }).toBe(3);
    for (const c of await health()) {
      expect(c.agent).toMatch(/^psm-connector\//);
      expect(c.lastHeartbeat).toBeGreaterThan(0);
      expect(c.sessions).toBe(0);
    }
  });

  let first: TerminalClient[] = [];
  it("spreads three new sessions over the three connectors", async () => {
    first = [await connect(), await connect(), await connect()];
    for (const t of first) await t.waitForState("connected");
    expect(new Set(first.map(carrier))).toEqual(new Set([0, 1, 2]));
    expect((await health()).map((c) => c.sessions)).toEqual([1, 1, 1]);
  });

  it("after kill -9 of one: its session ends with connector_lost, the others serve, new sessions all start", async () => {
    const victim = first.find((t) => carrier(t) === 1)!;
    const victimProc = connectors()[1]!;
    victimProc.child.kill("SIGKILL");
    // New sessions right away: none may fail to start, none may land on the dead connector.
    const fresh = [await connect(), await connect(), await connect(), await connect()];
    for (const t of fresh) {
      await t.waitForState("connected");
      expect(carrier(t)).not.toBe(1);
    }
    expect(await victim.waitForEnd()).toBe("connector_lost");
    for (const [i, t] of [...first.filter((t) => t !== victim), ...fresh].entries()) {
      t.type(`echo alive-$((${i}+100))\n`);
      await t.waitForOutput(`alive-${i + 100}`);
    }
    await expect
      .poll(async () => (await health()).map((c) => c.online), { timeout: 60_000 })
      .toEqual([true, false, true]);
  });
});
