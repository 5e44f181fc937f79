// The notification outbox on real D1 inside workerd: retry with backoff, dead rows kept, two concurrent sweeps
// delivering each row exactly once, email through the sender, and nothing secret written to a row.
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { emailSender } from "./email-send.ts";
import type { CheckoutNotice } from "./messages.ts";
import { deliverDue, enqueue, enqueueStatements, MAX_ATTEMPTS, type NotifyEnv, planNotifications } from "./outbox.ts";
import { verifyWebhookSignature } from "./webhook.ts";

const HOUR_MS = 3_600_000;
const NOTHING = { delivered: 0, failed: 0, dead: 0 };
const SECRET = "whsec-workers-test-0123456789";
const HOOK_URL = "https://hooks.psm.test/services/T000/B000/tokenpart";

type Row = {
  id: string;
  attempts: number;
  next_attempt_at: number;
  delivered_at: number | null;
  dead_at: number | null;
  last_error: string | null;
};

const notice: CheckoutNotice = {
  event: "checkout.requested",
  checkoutId: "co-w1",
  requester: "alice",
  server: "web-01",
  credential: "root pw",
  startsAt: Date.UTC(2026, 4, 1, 14),
  endsAt: Date.UTC(2026, 4, 1, 16),
  justification: "patch night",
};
const notifyEnv: NotifyEnv = {
  DB: env.DB,
  NOTIFY_WEBHOOK_URL: HOOK_URL,
  NOTIFY_WEBHOOK_SECRET: SECRET,
  APP_URL: "https://psm.test",
};

let warn: MockInstance<typeof console.warn>;
beforeEach(async () => {
  await env.DB.prepare("DELETE FROM notifications").run();
  warn = vi.spyOn(console, "warn").mockImplementation(() => {}); // failures are logged; checked where it matters
});
afterEach(() => {
  vi.restoreAllMocks();
});

const rowOf = (id: string) => env.DB.prepare("SELECT * FROM notifications WHERE id = ?").bind(id).first<Row>();

/**
 * env.DB, except that each SELECT of due rows waits until `sweeps` sweeps have all read: both then hold the same
 * rows, which is the race the claim must settle. `seen` records how many rows each sweep read.
 */
function racingDb(sweeps: number) {
  const seen: number[] = [];
  let release = () => {};
  const allRead = new Promise<void>((r) => {
    release = r;
  });
  const db = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "prepare") {
        return (sql: string) => {
          const stmt = target.prepare(sql);
          if (!sql.trimStart().startsWith("SELECT")) return stmt;
          return {
            bind: (...args: unknown[]) => ({
              all: async () => {
                const result = await stmt.bind(...args).all();
                seen.push(result.results.length);
                if (seen.length === sweeps) release();
                await allRead;
                return result;
              },
            }),
          };
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, seen };
}

/** A fetch that answers from a script of statuses (or throws for "down") and records what it was sent. */
function scriptedFetch(answer: (call: number) => number | "down") {
  const calls: { url: string; body: string; verified: boolean }[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const body = await req.text();
    const verified = await verifyWebhookSignature(
      SECRET,
      req.headers.get("x-psm-timestamp"),
      body,
      req.headers.get("x-psm-signature"),
      Number(req.headers.get("x-psm-timestamp")) * 1000,
    );
    const a = answer(calls.length);
    calls.push({ url: req.url, body, verified });
    // Let the other sweep run between the claim and the write-back.
    await new Promise((r) => setTimeout(r, 5));
    if (a === "down") throw new Error(`connect failed to ${HOOK_URL} using ${SECRET}`);
    return new Response(a === 200 ? "ok" : "internal error", { status: a });
  }) as typeof fetch;
  return { fn, calls };
}

