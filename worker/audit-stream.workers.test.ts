// The audit stream's edge half on real D1 and the real AuditLedger inside workerd (docs/audit.md "Streaming to a
// SIEM"). An HEC collector is played by a fetch stub (the real HTTPS collector, with its own CA, is
// test/e2e/audit-stream.test.ts); a syslog sink is played by a connector's control socket answering the hub.
// Attacks: read the token back through the API or the ledger; make the stream skip, repeat or reorder entries when
// the collector fails and recovers; starve a healthy sink behind a failing one; block the stream with one huge entry.
import { env } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AuditEntry, AuditSink } from "../protocol/index.ts";
import { ledger, record } from "./audit.ts";
import { TRUNCATED } from "./audit-stream/core.ts";
import { api, connectControl, login, seedSite, seedUser } from "./test/harness.ts";

const HEC_URL = "https://hec.corp.test:8088/services/collector/event";
const TOKEN = `hec-canary-${crypto.randomUUID()}`;

type Posted = { auth: string | null; events: { event: AuditEntry; sourcetype: string; time: number }[] };

/** The collector: keeps every POST; `status` decides its answer (200 by default). */
function collector() {
  const posts: Posted[] = [];
  let status = 200;
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (req.url !== HEC_URL) return real(input, init);
    if (status !== 200) return new Response("down", { status });
    const text = await req.text();
    posts.push({ auth: req.headers.get("authorization"), events: text.split("\n").map((l) => JSON.parse(l)) });
    return Response.json({ text: "Success", code: 0 });
  });
  return {
    posts,
    setStatus: (s: number) => {
      status = s;
    },
    idxs: () => posts.flatMap((p) => p.events.map((e) => e.event.idx)),
  };
}

/**
 * Wakes the ledger's delivery now (as an append does) and waits until every sink either has everything or is failing.
 * Due sinks only: one waiting out a backoff is not tried.
 */
