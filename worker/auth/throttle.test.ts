// Brute-force rules: free attempts, progressive delay, lockout, forgetting, reservations that hold under
// parallel attempts, IPv6 by /64, and the key layout that keeps an attacker's failures from locking the
// owner out on a known device.
import { describe, expect, it } from "vitest";
import {
  addressKey,
  check,
  combine,
  delayFor,
  fail,
  RULES,
  release,
  reserve,
  type ThrottleScope,
  type ThrottleState,
} from "./throttle.ts";
import { secondFactorKeys, signInKeys } from "./throttle-store.ts";

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

  it("second-factor keys: none is a password key; the account-wide one is skipped on a known device", () => {
    expect(secondFactorKeys("198.51.100.7", "u1", false).map((k) => k.key)).toEqual([
      "ip:198.51.100.7",
      "mfa-ip:u1:198.51.100.7",
      "mfa:u1",
    ]);
    expect(secondFactorKeys("198.51.100.7", "u1", true).map((k) => k.scope)).toEqual(["ip", "mfa_acct_ip"]);
    const passwordKeys = new Set(signInKeys("198.51.100.7", "u1", false).map((k) => k.key));
    passwordKeys.delete("ip:198.51.100.7");
    for (const k of secondFactorKeys("198.51.100.7", "u1", false)) expect(passwordKeys.has(k.key)).toBe(false);
  });
});

describe("reservations (what parallel attempts see)", () => {
  /** N attempts that all arrive before any answer: each reserves against the state the last one left. */
  function burst(scopes: ThrottleScope[], n: number, now = T0) {
    let states: (ThrottleState | null)[] = scopes.map(() => null);
    let allowed = 0;
    for (let i = 0; i < n; i++) {
      const r = reserve(
        scopes.map((scope, j) => ({ scope, state: states[j] ?? null })),
        now,
      );
      if (r.verdict.allowed) allowed++;
      states = r.states;
    }
    return { allowed, states };
  }

  it("lets through only the free attempts of a burst and counts every one it let through", () => {
    const { allowed, states } = burst(["ip", "acct_ip", "acct"], 50);
    expect(allowed).toBe(RULES.acct_ip.free + 1);
    expect(states.map((s) => s?.failures)).toEqual([allowed, allowed, allowed]);
  });

  it("refuses all or nothing: a key that refuses leaves the others uncounted", () => {
    const locked = failures("acct_ip", RULES.acct_ip.lockAfter!);
    const r = reserve(
      [
        { scope: "ip", state: null },
        { scope: "acct_ip", state: locked },
      ],
      T0,
    );
    expect(r.verdict).toMatchObject({ allowed: false, locked: true });
    expect(r.states).toEqual([null, locked]);
  });

  it("a release gives back the one reservation and the lock it set, never earlier failures", () => {
    const before = failures("acct_ip", RULES.acct_ip.lockAfter! - 1);
    const r = reserve([{ scope: "acct_ip", state: before }], T0 + RULES.acct_ip.maxDelayMs);
    expect(r.states[0]?.lockedUntil).not.toBeNull();
    const back = release("acct_ip", r.states[0] ?? null);
    expect(back?.failures).toBe(RULES.acct_ip.lockAfter! - 1);
    expect(back?.lockedUntil).toBeNull();
    // A lock earned by failures before stays through a release.
    const lockedBefore = failures("acct_ip", RULES.acct_ip.lockAfter! + 1);
    expect(release("acct_ip", lockedBefore)?.lockedUntil).toBe(lockedBefore?.lockedUntil);
  });

  it("the account-wide second-factor key locks, and is forgotten only after a quiet day", () => {
    const s = failures("mfa_acct", RULES.mfa_acct.lockAfter!);
    expect(check("mfa_acct", s, T0 + 1)).toMatchObject({ allowed: false, locked: true });
    expect(check("mfa_acct", s, T0 + RULES.mfa_acct.lockMs)).toEqual({ allowed: true });
    // One more failure after the lock locks again at once.
    expect(fail("mfa_acct", s, T0 + RULES.mfa_acct.lockMs).lockedUntil).toBe(T0 + 2 * RULES.mfa_acct.lockMs);
    expect(RULES.mfa_acct.forgetAfterMs).toBe(24 * 60 * 60_000);
  });

  it("push: three requests at once, then a delay; three denials lock for 30 minutes", () => {
    expect(burst(["push"], 10).allowed).toBe(3);
    expect(failures("push_denial", 2)?.lockedUntil).toBeNull();
    expect(check("push_denial", failures("push_denial", 2), T0)).toEqual({ allowed: true });
    expect(check("push_denial", failures("push_denial", 3), T0 + 29 * 60_000)).toMatchObject({ locked: true });
  });
});

describe("addressKey", () => {
  it("keeps IPv4 whole and keys IPv6 by its /64, however it is written", () => {
    expect(addressKey("198.51.100.7")).toBe("198.51.100.7");
    expect(addressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0DB8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::ffff:1.2.3.4")).toBe("2001:db8:1:2::/64");
    expect(addressKey(" 2001:db8::1%eth0 ")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });

  it("rotating inside a /64 stays on one key; the next /64 is another", () => {
    const keys = new Set(
      Array.from({ length: 50 }, (_, i) => addressKey(`2001:db8:aa:bb:${i.toString(16)}:${(i * 7).toString(16)}::9`)),
    );
    expect([...keys]).toEqual(["2001:db8:aa:bb::/64"]);
    expect(addressKey("2001:db8:aa:bc::1")).not.toBe(addressKey("2001:db8:aa:bb::1"));
  });

  it("reads an IPv4-mapped address as the IPv4 address", () => {
    expect(addressKey("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(addressKey("::ffff:c633:6407")).toBe("198.51.100.7");
  });

  it("keeps anything unparsable as bounded text, counted against itself", () => {
    expect(addressKey("unknown")).toBe("unknown");
    expect(addressKey("1:2:3")).toBe("1:2:3");
    expect(addressKey("1::2::3")).toBe("1::2::3");
    expect(addressKey("x".repeat(200))).toHaveLength(64);
  });
});
