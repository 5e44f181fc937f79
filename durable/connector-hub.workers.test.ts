// ConnectorHub dispatch across several connectors of one site: the least loaded first, a connector
// that does not accept is skipped for the next, none accepting is a failed dispatch; health carries
// what connectors report.
import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { connectorToken } from "../connector/keys.ts";
import { encodeMessage } from "../protocol/index.ts";
import { type Client, connectControl, hasText, seedSite } from "../worker/test/harness.ts";

type Site = Awaited<ReturnType<typeof seedSite>>;

/** Enrolls one more connector for the site, straight into D1. */
async function secondConnector(site: Site): Promise<Site> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const id = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, 'c2', ?, ?)")
    .bind(id, site.siteId, JSON.stringify(await exportJWK(publicKey)), Date.now())
    .run();
  const key = await exportJWK(privateKey);
  return { ...site, connectorId: id, token: (endpoint = "/connector/control") => connectorToken(id, key, endpoint) };
}

/** Sends a connector's report and waits until the hub shows it. */
const report = async (
  site: Site,
  c: Client,
  sessions: number,
  errors: { at: number; event: string; reason?: string }[] = [],
) => {
  c.ws.send(encodeMessage({ type: "report", sessions, errors }));
  await expect
    .poll(async () => (await hub(site).health()).find((h) => h.connectorId === site.connectorId)?.sessions)
    .toBe(sessions);
};
const opens = (c: Client) => c.texts.filter((m) => (m as { type: string }).type === "open").length;
const hub = (site: Site) => env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(site.siteId));

describe("ConnectorHub with several connectors", () => {
  it("hands a session to the least-loaded connector and counts it", async () => {
    const site = await seedSite();
    const site2 = await secondConnector(site);
    const busy = await connectControl(site);
    const idle = await connectControl(site2);
    await report(site, busy, 5);
    await report(site2, idle, 0);
    expect(await hub(site).dispatch("session-a", "grant")).toBe(true);
    await idle.next(hasText("open", { sessionId: "session-a" }), "open on the idle connector");
    expect(opens(busy)).toBe(0);
    const health = await hub(site).health();
    expect(health.map((h) => h.sessions).sort()).toEqual([1, 5]);
  });

  it("skips a connector that does not accept and gives the session to the next", async () => {
    const site = await seedSite();
    const site2 = await secondConnector(site);
    const loaded = await connectControl(site);
    const silent = await connectControl(site2, { accept: false });
    await report(site, loaded, 3);
    await report(site2, silent, 0); // least loaded, but it never answers
    expect(await hub(site).dispatch("session-b", "grant")).toBe(true);
    expect(opens(silent)).toBe(1);
    await loaded.next(hasText("open", { sessionId: "session-b" }), "open on the answering connector");
  }, 30_000);

  it("fails the dispatch when no connector accepts", async () => {
    const site = await seedSite();
    const silent = await connectControl(site, { accept: false });
    await report(site, silent, 0);
    expect(await hub(site).dispatch("session-c", "grant")).toBe(false);
    expect(opens(silent)).toBe(1);
  }, 30_000);

  it("shows what connectors report in health", async () => {
    const site = await seedSite();
    const c = await connectControl(site);
    await report(site, c, 2, [{ at: 1, event: "session.setup_failed", reason: "target_refused" }]);
    const [h] = await hub(site).health();
    expect(h).toMatchObject({
      agent: "test",
      sessions: 2,
      errors: [{ event: "session.setup_failed", reason: "target_refused" }],
    });
    expect(h!.lastSeen).toBeGreaterThan(0);
  });
});