async function deliverNow(cookie: string): Promise<AuditSink[]> {
  await ledger(env).streamChanged(true);
  for (let i = 0; ; i++) {
    const all = await sinks(cookie);
    if (all.every((s) => !s.enabled || s.behind === 0 || s.lastError)) return all;
    if (i > 200) throw new Error(`the stream did not settle: ${JSON.stringify(all)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function append(n: number, tag: string) {
  for (let i = 0; i < n; i++)
    await record(env, {
      actor: null,
      action: "auth.login_failed",
      target: { type: "user", id: `${tag}-${i}` },
      data: { tag, i },
    });
}

async function sinks(cookie: string): Promise<AuditSink[]> {
  return (await api("/api/audit/sinks", { cookie })).json();
}

describe("the audit stream", () => {
  let admin = "";
  beforeAll(async () => {
    await seedUser("stream-admin", "stream-password-1", ["admin", "auditor"]);
    admin = await login("stream-admin", "stream-password-1");
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of await sinks(admin)) await api(`/api/audit/sinks/${s.id}`, { method: "DELETE", cookie: admin });
  });

  it("sends every entry to an HEC collector in order, resumes after the last acknowledged one, never shows the token", async () => {
    const hec = collector();
    await append(3, "before");
    const res = await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "hec", name: "splunk", url: HEC_URL, token: TOKEN },
    });
    expect(res.status).toBe(201);
    const sink = (await res.json()) as AuditSink;
    expect(sink).toMatchObject({ kind: "hec", tokenSet: true, afterIdx: -1 });
    expect(JSON.stringify(sink)).not.toContain(TOKEN);

    await deliverNow(admin);
    const count = await ledger(env).count();
    // From the ledger's first entry, each exactly once, in order, with the HEC token and the chain fields.
    expect(hec.idxs()).toEqual([...Array(count).keys()]);
    expect(hec.posts.every((p) => p.auth === `Splunk ${TOKEN}`)).toBe(true);
    const events = hec.posts.flatMap((p) => p.events);
    expect(events[0]!.sourcetype).toBe("psm:audit");
    for (let i = 1; i < events.length; i++) expect(events[i]!.event.prev).toBe(events[i - 1]!.event.hash);

    // The collector goes down: nothing is acknowledged, the sink says why, and the backoff is shown.
    hec.setStatus(503);
    await append(4, "outage");
    await deliverNow(admin);
    const [down] = await sinks(admin);
    expect(down).toMatchObject({ afterIdx: count - 1, lastError: "the collector answered 503" });
    expect(down!.behind).toBeGreaterThanOrEqual(4);
    expect(down!.failingSince).not.toBeNull();
    expect(down!.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);

    // It recovers: delivery resumes after the last acknowledged entry — no gap, no repeat.
    hec.setStatus(200);
    await env.DB.prepare("UPDATE audit_sinks SET next_attempt_at = 0").run();
    await deliverNow(admin);
    const total = await ledger(env).count();
    const [up] = await sinks(admin);
    expect(up).toMatchObject({ lastError: null, failingSince: null });
    // Entries audited meanwhile (the admin's changes) may be newer than the run; none is missing or repeated.
    const sent = hec.idxs();
    expect(sent).toEqual([...Array(sent.length).keys()]);
    expect(sent.length).toBeGreaterThanOrEqual(total - 1);

    // The token is in no API answer and no ledger entry (the admin change records only that one is set).
    const auditText = JSON.stringify(await ledger(env).query({ limit: 200 }));
    expect(auditText).toContain("audit_sink");
    expect(auditText).not.toContain(TOKEN);
    expect(JSON.stringify(await sinks(admin))).not.toContain(TOKEN);
  });

  it("a sink that starts from now owes nothing older; one failing sink holds back no other", async () => {
    const hec = collector();
    await append(2, "old");
    const before = await ledger(env).count();
    const site = await seedSite();
    const fresh = await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "hec", name: "from-now", url: HEC_URL, token: TOKEN, from: "now" },
    });
    expect(fresh.status).toBe(201);
    // A syslog sink whose site has no connector online: it fails, the HEC sink goes on.
    const dead = await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "syslog", name: "no-connector", siteId: site.siteId, host: "syslog.corp.test", port: 6514 },
    });
    expect(dead.status).toBe(201);
    await append(2, "new");
    await deliverNow(admin);
    const sent = hec.idxs();
    expect(Math.min(...sent)).toBeGreaterThanOrEqual(before);
    const bySink = Object.fromEntries((await sinks(admin)).map((s) => [s.name, s]));
    expect(bySink["from-now"]!.lastError).toBeNull();
    expect(bySink["no-connector"]!.lastError).toBe("connector: no connector of the site is online");
    expect(bySink["no-connector"]!.afterIdx).toBe(-1);
  });

  it("a syslog sink's batches go to a connector of its site, which acknowledges through the last idx it wrote", async () => {
    const site = await seedSite();
    const control = await connectControl(site);
    const jobs: { jobId: string; target: unknown; entries: AuditEntry[] }[] = [];
    control.ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      const msg = JSON.parse(e.data);
      if (msg.type !== "audit_syslog") return;
      jobs.push(msg);
      control.ws.send(
        JSON.stringify({
          type: "audit_syslog_result",
          jobId: msg.jobId,
          result: { outcome: "sent", through: msg.entries.at(-1).idx },
        }),
      );
    });
    const res = await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "syslog", name: "rsyslog", siteId: site.siteId, host: "syslog.corp.test", port: 6514 },
    });
    const sink = (await res.json()) as AuditSink;
    await append(3, "syslog");
    await deliverNow(admin);
    const count = await ledger(env).count();
    const sent = jobs.flatMap((j) => j.entries.map((e) => e.idx));
    expect(sent.slice(0, count)).toEqual([...Array(count).keys()]);
    expect(jobs[0]!.target).toEqual({ sinkId: sink.id, host: "syslog.corp.test", port: 6514 });
    const [after] = await sinks(admin);
    expect(after!.afterIdx).toBeGreaterThanOrEqual(count - 1);
    control.ws.close();
  });

  it("attack: a connector acknowledges past the batch it was given — guarantee: the cursor stops at the batch, later entries still go", async () => {
    const site = await seedSite();
    const control = await connectControl(site);
    const sent: number[] = [];
    control.ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      const msg = JSON.parse(e.data);
      if (msg.type !== "audit_syslog") return;
      sent.push(...msg.entries.map((entry: AuditEntry) => entry.idx));
      // Claims a thousand entries more than it was sent.
      const through = msg.entries.at(-1).idx + 1000;
      control.ws.send(
        JSON.stringify({ type: "audit_syslog_result", jobId: msg.jobId, result: { outcome: "sent", through } }),
      );
    });
    await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "syslog", name: "overclaimer", siteId: site.siteId, host: "syslog.corp.test", port: 6514 },
    });
    await append(2, "before");
    await deliverNow(admin);
    const count = await ledger(env).count();
    const [mid] = (await sinks(admin)).filter((s) => s.name === "overclaimer");
    expect(mid!.afterIdx).toBe(count - 1);
    await append(2, "after");
    await deliverNow(admin);
    const total = await ledger(env).count();
    // Every entry went, the ones appended after the overclaim included.
    expect([...new Set(sent)].sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    control.ws.close();
  });

  it("when another connector takes a syslog sink over, the window before its first batch is sent again", async () => {
    const site = await seedSite();
    /** A connector that acknowledges every job, `fresh` on its first (it holds no overlap of earlier writers). */
    const connector = async () => {
      const control = await connectControl(site);
      const jobs: AuditEntry[][] = [];
      control.ws.addEventListener("message", (e) => {
        if (typeof e.data !== "string") return;
        const msg = JSON.parse(e.data);
        if (msg.type !== "audit_syslog") return;
        const through = msg.entries.at(-1).idx;
        control.ws.send(
          JSON.stringify({
            type: "audit_syslog_result",
            jobId: msg.jobId,
            result: { outcome: "sent", through, ...(jobs.length === 0 ? { fresh: true } : {}) },
          }),
        );
        jobs.push(msg.entries);
      });
      return { control, jobs };
    };
    const first = await connector();
    await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "syslog", name: "taken-over", siteId: site.siteId, host: "syslog.corp.test", port: 6514 },
    });
    await append(2, "first");
    await deliverNow(admin);
    // At the start of the ledger a fresh connector owes no window: each entry went once.
    const once = first.jobs.flat().map((e) => e.idx);
    expect(new Set(once).size).toBe(once.length);
    first.control.ws.close();

    const second = await connector();
    await append(2, "second");
    await deliverNow(admin);
    const [head, ...rest] = second.jobs;
    // Its first batch starts after what the first connector acknowledged; then the window before it goes again.
    expect(head![0]!.idx).toBeGreaterThan(Math.max(...once));
    expect(rest[0]![0]!.idx).toBe(0);
    const [after] = await sinks(admin);
    expect(after!.behind).toBe(0);
    second.control.ws.close();
  });

  it("an entry too large for one delivery goes out with its data replaced, and the stream goes on past it", async () => {
    const hec = collector();
    await api("/api/audit/sinks", {
      method: "POST",
      cookie: admin,
      body: { kind: "hec", name: "big", url: HEC_URL, token: TOKEN, from: "now" },
    });
    await record(env, {
      actor: null,
      action: "admin.change",
      target: { type: "setting", id: "huge" },
      data: { blob: "x".repeat(60 * 1024) },
    });
    await append(1, "after-huge");
    await deliverNow(admin);
    const events = hec.posts.flatMap((p) => p.events.map((e) => e.event));
    const huge = events.find((e) => e.target.id === "huge")!;
    expect(huge.data).toEqual({ [TRUNCATED]: expect.any(Number) });
    expect(events.at(-1)!.target.id).toBe("after-huge-0");
  });

  it("refuses an HEC sink without a token, over plain http, or with credentials in its URL", async () => {
    for (const body of [
      { kind: "hec", name: "no-token", url: HEC_URL },
      { kind: "hec", name: "http", url: "http://hec.corp.test/x", token: TOKEN },
      { kind: "hec", name: "userinfo", url: "https://u:p@hec.corp.test/x", token: TOKEN },
    ]) {
      const res = await api("/api/audit/sinks", { method: "POST", cookie: admin, body });
      expect(res.status, body.name).toBe(400);
      expect(await res.text()).not.toContain(TOKEN);
    }
  });
});
