// ConnectorHub dispatch across several connectors of one site: the least loaded first, a connector
// that does not accept is skipped for the next, none accepting is a failed dispatch; health carries
// what connectors report.
import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { connectorToken } from "../connector/keys.ts";
import { CloseCode, connectorEndpoint, encodeData, encodeMessage, PROTOCOL_VERSION } from "../protocol/index.ts";
import {
  auditLog,
  type Client,
  connectControl,
  hasText,
  liveSession,
  openSocket,
  seedSite,
} from "../worker/test/harness.ts";

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

  it("a connector that accepts late cannot take the session another serves: its data socket is refused and audited", async () => {
    // The hub asked the next connector after ACCEPT_TIMEOUT_MS; the first accepting afterwards dials the room too.
    const s = await liveSession();
    const late = await secondConnector(s.site);
    for (const resume of [undefined, { sent: 0 }]) {
      const socket = await openSocket(`/connector/sessions/${s.id}`, {
        Authorization: `Bearer ${await late.token(connectorEndpoint.session(s.id))}`,
      });
      socket.ws.send(
        encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: s.id, ...(resume ? { resume } : {}) }),
      );
      await socket.next((c) => c.closed !== undefined, "the late connector's socket closed");
      expect(socket.closed?.code).toBe(CloseCode.Forbidden);
      expect(socket.texts.some((m) => (m as { type: string }).type === "hello")).toBe(false);
    }
    // The session goes on with the connector that took it.
    s.connector.ws.send(encodeData(new TextEncoder().encode("still mine")));
    await s.user.next((c) => c.binaries.length > 0, "output after the refusal");
    expect(s.connector.closed).toBeUndefined();
    const refused = (await auditLog()).filter(
      (e) => e.action === "session.protocol_violation" && e.refs.sessionId === s.id,
    );
    expect(refused.map((e) => e.data)).toEqual([
      {
        role: "connector",
        detail: `connector ${late.connectorId} said hello for a session connector ${s.site.connectorId} serves`,
      },
      {
        role: "connector",
        detail: `connector ${late.connectorId} said hello for a session connector ${s.site.connectorId} serves`,
      },
    ]);
  });

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

  it("audits a spool past 80 % of its bound once per crossing, before it is full; a report flapping across the line is one alert", async () => {
    const site = await seedSite();
    const c = await connectControl(site);
    const spool = (bytes: number, sessions: number) => {
      c.ws.send(
        encodeMessage({
          type: "report",
          sessions,
          errors: [],
          spool: { bytes, limit: 1000, chunks: 3, oldestAt: 1, failingSince: 2 },
        }),
      );
      return expect.poll(async () => (await hub(site).health())[0]?.sessions).toBe(sessions);
    };
    const alerts = async () =>
      (await auditLog()).filter((e) => e.action === "recording.alert" && e.target.id === site.connectorId).length;
    await spool(500, 1);
    await spool(850, 2);
    await spool(900, 3);
    expect((await hub(site).health())[0]?.spool).toMatchObject({ bytes: 900, limit: 1000, chunks: 3 });
    await expect.poll(alerts).toBe(1);
    // Attack: a connector flaps its fill level across the line on every report, to flood the audit log. Re-armed
    // only below half the line, and at most one alert per 15 minutes: still one.
    let n = 4;
    for (let i = 0; i < 10; i++) {
      await spool(100, n++);
      await spool(820, n++);
    }
    expect(await alerts()).toBe(1);
  });
});

describe("ConnectorHub host key probes", () => {
  it("asks one live connector and takes the answer only from it; offline when none is live", async () => {
    const site = await seedSite();
    expect(await hub(site).probeHostKey("10.0.0.5", 22)).toEqual({ ok: false, error: "offline" });
    const site2 = await secondConnector(site);
    const asked = await connectControl(site);
    const other = await connectControl(site2);
    await report(site, asked, 0);
    await report(site2, other, 3);
    const pending = hub(site).probeHostKey("10.0.0.5", 2222);
    await asked.next(hasText("probe_host_key", { host: "10.0.0.5", port: 2222 }), "probe on the idle connector");
    const { probeId } = asked.texts.find((m) => (m as { type: string }).type === "probe_host_key") as {
      probeId: string;
    };
    const fingerprint = `SHA256:${"p".repeat(43)}`;
    // Another connector of the site cannot answer a probe it was not sent.
    other.ws.send(
      encodeMessage({
        type: "host_key",
        probeId,
        result: { ok: true, fingerprint: `SHA256:${"e".repeat(43)}`, keyType: "ssh-ed25519" },
      }),
    );
    asked.ws.send(encodeMessage({ type: "host_key", probeId, result: { ok: true, fingerprint, keyType: "ssh-rsa" } }));
    expect(await pending).toEqual({ ok: true, fingerprint, keyType: "ssh-rsa", connectorId: site.connectorId });
    expect(other.texts.some((m) => (m as { type: string }).type === "probe_host_key")).toBe(false);
  });
});
