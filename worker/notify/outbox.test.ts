// The outbox's pure parts on Node: which rows an event produces, the backoff schedule, and a row's state after an
// attempt. The D1 side (claims, concurrent sweeps) is in outbox.workers.test.ts.
import { describe, expect, it } from "vitest";
import type { CheckoutNotice } from "./messages.ts";
import { afterAttempt, BACKOFF_MAX_MS, backoffMs, MAX_ATTEMPTS, planNotifications } from "./outbox.ts";

const notice: CheckoutNotice = {
  event: "checkout.requested",
  checkoutId: "co-1",
  requester: "alice",
  server: "web-01",
  credential: "root pw",
  startsAt: 0,
  endsAt: 3_600_000,
  justification: "patching",
};
const EMAIL = {} as SendEmail; // only its presence matters when planning

describe("planNotifications", () => {
  it("plans one webhook row when a webhook URL is configured", () => {
    const rows = planNotifications(
      notice,
      { emails: ["a@example.com"] },
      { NOTIFY_WEBHOOK_URL: "https://hooks.test/x" },
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ channel: "webhook", target: "https://hooks.test/x", event: "checkout.requested" });
    const payload = JSON.parse(rows[0]!.body);
    expect(payload.blocks.map((b: { type: string }) => b.type)).toEqual(["section", "context"]);
    expect(rows[0]!.subject).toBe(payload.text);
  });

  it("plans one email row per distinct valid address, only with both the binding and a sender", () => {
    const emails = ["a@example.com", "A@Example.com", " b@example.com ", "not-an-address", "c@example.com"];
    const env = { EMAIL, NOTIFY_EMAIL_FROM: "psm@example.com", APP_URL: "https://psm.test" };
    const rows = planNotifications(notice, { emails }, env);
    expect(rows.map((r) => [r.channel, r.target])).toEqual([
      ["email", "a@example.com"],
      ["email", "b@example.com"],
      ["email", "c@example.com"],
    ]);
    expect(rows[0]!.body).toContain("https://psm.test/#/approvals/co-1");
    expect(new Set(rows.map((r) => r.id)).size).toBe(3);
    expect(planNotifications(notice, { emails }, { EMAIL })).toEqual([]);
    expect(planNotifications(notice, { emails }, { NOTIFY_EMAIL_FROM: "psm@example.com" })).toEqual([]);
  });

  it("puts no secret in any row", () => {
    const env = {
      EMAIL,
      NOTIFY_EMAIL_FROM: "psm@example.com",
      NOTIFY_WEBHOOK_URL: "https://hooks.test/x",
      NOTIFY_WEBHOOK_SECRET: "whsec-must-not-be-stored",
    };
    const rows = planNotifications(notice, { emails: ["a@example.com"] }, env);
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain("whsec-must-not-be-stored");
  });
});

describe("backoffMs", () => {
  it("starts at 30 s and doubles per failure (random 0.5 = no jitter)", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 0.5))).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000,
    ]);
  });

  it("jitters by ±20 %", () => {
    expect(backoffMs(1, 0)).toBe(24_000);
    expect(backoffMs(1, 0.999999)).toBe(36_000);
    expect(backoffMs(3, 0)).toBe(96_000);
  });

  it("never waits more than 1 h, jitter included", () => {
    expect(backoffMs(8, 0.5)).toBe(BACKOFF_MAX_MS);
    expect(backoffMs(8, 0)).toBe(2_880_000);
    for (let n = 1; n <= 40; n++) {
      for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
        const ms = backoffMs(n, r);
        expect(ms).toBeGreaterThan(0);
        expect(ms).toBeLessThanOrEqual(BACKOFF_MAX_MS);
      }
    }
  });
});

describe("afterAttempt", () => {
  const now = 1_800_000_000_000;

  it("records a success as delivered and keeps the earlier error for the record", () => {
    expect(afterAttempt(2, { ok: true }, now, 0.5)).toEqual({
      outcome: "delivered",
      attempts: 3,
      nextAttemptAt: now,
      deliveredAt: now,
      deadAt: null,
      lastError: null,
    });
  });

  it("schedules a retry with backoff after a failure", () => {
    expect(afterAttempt(0, { ok: false, error: "http 500" }, now, 0.5)).toEqual({
      outcome: "failed",
      attempts: 1,
      nextAttemptAt: now + 30_000,
      deliveredAt: null,
      deadAt: null,
      lastError: "http 500",
    });
  });

  it("gives up on the 10th failure, about 3 h after the first", () => {
    let attempts = 0;
    let at = now;
    const outcomes: string[] = [];
    for (;;) {
      const u = afterAttempt(attempts, { ok: false, error: "down" }, at, 0.5);
      outcomes.push(u.outcome);
      attempts = u.attempts;
      if (u.outcome === "dead") {
        expect(u.deadAt).toBe(at);
        break;
      }
      at = u.nextAttemptAt;
    }
    expect(attempts).toBe(MAX_ATTEMPTS);
    expect(outcomes).toEqual([...Array(9).fill("failed"), "dead"]);
    // 30 s + 1 + 2 + 4 + 8 + 16 + 32 min, then 1 h twice (the cap): 3 h 3.5 min
    expect(at - now).toBe(30_000 + (60 + 120 + 240 + 480 + 960 + 1920) * 1000 + 2 * 3_600_000);
  });
});
