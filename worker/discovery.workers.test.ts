// Discovery at the edge: a connector reports inventory with its proof-of-key token; admins see the
// servers as discovered (source, last seen) and only an enabled one, with a pinned key, is a server. Reruns move
// it (its server follows), the sweep ages it (stale, retired: no checkout), and a rerun brings it back.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DiscoveredServer } from "../protocol/index.ts";
import { ageDiscovered } from "./access/discovery.ts";
import { sweep } from "./scheduler.ts";
import { api, auditLog, login, ORIGIN, seedSite, seedUser } from "./test/harness.ts";

const KEY = `SHA256:${"B".repeat(43)}`;

describe("discovered servers", () => {
  let site: Awaited<ReturnType<typeof seedSite>>;
  let other: Awaited<ReturnType<typeof seedSite>>;
  let admin = "";
  beforeAll(async () => {
    site = await seedSite();
    other = await seedSite();
    await seedUser("d-admin", "discovery-password-1", ["admin"]);
    admin = await login("d-admin", "discovery-password-1");
  });

  const report = async (token: string, servers: unknown[]) =>
    SELF.fetch(`${ORIGIN}/connector/inventory`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ servers }),
    });
  const list = async (siteId: string) =>
    (await (await api(`/api/sites/${siteId}/discovered`, { cookie: admin })).json()) as DiscoveredServer[];

  it("takes a connector's report, keyed by source id, and updates last seen on the next one", async () => {
    const servers = [
      {
        source: "ldap",
        sourceId: "CN=WEB01,OU=Servers,DC=corp,DC=example",
        name: "web01",
        host: "web01.corp.example",
        os: "Windows Server 2022",
      },
      {
        source: "keyscan",
        sourceId: "10.0.0.7:22",
        name: "10.0.0.7",
        host: "10.0.0.7",
        port: 22,
        hostKey: KEY,
        hostKeyType: "ssh-ed25519",
      },
    ];
    expect((await report(await site.token("/connector/inventory"), servers)).status).toBe(200);
    const first = await list(site.siteId);
    expect(first).toHaveLength(2);
    expect(first.every((s) => s.status === "discovered" && s.serverId === null)).toBe(true);
    const web = first.find((s) => s.source === "ldap")!;
    expect(web).toMatchObject({ name: "web01", host: "web01.corp.example", port: 22, os: "Windows Server 2022" });
    await new Promise((r) => setTimeout(r, 5));
    await report(await site.token("/connector/inventory"), [servers[0]]);
    const again = (await list(site.siteId)).find((s) => s.id === web.id)!;
    expect(again.lastSeen).toBeGreaterThan(web.lastSeen);
    expect(again.firstSeen).toBe(web.firstSeen);
    // Another site's admin view does not see them.
    expect(await list(other.siteId)).toEqual([]);
  });

  it("refuses reports without a connector token and malformed ones", async () => {
    expect((await report("not-a-token", [])).status).toBe(401);
    const bad = await report(await site.token("/connector/inventory"), [
      { source: "ldap", sourceId: "x", name: "x", host: "bad host; rm -rf" },
    ]);
    expect(bad.status).toBe(400);
  });

  it("is usable only after an admin enables it in a zone of its site, with the key they pin", async () => {
    const found = (await list(site.siteId)).find((s) => s.source === "keyscan")!;
    const before = await env.DB.prepare("SELECT count(*) AS n FROM servers WHERE host = '10.0.0.7'").first<{
      n: number;
    }>();
    expect(before?.n).toBe(0);
    const wrongZone = await api(`/api/discovered/${found.id}/enable`, {
      method: "POST",
      cookie: admin,
      body: { zoneId: other.zoneId, hostKey: KEY },
    });
    expect(wrongZone.status).toBe(400);
    const res = await api(`/api/discovered/${found.id}/enable`, {
      method: "POST",
      cookie: admin,
      body: { zoneId: site.zoneId, hostKey: KEY, name: "scanned-7" },
    });
    expect(res.status).toBe(201);
    const enabled = (await res.json()) as DiscoveredServer;
    expect(enabled.status).toBe("enabled");
    const server = await env.DB.prepare("SELECT name, host_key, source, zone_id FROM servers WHERE id = ?")
      .bind(enabled.serverId)
      .first();
    expect(server).toEqual({ name: "scanned-7", host_key: KEY, source: "discovered:keyscan", zone_id: site.zoneId });
    const twice = await api(`/api/discovered/${found.id}/enable`, {
      method: "POST",
      cookie: admin,
      body: { zoneId: site.zoneId, hostKey: KEY, name: "scanned-7b" },
    });
    expect(twice.status).toBe(409);
    const audit = await env.DB.prepare("SELECT count(*) AS n FROM servers WHERE source LIKE 'discovered:%'").first<{
      n: number;
    }>();
    expect(audit?.n).toBe(1);
  });
});

