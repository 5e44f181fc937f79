// Discovery at the edge: a connector reports inventory with its proof-of-key token; admins see the
// servers as discovered (source, last seen) and only an enabled one, with a pinned key, is a server.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DiscoveredServer } from "../protocol/index.ts";
import { api, login, ORIGIN, seedSite, seedUser } from "./test/harness.ts";

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