describe("deliverDue on D1", () => {
  it("retries a failed webhook after the backoff and then records it delivered", async () => {
    const now = Date.UTC(2026, 4, 1, 14, 0, 5);
    const [row] = planNotifications(notice, { emails: [] }, notifyEnv);
    await env.DB.batch(enqueueStatements(env.DB, [row!], now));
    const hook = scriptedFetch((n) => (n === 0 ? 500 : 200));

    expect(await deliverDue(notifyEnv, now, { fetch: hook.fn })).toEqual({ delivered: 0, failed: 1, dead: 0 });
    const failed = (await rowOf(row!.id))!;
    expect(failed.attempts).toBe(1);
    expect(failed.next_attempt_at).toBeGreaterThan(now);
    expect(failed.next_attempt_at).toBeLessThanOrEqual(now + 36_000); // 30 s + 20 % jitter
    expect(failed.last_error).toBe("http 500: internal error");
    expect(failed.delivered_at).toBeNull();

    // Not due yet: nothing is sent.
    expect(await deliverDue(notifyEnv, now + 1_000, { fetch: hook.fn })).toEqual(NOTHING);
    expect(hook.calls).toHaveLength(1);

    const later = now + HOUR_MS;
    expect(await deliverDue(notifyEnv, later, { fetch: hook.fn })).toEqual({ delivered: 1, failed: 0, dead: 0 });
    const done = (await rowOf(row!.id))!;
    expect(done).toMatchObject({ attempts: 2, delivered_at: later, dead_at: null });
    expect(hook.calls.map((c) => [c.url, c.verified])).toEqual([
      [HOOK_URL, true],
      [HOOK_URL, true],
    ]);
    expect(JSON.parse(hook.calls[1]!.body).text).toBe(row!.subject);
    expect(await deliverDue(notifyEnv, later + HOUR_MS, { fetch: hook.fn })).toEqual(NOTHING);
  });

  it("lets two concurrent sweeps deliver each row exactly once", async () => {
    const now = Date.UTC(2026, 4, 1, 15);
    const rows = Array.from({ length: 12 }, (_, i) => ({
      ...planNotifications({ ...notice, checkoutId: `co-${i}` }, { emails: [] }, notifyEnv)[0]!,
    }));
    await enqueue(env.DB, rows, now);
    const hook = scriptedFetch(() => 200);
    const race = racingDb(2);
    const racingEnv = { ...notifyEnv, DB: race.db };

    const [a, b] = await Promise.all([
      deliverDue(racingEnv, now, { fetch: hook.fn }),
      deliverDue(racingEnv, now, { fetch: hook.fn }),
    ]);
    expect(race.seen).toEqual([12, 12]); // both sweeps read every row as due
    expect(a.delivered + b.delivered).toBe(12);
    expect(a.failed + b.failed + a.dead + b.dead).toBe(0);
    const bodies = hook.calls.map((c) => c.body);
    expect(bodies).toHaveLength(12);
    expect(new Set(bodies).size).toBe(12);
    const { results } = await env.DB.prepare("SELECT attempts, delivered_at FROM notifications").all<Row>();
    expect(results.every((r) => r.attempts === 1 && r.delivered_at === now)).toBe(true);
  });

  it("marks a row dead after 10 failures and keeps it, with a scrubbed error", async () => {
    let now = Date.UTC(2026, 4, 2, 9);
    const [row] = planNotifications(notice, { emails: [] }, notifyEnv);
    await enqueue(env.DB, [row!], now);
    const hook = scriptedFetch(() => "down");

    const sweeps = [];
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      sweeps.push(await deliverDue(notifyEnv, now, { fetch: hook.fn }));
      now += HOUR_MS; // every backoff is at most 1 h
    }
    expect(sweeps.slice(0, 9).every((s) => s.failed === 1 && s.dead === 0)).toBe(true);
    expect(sweeps[9]).toEqual({ delivered: 0, failed: 0, dead: 1 });
    const dead = (await rowOf(row!.id))!;
    expect(dead.attempts).toBe(10);
    expect(dead.dead_at).toBe(now - HOUR_MS);
    expect(dead.delivered_at).toBeNull();
    expect(dead.last_error).toBe("network error: connect failed to [redacted] using [redacted]");
    const logged = warn.mock.calls.flat().join("\n");
    expect(logged).toContain(`notification ${row!.id} (webhook) dead`);
    expect(logged).not.toContain(SECRET);

    expect(await deliverDue(notifyEnv, now + 24 * HOUR_MS, { fetch: hook.fn })).toEqual(NOTHING);
    expect(hook.calls).toHaveLength(10);
  });

  it("sends email rows through the sender with matching envelope and From", async () => {
    const now = Date.UTC(2026, 4, 3, 8);
    const emailEnv: NotifyEnv = { DB: env.DB, EMAIL: {} as SendEmail, NOTIFY_EMAIL_FROM: "psm@psm.test" };
    const rows = planNotifications(notice, { emails: ["bob@example.org", "carol@example.org"] }, emailEnv);
    await enqueue(env.DB, rows, now);
    const sent: { from: string; to: string; raw: string }[] = [];
    const counts = await deliverDue(emailEnv, now, {
      fetch: scriptedFetch(() => 200).fn,
      sendEmail: async (from, to, raw) => void sent.push({ from, to, raw }),
    });
    expect(counts).toEqual({ delivered: 2, failed: 0, dead: 0 });
    expect(sent.map((s) => s.to).sort()).toEqual(["bob@example.org", "carol@example.org"]);
    for (const s of sent) {
      expect(s.from).toBe("psm@psm.test");
      expect(s.raw).toMatch(/^From: psm@psm\.test\r\n/);
      expect(s.raw).toMatch(/\r\nMessage-ID: <[0-9a-f-]{36}@psm\.test>\r\n/);
    }
  });

  it("fails email rows while no sender is configured, so the admin sees why", async () => {
    const now = Date.UTC(2026, 4, 3, 9);
    const emailEnv: NotifyEnv = { DB: env.DB, EMAIL: {} as SendEmail, NOTIFY_EMAIL_FROM: "psm@psm.test" };
    const [row] = planNotifications(notice, { emails: ["bob@example.org"] }, emailEnv);
    await enqueue(env.DB, [row!], now);
    expect(await deliverDue(emailEnv, now, { fetch: scriptedFetch(() => 200).fn })).toEqual({
      delivered: 0,
      failed: 1,
      dead: 0,
    });
    expect((await rowOf(row!.id))!.last_error).toBe("email not configured");
  });
});

describe("emailSender", () => {
  it("wraps the raw message in an EmailMessage for the send_email binding", async () => {
    const seen: EmailMessage[] = [];
    const binding = { send: async (m: EmailMessage) => void seen.push(m) } as unknown as SendEmail;
    await emailSender(binding)("psm@psm.test", "bob@example.org", "From: psm@psm.test\r\n\r\nhi\r\n");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.from).toBe("psm@psm.test");
    expect(seen[0]!.to).toBe("bob@example.org");
  });
});
