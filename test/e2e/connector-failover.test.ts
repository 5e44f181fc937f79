// Several connectors per site: the ConnectorHub spreads new sessions over three live connectors;
// after one is killed with SIGKILL, new sessions start on the others without a failed start and
// the sessions it carried end with `connector_lost`. The admin sees each connector's health. The
// third connector is set up with `psm-connector install --print-unit` (no systemd here), and its
// `status` and loopback metrics are read along the way.
import { execFileSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ConnectorInfo } from "../../protocol/index.ts";
import { enrollConnector, runConnector } from "../../scripts/stack/connector.ts";
import { ROOT } from "../../scripts/stack/edge.ts";
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
    const { token } = await stack.admin.enrollmentToken(stack.siteId);
    await enrollConnector(stack.edge.url, token, join(stack.dir, "connector-2"), "connector-2", sealKeyFile);
    extra.push(await runConnector(join(stack.dir, "connector-2")));
    const third = await stack.admin.enrollmentToken(stack.siteId);
    unit = cli(["install", "--url", stack.edge.url, `--token=${third.token}`, "--name", "connector-3"]);
    extra.push(await runConnector(installed()));
  });

  const installed = () => join(stack.dir, "connector-3");
  let unit = "";
  /** Runs the CLI with connector-3's state dir; returns stdout. */
  const cli = (args: string[]) =>
    execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(ROOT, "connector", "cli.ts"),
        ...args,
        "--state",
        installed(),
        ...(args[0] === "install"
          ? ["--seal-key", join(stack.dir, "site-seal-key.json"), "--allow", "127.0.0.0/8", "--print-unit"]
          : []),
      ],
      { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
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

  it("installs with one command: enrolled, config written, a systemd unit printed", async () => {
    expect(unit).toContain("[Service]");
    expect(unit).toMatch(new RegExp(`ExecStart=.* run --state ${installed()}`));
    expect(unit).toContain("Restart=always");
    const config = JSON.parse(await readFile(join(installed(), "config.json"), "utf8"));
    expect(config).toMatchObject({ allowedTargets: ["127.0.0.0/8"], credentialProvider: "sealed" });
    // Installing again (an upgrade) keeps the identity and the config; the used token is not needed.
    // (The running connector may meanwhile save what the edge tells it, such as the edge's keys: compare the
    // identity, not the whole file.)
    const identity = async () => {
      const { connectorId, siteId, identityKey, sealKey, edgeUrl } = JSON.parse(
        await readFile(join(installed(), "connector.json"), "utf8"),
      );
      return { connectorId, siteId, identityKey, sealKey, edgeUrl };
    };
    const before = await identity();
    const configBefore = await readFile(join(installed(), "config.json"), "utf8");
    cli(["install", "--url", stack.edge.url, "--token=already-used"]);
    expect(await identity()).toEqual(before);
    expect(await readFile(join(installed(), "config.json"), "utf8")).toBe(configBefore);
  });

  it("status shows link state and sessions; metrics are served on loopback", async () => {
    await expect.poll(() => JSON.parse(cli(["status", "--json"])).link, { timeout: 15_000 }).toBe("connected");
    const status = JSON.parse(cli(["status", "--json"]));
    expect(status).toMatchObject({ running: true, sessions: 0, siteId: stack.siteId });
    const metrics = await (await fetch(`http://127.0.0.1:${status.metricsPort}/metrics`)).text();
    expect(metrics).toContain("psm_connector_link_up 1");
    expect(metrics).toContain("psm_connector_sessions 0");
    expect(metrics).toContain("psm_connector_spool_limit_bytes");
    expect(cli(["status"])).toMatch(/process: running .*\nlink: connected/);
    // The recording spool, in words: its bound and nothing waiting.
    expect(cli(["status"])).toMatch(/recording spool: 0\.0 MiB of 1024\.0 MiB, nothing waiting/);
  });

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
    await expect.poll(() => JSON.parse(cli(["status", "--json"])).sessions, { timeout: 10_000 }).toBeGreaterThan(0);
  });

  it("status says so when the connector is not running", async () => {
    const proc = connectors()[2]!;
    proc.child.kill("SIGKILL");
    await new Promise((r) => proc.child.once("exit", r));
    let out = "";
    try {
      cli(["status"]);
    } catch (err) {
      out = String((err as { stdout?: string }).stdout);
      expect((err as { status?: number }).status).toBe(3);
    }
    expect(out).toContain("process: not running");
  });
});
