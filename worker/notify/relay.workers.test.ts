// The edge's half of mail through a connector, on real D1 inside workerd: the outbox hands email rows to the mail
// site (a fake SendToSite stands in for the hub; the connector side is tested against a real SMTP server in
// connector/mail.test.ts and end to end in test/e2e/mail-relay.test.ts), retries what the relay did not accept,
// marks a 5xx dead at once; preferences choose who gets email; ledger events and connector outages are announced.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { MailJob, MailResult } from "../../protocol/index.ts";
import { record } from "../audit.ts";
import { seedSite, seedUser } from "../test/harness.ts";
import { CONNECTOR_DOWN_AFTER_MS, followLedger, watchConnectors } from "./events.ts";
import type { EventNotice } from "./messages.ts";
import { deliverDue, enqueue, planNotifications } from "./outbox.ts";
import { emailsFor, notifyPeople, savePreferences } from "./people.ts";
import { relayChannel, type SendToSite } from "./relay.ts";

const SEALED = "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.a2V5.aXY.Y2lwaGVy.dGFn";
const notice: EventNotice = {
  event: "session.killed",
  subject: "Your session was ended: root on web-01",
  headline: "An administrator ended your session.",
  fields: [{ label: "Target", value: "root on web-01" }],
  context: "Session s-1",
};

async function relayOn(siteId: string) {
  await env.DB.prepare(
    `INSERT OR REPLACE INTO mail_relay (id, enabled, site_id, host, port, tls, username, password_sealed, from_address, updated_at)
     VALUES (1, 1, ?, 'smtp.corp.test', 587, 'required', 'psm', ?, 'psm@corp.test', 0)`,
  )
    .bind(siteId, SEALED)
    .run();
}

const rowOf = (id: string) =>
  env.DB.prepare("SELECT attempts, delivered_at, dead_at, last_error FROM notifications WHERE id = ?")
    .bind(id)
    .first<{ attempts: number; delivered_at: number | null; dead_at: number | null; last_error: string | null }>();

describe("email through the mail site's connectors", () => {
  let siteId = "";
  beforeEach(async () => {
    await env.DB.prepare("DELETE FROM notifications").run();
    siteId = (await seedSite()).siteId;
    await relayOn(siteId);
  });

  it("a relay set up makes email rows without the send_email binding; 4xx retried, accepted delivered once", async () => {
    const rows = planNotifications(notice, { emails: ["alice@corp.test"] }, { mailRelay: true });
    expect(rows.map((r) => r.channel)).toEqual(["email"]);
    await enqueue(env.DB, rows, 1000);
    const jobs: { site: string; job: MailJob }[] = [];
    const answers: MailResult["result"][] = [
      { outcome: "failed", retryable: true, error: "smtp 451 (EMESSAGE): 4.3.0 busy" },
      { outcome: "accepted", response: "250 queued as Q1" },
    ];
    const send: SendToSite = async (site, job) => {
      jobs.push({ site, job });
      return answers.shift()!;
    };
    const relayMail = await relayChannel(env.DB, send);
    expect(relayMail).toBeDefined();
    const deps = { fetch, relayMail: relayMail!, random: () => 0.5 };
    expect(await deliverDue(env, 1000, deps)).toEqual({ delivered: 0, failed: 1, dead: 0 });
    expect(await rowOf(rows[0]!.id)).toMatchObject({ attempts: 1, delivered_at: null, dead_at: null });
    expect((await rowOf(rows[0]!.id))!.last_error).toMatch(/smtp 451/);
    // Not due yet: nothing sent; after the backoff, sent again with the same job id and accepted.
    expect(await deliverDue(env, 2000, deps)).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(await deliverDue(env, 1000 + 3_600_000, deps)).toEqual({ delivered: 1, failed: 0, dead: 0 });
    expect(await deliverDue(env, 2 * 3_600_000, deps)).toEqual({ delivered: 0, failed: 0, dead: 0 });
    expect(jobs).toHaveLength(2);
    expect(jobs.map((j) => j.job.jobId)).toEqual([rows[0]!.id, rows[0]!.id]);
    const { site, job } = jobs[0]!;
    expect(site).toBe(siteId);
    expect(job).toMatchObject({
      type: "mail",
      from: "psm@corp.test",
      to: "alice@corp.test",
      relay: { host: "smtp.corp.test", port: 587, tls: "required", user: "psm", password: SEALED },
    });
    // The Message-ID is the row's: the same on every retry.
    expect(job.raw).toContain(`Message-ID: <${rows[0]!.id}@corp.test>`);
    expect(jobs[1]!.job.raw).toContain(`Message-ID: <${rows[0]!.id}@corp.test>`);
  });

  it("a 5xx is permanent: the row is dead after one attempt and never sent again", async () => {
    const rows = planNotifications(notice, { emails: ["bob@corp.test"] }, { mailRelay: true });
    await enqueue(env.DB, rows, 1000);
    let sent = 0;
    const send: SendToSite = async () => {
      sent++;
      return { outcome: "failed", retryable: false, error: "smtp 550 (EENVELOPE): 5.1.1 no such user" };
    };
    const deps = { fetch, relayMail: (await relayChannel(env.DB, send))! };
    expect(await deliverDue(env, 1000, deps)).toEqual({ delivered: 0, failed: 0, dead: 1 });
    expect(await rowOf(rows[0]!.id)).toMatchObject({ attempts: 1, dead_at: 1000 });
    await deliverDue(env, 10 * 3_600_000, deps);
    expect(sent).toBe(1);
  });

  it("no relay turned on: no relay channel (email goes by send_email as before)", async () => {
    await env.DB.prepare("UPDATE mail_relay SET enabled = 0").run();
    expect(await relayChannel(env.DB, async () => ({ outcome: "accepted", response: "" }))).toBeUndefined();
  });
});

