// Discovery end to end: the connector asks a real slapd (AD-like) for computers, keyscans the ones
// inside the site's allowed ranges with ssh2 against a real sshd, and reports to the edge. The admin
// sees them as discovered with source, last seen and the proposed key; none is usable until enabled
// in a zone with a pinned key, after which a user opens a real session to it.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { DiscoveredServer, ServerSummary } from "../../protocol/index.ts";
import { LOOPBACK_TARGETS, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { auditEntries, discoveredServers, runDiscovery } from "../support/discovery.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingSlapd, type Slapd, startSlapd } from "../support/slapd.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("discovery to a usable server", missingPeers() ?? missingSlapd(), () => {
  let stack: Stack;
  let slapd: Slapd;
  const bindPassword = `bind-${Math.random().toString(36).slice(2)}`;
  let output = "";

  beforeAll(async () => {
    stack = await startStack();
    slapd = await startSlapd({
      dir: join(stack.dir, "slapd"),
      bindPassword,
      computers: [
        { cn: "LINUX01", dNSHostName: "127.0.0.1", os: "Debian GNU/Linux 12" },
        { cn: "WEB01", dNSHostName: "10.20.30.40", os: "Windows Server 2022" }, // outside the allowed ranges
        { cn: "META", dNSHostName: "169.254.169.254", os: "cloud metadata" },
      ],
    });
    await writeConnectorConfig(stack.connectorState, {
      allowedTargets: LOOPBACK_TARGETS,
      metricsPort: 0,
      discovery: {
        keyscanConcurrency: 2,
        ldap: [
          {
            url: slapd.ldapUrl,
            startTls: true,
            caFile: slapd.caFile,
            bindDN: slapd.bindDN,
            bindPassword,
            baseDN: slapd.baseDN,
            sshPort: stack.sshd.port,
          },
        ],
      },
    });
    output = await discover();
  });
  afterAll(async () => {
    await slapd?.stop();
    await stack?.stop();
  });

  /** One discovery round through the real connector CLI; its output. */
  const discover = async () => (await runDiscovery(stack)).output;
  /** Changes the directory as an AD admin would (ldapmodify over StartTLS-less loopback LDAP). */
  function ldapModify(ldif: string): void {
    execFileSync("ldapmodify", ["-x", "-H", slapd.ldapUrl, "-D", slapd.bindDN, "-w", bindPassword], {
      input: ldif,
      stdio: ["pipe", "ignore", "pipe"],
    });
  }

  const discovered = () => discoveredServers(stack);

  it("reports every computer as discovered, with a key proposal only for the allowed, reachable one", async () => {
    expect(output).toContain('{"found":3,"scanned":1,"rdp":0,"reported":3,"failedSources":[]}');
    const list = await discovered();
    expect(list.map((s) => [s.name, s.status, s.source]).sort()).toEqual([
      ["LINUX01", "discovered", "ldap"],
      ["META", "discovered", "ldap"],
      ["WEB01", "discovered", "ldap"],
    ]);
    const linux = list.find((s) => s.name === "LINUX01")!;
    expect(linux).toMatchObject({ host: "127.0.0.1", port: stack.sshd.port, os: "Debian GNU/Linux 12" });
    expect(linux.proposedHostKey).toBe(stack.sshd.hostKeyFingerprint);
    expect(linux.hostKeyType).toBe("ssh-ed25519");
    expect(linux.lastSeen).toBeGreaterThan(Date.now() - 120_000);
    // Neither the metadata address nor one outside the allowed ranges was scanned (no packet sent).
    expect(list.find((s) => s.name === "META")!.proposedHostKey).toBeNull();
    expect(list.find((s) => s.name === "WEB01")!.proposedHostKey).toBeNull();
    // The keyscan stopped at the key exchange: sshd never saw a user name.
    expect(await stack.sshd.log()).not.toContain("psm-keyscan");
  });

  it("is not a server anyone can use until an admin enables it, then a session runs", async () => {
    const servers = () => stack.admin.request<ServerSummary[]>("GET", "/api/servers");
    expect((await servers()).some((s) => s.host === "127.0.0.1" && s.name === "linux01")).toBe(false);
    const linux = (await discovered()).find((s) => s.name === "LINUX01")!;
    const enabled = await stack.admin.request<DiscoveredServer>("POST", `/api/discovered/${linux.id}/enable`, {
      zoneId: stack.zoneId,
      name: "linux01",
      hostKey: linux.proposedHostKey,
    });
    expect(enabled.status).toBe("enabled");
    expect((await servers()).find((s) => s.name === "linux01")).toMatchObject({ source: "discovered:ldap" });
    const cred = await stack.admin.createCredential({
      name: "linux01 password",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: stack.canary,
      serverIds: [enabled.serverId!],
    });
    const { id } = await stack.user.openSession(enabled.serverId!, cred.id);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("echo found-$((40+2))\n");
    await t.waitForOutput("found-42");
    t.close();
  });

  it("shows the admin, in Chromium, the connector's health and the discovered servers, and enables one", async () => {
    const missing = chromiumMissing();
    if (missing) {
      if (process.env.CI === "true") throw new Error(missing);
      console.warn(`SKIPPED browser part: ${missing}`);
      return;
    }
    // The connector runs: its health is live (status, version, heartbeat).
    let browser: BrowserContext | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      await signInPage(page, stack.edge.url, "admin", "admin-password-1");
      await page.goto(`${stack.edge.url}/#/admin/sites`);
      const connectorRow = page.locator('tr[data-connector-id][data-status="online"]');
      await connectorRow.first().waitFor();
      expect(await connectorRow.first().textContent()).toMatch(/psm-connector\//);
      const web = page.locator('tr[data-discovered-id][data-status="discovered"]', { hasText: "WEB01" });
      await web.waitFor();
      expect(await web.textContent()).toContain("10.20.30.40");
      expect(await web.textContent()).toContain("ldap");
      await web.locator('input[name="hostKey"]').fill(`SHA256:${"W".repeat(43)}`);
      await web.locator('button[type="submit"]').click();
      await page.locator('tr[data-discovered-id][data-status="enabled"]', { hasText: "WEB01" }).waitFor();
      // Page bytes carry no secret of the directory.
      expect(await page.content()).not.toContain(bindPassword);
    } finally {
      await browser?.close();
    }
    const servers = await stack.admin.request<ServerSummary[]>("GET", "/api/servers");
    expect(servers.find((s) => s.name === "WEB01")).toMatchObject({ host: "10.20.30.40", source: "discovered:ldap" });
  });

  it("follows a host the directory moves, and leaves a vanished one unseen (issue 21)", async () => {
    const before = await discovered();
    const linux = before.find((s) => s.name === "LINUX01")!;
    const meta = before.find((s) => s.name === "META")!;
    expect(linux.status).toBe("enabled");
    // The directory now names LINUX01 by another loopback address, and META is gone.
    ldapModify(
      `dn: cn=LINUX01,ou=Servers,${slapd.baseDN}\nchangetype: modify\nreplace: dNSHostName\ndNSHostName: 127.0.0.2\n\n` +
        `dn: cn=META,ou=Servers,${slapd.baseDN}\nchangetype: delete\n`,
    );
    const rerun = await discover();
    expect(rerun).toContain('"found":2');
    const after = await discovered();
    const moved = after.find((s) => s.id === linux.id)!;
    expect(moved).toMatchObject({ host: "127.0.0.2", lifecycle: "seen" });
    expect(moved.lastSeen).toBeGreaterThan(linux.lastSeen);
    // The enabled server followed; the move is in the ledger.
    const servers = await stack.admin.request<ServerSummary[]>("GET", "/api/servers");
    expect(servers.find((s) => s.id === linux.serverId)).toMatchObject({ host: "127.0.0.2" });
    const audit = await auditEntries(stack);
    expect(audit.find((e) => e.action === "discovery.address_changed" && e.target.id === linux.id)?.data).toMatchObject(
      { before: { host: "127.0.0.1" }, after: { host: "127.0.0.2" }, serverFollowed: true },
    );
    // The vanished host keeps its last sighting; the sweep ages it from there (worker/discovery.workers.test.ts).
    expect(after.find((s) => s.id === meta.id)).toMatchObject({ lastSeen: meta.lastSeen, lifecycle: "seen" });
  });

  it("keeps the directory's bind password on the connector", async () => {
    expect(output).not.toContain(bindPassword);
    expect(await stack.logs()).not.toContain(bindPassword);
    expect([...stack.admin.responses].join("\n")).not.toContain(bindPassword);
  });
});
