// Brute-force rules: free attempts, progressive delay, lockout, forgetting, and the key layout that
// keeps an attacker's failures from locking the owner out on a known device.
import { describe, expect, it } from "vitest";
import { check, combine, delayFor, fail, RULES, type ThrottleState } from "./throttle.ts";
import { signInKeys } from "./throttle-store.ts";

const T0 = 1_000_000;

function failures(scope: keyof typeof RULES, n: number, at = T0): ThrottleState | null {
  let s: ThrottleState | null = null;
  for (let i = 0; i < n; i++) s = fail(scope, s, at);
  return s;
}

describe("throttle", () => {
  it("allows the free attempts without delay", () => {
    expect(check("acct_ip", failures("acct_ip", RULES.acct_ip.free), T0)).toEqual({ allowed: true });
  });

  it("delays progressively after the free attempts, doubling up to the cap", () => {
    const rule = RULES.acct_ip;
    expect(delayFor(rule, rule.free + 1)).toBe(1000);
    expect(delayFor(rule, rule.free + 2)).toBe(2000);
    expect(delayFor(rule, rule.free + 3)).toBe(4000);
    expect(delayFor(rule, 1000)).toBe(rule.maxDelayMs);
    const s = failures("acct_ip", rule.free + 2);
    expect(check("acct_ip", s, T0 + 1999)).toEqual({ allowed: false, retryAfterMs: 1, locked: false });
    expect(check("acct_ip", s, T0 + 2000)).toEqual({ allowed: true });
  });

  it("locks the key after the lockout count, for the lock time", () => {
    const rule = RULES.acct_ip;
    const s = failures("acct_ip", rule.lockAfter!);
    expect(s?.lockedUntil).toBe(T0 + rule.lockMs);
    expect(check("acct_ip", s, T0 + rule.lockMs - 1)).toMatchObject({ allowed: false, locked: true });
    expect(check("acct_ip", s, T0 + rule.lockMs + rule.maxDelayMs)).toEqual({ allowed: true });
  });

  it("never locks the account-wide key: delay only", () => {
    const s = failures("acct", 500);
    expect(s?.lockedUntil).toBeNull();
    expect(check("acct", s, T0)).toMatchObject({ allowed: false, locked: false });
    expect(check("acct", s, T0 + RULES.acct.maxDelayMs)).toEqual({ allowed: true });
  });

  it("forgets failures after a quiet period", () => {
    const s = failures("ip", 60);
    expect(check("ip", s, T0 + RULES.ip.forgetAfterMs)).toEqual({ allowed: true });
    expect(fail("ip", s, T0 + RULES.ip.forgetAfterMs).failures).toBe(1);
  });

  it("locks the master password after five wrong ones", () => {
    expect(failures("master_password", 4)?.lockedUntil).toBeNull();
    expect(failures("master_password", 5)?.lockedUntil).not.toBeNull();
  });

  it("combines to the longest wait", () => {
    expect(
      combine([
        { allowed: true },
        { allowed: false, retryAfterMs: 5, locked: false },
        { allowed: false, retryAfterMs: 9, locked: true },
      ]),
    ).toEqual({ allowed: false, retryAfterMs: 9, locked: true });
    expect(combine([{ allowed: true }])).toEqual({ allowed: true });
  });

  it("keys: the account-wide key is skipped on a known device, the IP key always applies", () => {
    expect(signInKeys("198.51.100.7", "u1", false).map((k) => k.key)).toEqual([
      "ip:198.51.100.7",
      "acct-ip:u1:198.51.100.7",
      "acct:u1",
    ]);
    expect(signInKeys("198.51.100.7", "u1", true).map((k) => k.key)).toEqual([
      "ip:198.51.100.7",
      "acct-ip:u1:198.51.100.7",
    ]);
  });
});
