// Discovery through the cloud sources, end to end (issue 21): the real connector's discovery round asks the EC2,
// Azure and vCenter API fakes (test/fakes/, the published shapes) and reports to the real edge. Each cloud moves a
// host (the rerun updates it, the enabled server follows, audited), loses it (it keeps its last sighting; the minute
// sweep makes it stale, then retired, and its server refuses checkouts) and finds it again (seen, a session runs).
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CartResult, DiscoveredServer, ServerSummary } from "../../protocol/index.ts";
import { LOOPBACK_TARGETS, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { d1Query } from "../../scripts/stack/edge.ts";
import { FakeAzure } from "../fakes/azure.ts";
import { FakeEc2 } from "../fakes/ec2.ts";
import { FakeVcenter } from "../fakes/vcenter.ts";
import { auditEntries, discoveredServers, fireSweep, runDiscovery } from "../support/discovery.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Where every moved host ends up: the stack's sshd listens here (and only here), so a session can reach it. */
const SSHD_ADDRESS = "127.0.0.1";

/** One cloud source, its two hosts, and how its fake moves, loses and restores the first. */
type Cloud = {
  source: "ec2" | "azure" | "vcenter";
  /** The host the cloud moves, loses and finds again: its discovered name and first address. */
  mover: { name: string; host: string };
  /** A host the cloud leaves alone. */
  still: { name: string; host: string };
  move: (host: string) => void;
  vanish: () => void;
  back: () => void;
  /** Filled as the tests go: the mover's discovered row, its enabled server and that server's credential. */
  id?: string;
  serverId?: string;
  credentialId?: string;
  checkoutId?: string;
  /** The mover's last sighting before the cloud lost it. */
  lastSeen?: number;
};

describeWithPeers("discovery through EC2, Azure and vCenter stays true", missingPeers(), () => {
  let stack: Stack;
  const ec2 = new FakeEc2();
  const azure = new FakeAzure();
  const vcenter = new FakeVcenter();
  let clouds: Cloud[] = [];
  const outputs: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ testScheduled: true });
    await Promise.all([ec2.start(), azure.start(), vcenter.start()]);
    ec2.instances = [
      {
        id: "i-0app",
        name: "ec2-app",
        privateIp: "10.1.0.10",
        publicIp: "127.0.0.2",
        state: "running",
        platform: "Linux/UNIX",
      },
      {
        id: "i-0db",
        name: "ec2-db",
        privateIp: "10.1.0.11",
        publicIp: "198.51.100.11",
        state: "running",
        platform: "Linux/UNIX",
      },
    ];
    azure.vms = 2; // host-0 (moved by the test) and host-1 at 10.2.0.5
    azure.addresses.set(0, "127.0.0.3");
    vcenter.vms = [
      { vm: "vm-20", name: "app1", host: "host-1", on: true, tools: true, ip: "127.0.0.4" },
      { vm: "vm-21", name: "db1", host: "host-2", on: true, tools: true, ip: "10.3.0.10" },
    ];
    const app = () => ec2.instances.find((i) => i.id === "i-0app")!;
    const vm = () => vcenter.vms.find((v) => v.vm === "vm-20")!;
    clouds = [
      {
        source: "ec2",
        mover: { name: "ec2-app", host: "127.0.0.2" },
        still: { name: "ec2-db", host: "198.51.100.11" },
        move: (host) => {
          app().publicIp = host; // an Elastic IP associated with it
        },
        vanish: () => {
          app().state = "stopped"; // out of the running-instances filter
        },
        back: () => {
          app().state = "running";
        },
      },
      {
        source: "azure",
        mover: { name: "host-0", host: "127.0.0.3" },
        still: { name: "host-1", host: "10.2.0.5" },
        move: (host) => azure.addresses.set(0, host),
        vanish: () => azure.deleted.add(0), // deleted; recreated under the same name, so the same resource id
        back: () => azure.deleted.delete(0),
      },
      {
        source: "vcenter",
        mover: { name: "app1.lab.example", host: "127.0.0.4" },
        still: { name: "db1.lab.example", host: "10.3.0.10" },
        move: (host) => {
          vm().ip = host; // a new DHCP lease, as VMware Tools reports it
        },
        vanish: () => {
          vm().on = false; // powered off: not in the powered-on list
        },
        back: () => {
          vm().on = true;
        },
      },
    ];
    const sshPort = stack.sshd.port;
    await writeConnectorConfig(stack.connectorState, {
      allowedTargets: LOOPBACK_TARGETS,
      metricsPort: 0,
      discovery: {
        keyscanConcurrency: 2,
        rdpProbe: false,
        ec2: [
          {
            regions: ["eu-west-1"],
            endpoint: ec2.url,
            accessKeyId: ec2.accessKeyId,
            secretAccessKey: ec2.secretAccessKey,
            address: "public",
            sshPort,
          },
        ],
        azure: [
          {
            tenantId: azure.tenantId,
            clientId: azure.clientId,
            clientSecret: azure.clientSecret,
            subscriptionIds: [azure.subscriptionId],
            authorityUrl: azure.url,
            managementUrl: azure.url,
            sshPort,
          },
        ],
        vcenter: [{ url: vcenter.url, username: vcenter.username, password: vcenter.password, sshPort }],
      },
    });
  });
  afterAll(async () => {
    await Promise.allSettled([ec2.stop(), azure.stop(), vcenter.stop()]);
    await stack?.stop();
  });

  const discover = async () => {
    const { output, round } = await runDiscovery(stack);
    outputs.push(output);
    return round;
  };
  const named = (list: DiscoveredServer[], c: Cloud, name: string) =>
    list.find((s) => s.source === c.source && s.name === name);
  const byId = (list: DiscoveredServer[], id: string | undefined) => list.find((s) => s.id === id);
  /** Days pass for these hosts only: their last sighting moves back (the edge keeps the real clock). */
  const unseenFor = (ms: number, ids: string[]) =>
    d1Query(
      join(stack.dir, "edge"),
      `UPDATE discovered_servers SET last_seen = ${Date.now() - ms} WHERE id IN (${ids.map((id) => `'${id}'`).join(", ")})`,
    );
  const myCheckouts = () => stack.user.request<{ id: string; status: string }[]>("GET", "/api/checkouts");

  it("first run: every host of each cloud is discovered, with its name, address and source", async () => {
    expect(await discover()).toMatchObject({ found: 6, reported: 6, failedSources: [] });
    const list = await discoveredServers(stack);
    expect(list).toHaveLength(6);
    for (const c of clouds) {
      for (const h of [c.mover, c.still]) {
        expect(named(list, c, h.name), `${c.source} ${h.name}`).toMatchObject({
          host: h.host,
          port: stack.sshd.port,
          status: "discovered",
          serverId: null,
          lifecycle: "seen",
        });
      }
    }
    expect(named(list, clouds[0]!, "ec2-app")?.sourceId).toBe("eu-west-1/i-0app");
    expect(named(list, clouds[1]!, "host-0")?.sourceId).toMatch(/\/virtualMachines\/vm-0$/);
    expect(named(list, clouds[2]!, "app1.lab.example")?.sourceId).toBe(`${new URL(vcenter.url).host}/vm-20`);
  });

  it("the cloud moves a host: the rerun updates its address and last seen, and its enabled server follows, audited", async () => {
    const before = await discoveredServers(stack);
    for (const c of clouds) {
      const found = named(before, c, c.mover.name)!;
      // Not answering SSH at its first address (sshd listens on 127.0.0.1 only): the admin pins the key out of band.
      expect(found.proposedHostKey).toBeNull();
      const enabled = await stack.admin.request<DiscoveredServer>("POST", `/api/discovered/${found.id}/enable`, {
        zoneId: stack.zoneId,
        name: `${c.source}-app`,
        hostKey: stack.sshd.hostKeyFingerprint,
      });
      const cred = await stack.admin.createCredential({
        name: `${c.source}-app password`,
        username: stack.targetUser,
        kind: "password",
        zoneId: stack.zoneId,
        secret: stack.canary,
        serverIds: [enabled.serverId!],
      });
      Object.assign(c, { id: found.id, serverId: enabled.serverId!, credentialId: cred.id });
      c.move(SSHD_ADDRESS);
    }
    const servers = () => stack.admin.request<ServerSummary[]>("GET", "/api/servers");
    for (const c of clouds) expect((await servers()).find((s) => s.id === c.serverId)?.host).toBe(c.mover.host);

    // Each moved host is keyscanned at its new address, where sshd answers.
    expect(await discover()).toMatchObject({ found: 6, scanned: 3, failedSources: [] });
    const after = await discoveredServers(stack);
    const audit = await auditEntries(stack);
    const now = await servers();
    for (const c of clouds) {
      const moved = byId(after, c.id)!;
      expect(moved, c.source).toMatchObject({
        host: SSHD_ADDRESS,
        status: "enabled",
        lifecycle: "seen",
        proposedHostKey: stack.sshd.hostKeyFingerprint,
      });
      expect(moved.lastSeen, c.source).toBeGreaterThan(byId(before, c.id)!.lastSeen);
      expect(
        now.find((s) => s.id === c.serverId),
        c.source,
      ).toMatchObject({
        host: SSHD_ADDRESS,
        port: stack.sshd.port,
        source: `discovered:${c.source}`,
      });
      const change = audit.find((e) => e.action === "discovery.address_changed" && e.target.id === c.id);
      expect(change?.data, c.source).toMatchObject({
        before: { host: c.mover.host },
        after: { host: SSHD_ADDRESS },
        serverFollowed: true,
      });
      // The host the cloud left alone was seen again where it was.
      const still = named(after, c, c.still.name)!;
      expect(still.host, c.source).toBe(c.still.host);
      expect(still.lastSeen, c.source).toBeGreaterThan(named(before, c, c.still.name)!.lastSeen);
    }
  });

  it("a host the cloud loses keeps its last sighting; the sweep makes it stale, then retired, and its server refuses checkouts", async () => {
    // The site's own ages (a global admin's setting): stale after 2 days unseen, retired after 5.
    await stack.admin.request("PUT", `/api/sites/${stack.siteId}/discovery-lifecycle`, {
      staleAfterDays: 2,
      retireAfterDays: 5,
    });
    // Each mover's server is in use: the user holds an active checkout on it.
    for (const c of clouds) {
      const held = await stack.user.submitCart([
        { serverId: c.serverId!, credentialId: c.credentialId!, minutes: 30, justification: "before it vanished" },
      ]);
      expect(held.results[0], c.source).toMatchObject({ ok: true, checkout: { status: "active" } });
      c.checkoutId = (held.results[0] as Extract<CartResult["results"][number], { ok: true }>).checkout.id;
    }
    const before = await discoveredServers(stack);
    for (const c of clouds) c.vanish();
    expect(await discover()).toMatchObject({ found: 3, failedSources: [] });
    const after = await discoveredServers(stack);
    for (const c of clouds) {
      c.lastSeen = byId(before, c.id)!.lastSeen;
      expect(byId(after, c.id), c.source).toMatchObject({
        host: SSHD_ADDRESS,
        lastSeen: c.lastSeen,
        lifecycle: "seen",
      });
      expect(named(after, c, c.still.name)!.lastSeen, c.source).toBeGreaterThan(
        named(before, c, c.still.name)!.lastSeen,
      );
    }

    const ids = clouds.map((c) => c.id!);
    const lifecycles = async () => {
      const list = await discoveredServers(stack);
      return ids.map((id) => byId(list, id)!.lifecycle);
    };
    // Just over two days unseen: stale, shown only; the server stays usable.
    await unseenFor(2 * DAY_MS + MINUTE_MS, ids);
    await fireSweep(stack);
    await expect.poll(lifecycles, { timeout: 30_000 }).toEqual(["stale", "stale", "stale"]);
    let list = await discoveredServers(stack);
    // The sweep ran over the whole site: the hosts still in their clouds are untouched.
    for (const c of clouds) expect(named(list, c, c.still.name)!.lifecycle, c.source).toBe("seen");
    let audit = await auditEntries(stack);
    for (const c of clouds) {
      expect(audit.find((e) => e.action === "discovery.stale" && e.target.id === c.id)?.data, c.source).toMatchObject({
        days: 2,
        serverId: c.serverId,
      });
    }
    const held = await myCheckouts();
    for (const c of clouds) expect(held.find((k) => k.id === c.checkoutId)?.status, c.source).toBe("active");

    // Just over five days unseen: retired; what stood on the server falls and no checkout is granted.
    await unseenFor(5 * DAY_MS + MINUTE_MS, ids);
    await fireSweep(stack);
    await expect.poll(lifecycles, { timeout: 30_000 }).toEqual(["retired", "retired", "retired"]);
    list = await discoveredServers(stack);
    for (const c of clouds) expect(named(list, c, c.still.name)!.lifecycle, c.source).toBe("seen");
    audit = await auditEntries(stack);
    for (const c of clouds) {
      expect(audit.find((e) => e.action === "discovery.retired" && e.target.id === c.id)?.data, c.source).toMatchObject(
        { days: 5, serverId: c.serverId },
      );
    }
    await expect
      .poll(async () => {
        const mine = await myCheckouts();
        return clouds.map((c) => mine.find((k) => k.id === c.checkoutId)?.status);
      })
      .toEqual(["revoked", "revoked", "revoked"]);
    for (const c of clouds) {
      const refused = await stack.user.submitCart([
        { serverId: c.serverId!, credentialId: c.credentialId!, minutes: 30, justification: "after it vanished" },
      ]);
      expect(refused.results[0], c.source).toEqual({ ok: false, error: "server_retired" });
    }
    const catalog = await stack.user.request<{ id: string }[]>("GET", "/api/catalog");
    for (const c of clouds)
      expect(
        catalog.some((e) => e.id === c.serverId),
        c.source,
      ).toBe(false);
    // The stack's own server, never discovered, is not touched by any of it.
    expect(catalog.some((e) => e.id === stack.serverId)).toBe(true);
  });

  it("the cloud finds the host again: the rerun marks it seen and its server opens a session", async () => {
    for (const c of clouds) c.back();
    expect(await discover()).toMatchObject({ found: 6, failedSources: [] });
    const list = await discoveredServers(stack);
    const audit = await auditEntries(stack);
    for (const c of clouds) {
      const back = byId(list, c.id)!;
      expect(back, c.source).toMatchObject({ host: SSHD_ADDRESS, lifecycle: "seen", serverId: c.serverId });
      expect(back.lastSeen, c.source).toBeGreaterThan(c.lastSeen!);
      expect(audit.find((e) => e.action === "discovery.returned" && e.target.id === c.id)?.data, c.source).toEqual({
        from: "retired",
      });
    }
    const catalog = await stack.user.request<{ id: string }[]>("GET", "/api/catalog");
    for (const [n, c] of clouds.entries()) {
      expect(
        catalog.some((e) => e.id === c.serverId),
        c.source,
      ).toBe(true);
      const { id } = await stack.user.openSession(c.serverId!, c.credentialId!);
      const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      try {
        await t.waitForState("connected");
        t.type(`echo back-$((${n}+40))\n`);
        await t.waitForOutput(`back-${n + 40}`);
      } finally {
        t.close();
      }
    }
  });

  it("keeps the clouds' secrets on the connector", async () => {
    const secrets = [ec2.secretAccessKey, azure.clientSecret, vcenter.password];
    const seen = [...outputs, await stack.logs(), ...stack.admin.responses, ...stack.user.responses].join("\n");
    for (const secret of secrets) expect(seen).not.toContain(secret);
  });
});