describe("preferences and announced events", () => {
  it("a user who turned a topic off gets no email for it; the default is email", async () => {
    const on = await seedUser(`p-on-${crypto.randomUUID().slice(0, 8)}`, "pref-password-1", ["requester"]);
    const off = await seedUser(`p-off-${crypto.randomUUID().slice(0, 8)}`, "pref-password-1", ["requester"]);
    await env.DB.batch([
      env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind("on@corp.test", on),
      env.DB.prepare("UPDATE users SET email = ? WHERE id = ?").bind("off@corp.test", off),
    ]);
    await savePreferences(env.DB, off, { kills: "off" }, 0);
    expect(await emailsFor(env.DB, [on, off], "kills")).toEqual(["on@corp.test"]);
    expect((await emailsFor(env.DB, [on, off], "requests")).sort()).toEqual(["off@corp.test", "on@corp.test"]);
    await relayOn((await seedSite()).siteId);
    await env.DB.prepare("DELETE FROM notifications").run();
    await notifyPeople(env, notice, [on, off], 0);
    const { results } = await env.DB.prepare("SELECT target FROM notifications WHERE channel = 'email'").all();
    expect(results).toEqual([{ target: "on@corp.test" }]);
  });

  it("a recording alert in the ledger reaches admins once; a connector offline 5 min is announced once", async () => {
    const admin = await seedUser(`p-admin-${crypto.randomUUID().slice(0, 8)}`, "pref-password-1", ["admin"]);
    await env.DB.prepare("UPDATE users SET email = 'admin@corp.test' WHERE id = ?").bind(admin).run();
    await relayOn((await seedSite()).siteId);
    await env.DB.prepare("DELETE FROM notifications").run();
    await env.DB.prepare("DELETE FROM notify_cursor").run();
    const now = Date.now();
    await followLedger(env, now); // the cursor starts 15 min back
    await record(env, {
      actor: null,
      action: "recording.alert",
      target: { type: "connector", id: "c-alert" },
      data: { detail: "recording spool 91% full" },
    });
    await followLedger(env, now);
    await followLedger(env, now);
    const { results } = await env.DB.prepare(
      "SELECT target, subject, body FROM notifications WHERE event = 'recording.alert'",
    ).all<{ target: string; subject: string; body: string }>();
    expect(results.filter((r) => r.target === "admin@corp.test")).toHaveLength(1);
    expect(results[0]!.body).toContain("recording spool 91% full");

    const site = await seedSite();
    const live = async () => [] as string[];
    await watchConnectors(env, now, live);
    expect(await watchConnectors(env, now + 60_000, live)).toBe(0);
    expect(await watchConnectors(env, now + CONNECTOR_DOWN_AFTER_MS, live)).toBeGreaterThan(0);
    expect(await watchConnectors(env, now + 2 * CONNECTOR_DOWN_AFTER_MS, live)).toBe(0);
    const down = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM notifications WHERE event = 'connector.down' AND target = 'admin@corp.test' AND body LIKE ?",
    )
      .bind(`%${site.connectorId}%`)
      .first<{ n: number }>();
    expect(down?.n).toBe(1);
    // Back online: the outage is closed.
    await watchConnectors(env, now + 3 * CONNECTOR_DOWN_AFTER_MS, async () => [site.connectorId]);
    const open = await env.DB.prepare("SELECT 1 FROM connector_outages WHERE connector_id = ?")
      .bind(site.connectorId)
      .first();
    expect(open).toBeNull();
  });
});