describe("a discovered host that stays true (issue 21)", () => {
  const CERT = `SHA256:${"C".repeat(43)}`;
  const DAY = 86_400_000;
  let site: Awaited<ReturnType<typeof seedSite>>;
  let admin = "";
  let user = "";
  beforeAll(async () => {
    site = await seedSite();
    await seedUser("life-admin", "discovery-password-1", ["admin"]);
    admin = await login("life-admin", "discovery-password-1");
    await site.entitle(await seedUser("life-user", "discovery-password-1", ["user"]));
    user = await login("life-user", "discovery-password-1");
  });

  const report = async (servers: unknown[]) => {
    const res = await SELF.fetch(`${ORIGIN}/connector/inventory`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await site.token("/connector/inventory")}`,
      },
      body: JSON.stringify({ servers }),
    });
    expect(res.status).toBe(200);
  };
  const win = (host: string) => ({
    source: "ec2",
    sourceId: "i-0win",
    name: "win01",
    host,
    port: 22,
    os: "windows",
    rdpPort: 3390,
    rdpCert: CERT,
  });
  const found = async () =>
    ((await (await api(`/api/sites/${site.siteId}/discovered`, { cookie: admin })).json()) as DiscoveredServer[]).find(
      (s) => s.sourceId === "i-0win",
    )!;
  const server = (id: string) =>
    env.DB.prepare("SELECT host, port, protocol, host_key, discovery_retired_at FROM servers WHERE id = ?")
      .bind(id)
      .first<{ host: string; port: number; protocol: string; host_key: string; discovery_retired_at: number | null }>();
  const cart = async () => {
    const s = await found();
    const res = await api("/api/checkouts", {
      method: "POST",
      cookie: user,
      body: {
        items: [{ serverId: s.serverId, credentialId: site.credentialId, minutes: 30, justification: "testing" }],
      },
    });
    return ((await res.json()) as { results: { ok: boolean; error?: string; checkout?: { id: string } }[] })
      .results[0]!;
  };
  const entries = async (action: string, id: string) =>
    (await auditLog()).filter((e) => e.action === action && e.target.id === id);

  it("offers RDP with the probed certificate and enables it as RDP on the probed port, pinned", async () => {
    await report([win("10.0.0.20")]);
    const s = await found();
    expect(s).toMatchObject({ offers: ["rdp"], rdpPort: 3390, proposedRdpCert: CERT, lifecycle: "seen" });
    const res = await api(`/api/discovered/${s.id}/enable`, {
      method: "POST",
      cookie: admin,
      body: { zoneId: site.zoneId, protocol: "rdp", hostKey: CERT, name: "win01" },
    });
    expect(res.status).toBe(201);
    const enabled = (await res.json()) as DiscoveredServer;
    expect(await server(enabled.serverId!)).toEqual({
      host: "10.0.0.20",
      port: 3390,
      protocol: "rdp",
      host_key: CERT,
      discovery_retired_at: null,
    });
    const [change] = (await auditLog()).filter((e) => e.action === "admin.change" && e.target.id === enabled.serverId);
    expect(change?.data.after).toMatchObject({ protocol: "rdp", port: 3390, hostKeyMatchesProposal: true });
    await env.DB.prepare("INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)")
      .bind(enabled.serverId, site.credentialId)
      .run();
  });

  it("moves the enabled server when a rerun finds the host at a new address, audited", async () => {
    const before = await found();
    await report([win("10.0.0.21")]);
    const after = await found();
    expect(after).toMatchObject({ host: "10.0.0.21", lifecycle: "seen" });
    expect(after.lastSeen).toBeGreaterThanOrEqual(before.lastSeen);
    expect(await server(after.serverId!)).toMatchObject({ host: "10.0.0.21", port: 3390, host_key: CERT });
    const [moved] = await entries("discovery.address_changed", after.id);
    expect(moved?.data).toMatchObject({
      before: { host: "10.0.0.20", port: 22, rdpPort: 3390 },
      after: { host: "10.0.0.21", port: 22, rdpPort: 3390 },
      serverFollowed: true,
    });
    // An admin who points the server elsewhere keeps it there: the next move is reported, not followed.
    await env.DB.prepare("UPDATE servers SET host = 'jump.corp.example' WHERE id = ?").bind(after.serverId).run();
    await report([win("10.0.0.22")]);
    expect(await server(after.serverId!)).toMatchObject({ host: "jump.corp.example" });
    expect((await entries("discovery.address_changed", after.id)).map((e) => e.data.serverFollowed).sort()).toEqual([
      false,
      true,
    ]);
    await env.DB.prepare("UPDATE servers SET host = '10.0.0.22' WHERE id = ?").bind(after.serverId).run();
  });

  it("goes stale, then retired (no checkout; what stood on it falls), then comes back when seen again", async () => {
    const s = await found();
    const held = await cart();
    expect(held.ok).toBe(true);

    // Seven days unseen (the default): stale, still usable.
    await ageDiscovered(env, s.lastSeen + 7 * DAY - 1);
    expect((await found()).lifecycle).toBe("seen");
    await ageDiscovered(env, s.lastSeen + 7 * DAY);
    expect(await found()).toMatchObject({ lifecycle: "stale", lifecycleAt: s.lastSeen + 7 * DAY });
    expect((await server(s.serverId!))?.discovery_retired_at).toBeNull();
    expect(await entries("discovery.stale", s.id)).toHaveLength(1);

    // Thirty days unseen, through the minute sweep (the last sighting moved back, so the checkout is still open):
    // retired, refused for checkout, the open checkout revoked.
    const now = Date.now();
    await env.DB.prepare("UPDATE discovered_servers SET last_seen = ? WHERE id = ?")
      .bind(now - 30 * DAY, s.id)
      .run();
    await sweep(env, now);
    expect((await found()).lifecycle).toBe("retired");
    expect((await server(s.serverId!))?.discovery_retired_at).toBe(now);
    const [retired] = await entries("discovery.retired", s.id);
    expect(retired?.data).toMatchObject({ days: 30, serverId: s.serverId, lastSeen: now - 30 * DAY });
    expect(await cart()).toEqual({ ok: false, error: "server_retired" });
    const status = await env.DB.prepare("SELECT status FROM checkouts WHERE id = ?")
      .bind(held.checkout!.id)
      .first<{ status: string }>();
    expect(status?.status).toBe("revoked");
    // Nor is it in the user's catalog.
    const catalog = (await (await api("/api/catalog", { cookie: user })).json()) as { id: string }[];
    expect(catalog.some((c) => c.id === s.serverId)).toBe(false);

    // A rerun sees it: back to seen, the server usable again.
    await report([win("10.0.0.22")]);
    expect((await found()).lifecycle).toBe("seen");
    expect((await server(s.serverId!))?.discovery_retired_at).toBeNull();
    const [back] = await entries("discovery.returned", s.id);
    expect(back?.data).toEqual({ from: "retired" });
    expect((await cart()).ok).toBe(true);
  });

  it("takes the site's own ages, which only a global admin sets", async () => {
    const url = `/api/sites/${site.siteId}/discovery-lifecycle`;
    expect(await (await api(url, { cookie: admin })).json()).toEqual({ staleAfterDays: 7, retireAfterDays: 30 });
    const bad = await api(url, { method: "PUT", cookie: admin, body: { staleAfterDays: 9, retireAfterDays: 9 } });
    expect(bad.status).toBe(400);
    const ok = await api(url, { method: "PUT", cookie: admin, body: { staleAfterDays: 1, retireAfterDays: 2 } });
    expect(ok.status).toBe(200);
    const s = await found();
    await ageDiscovered(env, s.lastSeen + 2 * DAY);
    expect((await found()).lifecycle).toBe("retired");
  });
});
