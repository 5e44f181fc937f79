// Adversarial suite, the write-only secrets of notifications and the audit stream, inside workerd: the SMTP relay
// password (sealed to the mail site, opened only on the connector) and an HEC sink's token (sealed at rest) are never
// shown back; an admin who wants one must not get it by pointing the stored secret at a server of their own (a new
// relay host, port or TLS mode; a new collector URL) while leaving the secret field empty, "to keep the stored one".
import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { generateSealKey, publicWithKid } from "../../connector/keys.ts";
import { sealSecret } from "../../keys/seal.ts";
import type { AuditSink, MailJob } from "../../protocol/index.ts";
import { ledger } from "../../worker/audit.ts";
import { relayChannel, type SendToSite } from "../../worker/notify/relay.ts";
import { api, login, seedSite, seedUser } from "../../worker/test/harness.ts";

const PASSWORD = `smtp-canary-${crypto.randomUUID()}`;
const HEC_TOKEN = `hec-canary-${crypto.randomUUID()}`;
const HEC_URL = "https://hec.corp.test:8088/services/collector/event";
const EVIL_URL = "https://collector.attacker.test/services/collector/event";

describe("write-only notification secrets cannot be moved to an attacker's server", () => {
  let admin = "";
  beforeAll(async () => {
    await seedUser("rt-notify-admin", "rt-notify-password-1", ["admin"]);
    admin = await login("rt-notify-admin", "rt-notify-password-1");
  });
  afterEach(() => vi.restoreAllMocks());

  it("the SMTP relay password stays with its relay: a new host, port or TLS mode needs it sealed again", async () => {
    const site = await seedSite();
    const sealKey = await publicWithKid(await generateSealKey());
    await env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?").bind(JSON.stringify(sealKey), site.siteId).run();
    const relay = {
      enabled: true,
      siteId: site.siteId,
      host: "smtp.corp.test",
      port: 587,
      tls: "required",
      user: "psm",
      from: "psm@corp.test",
    };
    const saved = await api("/api/admin/mail-relay", {
      method: "PUT",
      cookie: admin,
      body: { ...relay, password: await sealSecret(sealKey, PASSWORD) },
    });
    expect(saved.status).toBe(200);

    // The attack: the same relay, the password field left empty, pointed at a server the admin runs (or told to skip
    // STARTTLS, so the AUTH goes in the clear): the connector would open the password and log in there with it.
    for (const change of [
      { host: "smtp.attacker.test" },
      { host: "[203.0.113.7]" },
      { port: 2525 },
      { tls: "opportunistic" },
    ]) {
      const res = await api("/api/admin/mail-relay", { method: "PUT", cookie: admin, body: { ...relay, ...change } });
      expect(res.status, JSON.stringify(change)).toBe(400);
    }

    // Whatever was tried, the next job carries the sealed password only to the relay it was given for.
    const jobs: MailJob[] = [];
    const send: SendToSite = async (_site, job) => {
      jobs.push(job);
      return { outcome: "accepted", response: "250 ok" };
    };
    const relayMail = await relayChannel(env.DB, send);
    await relayMail!({ id: crypto.randomUUID(), to: "alice@corp.test", subject: "s", text: "t" }, Date.now());
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.relay).toMatchObject({ host: "smtp.corp.test", port: 587, tls: "required" });

    // A change that keeps the destination keeps the password; a new destination with the password sealed again works.
    const renamed = await api("/api/admin/mail-relay", {
      method: "PUT",
      cookie: admin,
      body: { ...relay, from: "notices@corp.test" },
    });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ passwordSet: true, host: "smtp.corp.test" });
    const moved = await api("/api/admin/mail-relay", {
      method: "PUT",
      cookie: admin,
      body: { ...relay, host: "smtp2.corp.test", password: await sealSecret(sealKey, PASSWORD) },
    });
    expect(moved.status).toBe(200);
    await env.DB.prepare("DELETE FROM mail_relay").run();
  });

  it("an HEC token stays with its collector: a sink moved to a new URL without the token is refused", async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      if (req.url !== HEC_URL && req.url !== EVIL_URL) return real(input, init);
      seen.push({ url: req.url, auth: req.headers.get("authorization") });
      return Response.json({ text: "Success", code: 0 });
    });
    const created = await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "hec", name: "rt-splunk", url: HEC_URL, token: HEC_TOKEN, enabled: false, from: "now" },
    });
    expect(created.status).toBe(201);
    const sink = (await created.json()) as AuditSink;

    // The attack: the token field left empty ("keep the stored one"), the URL now the admin's own collector.
    const moved = await api(`/api/audit/sinks/${sink.id}`, {
      method: "PUT",
      cookie: admin,
      body: { kind: "hec", name: "rt-splunk", url: EVIL_URL, enabled: true },
    });
    expect(moved.status).toBe(400);

    // Delivery runs: the token never reaches the attacker's URL.
    await ledger(env).streamChanged(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.filter((s) => s.url === EVIL_URL)).toEqual([]);

    // The same URL keeps the token; a new URL with the token given again is fine.
    const kept = await api(`/api/audit/sinks/${sink.id}`, {
      method: "PUT",
      cookie: admin,
      body: { kind: "hec", name: "rt-splunk-renamed", url: HEC_URL, enabled: false },
    });
    expect(kept.status).toBe(200);
    expect(await kept.json()).toMatchObject({ tokenSet: true, url: HEC_URL });
    const retargeted = await api(`/api/audit/sinks/${sink.id}`, {
      method: "PUT",
      cookie: admin,
      body: { kind: "hec", name: "rt-splunk-renamed", url: EVIL_URL, token: "another-token", enabled: false },
    });
    expect(retargeted.status).toBe(200);
    await api(`/api/audit/sinks/${sink.id}`, { method: "DELETE", cookie: admin });
  });
});
