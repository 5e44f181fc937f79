// Brute-force throttling, pure: progressive delay then lockout, per key. Keys (see throttle-store.ts):
// per client IP, per account from one IP, and per account from unknown devices only, so an attacker
// who burns an account's attempts from their IP never locks its owner out on a device they used before.

export type ThrottleScope = "ip" | "acct_ip" | "acct" | "master_password";

export type ThrottleState = { failures: number; lastFailureAt: number; lockedUntil: number | null };

type Rule = {
  /** Failures allowed before any delay. */
  free: number;
  /** First delay, doubling per further failure, ms. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures after which the key is locked for lockMs; null: delay only. */
  lockAfter: number | null;
  lockMs: number;
  /** A key with no failure for this long starts again from zero, ms. */
  forgetAfterMs: number;
};

const MINUTE = 60_000;

export const RULES: Record<ThrottleScope, Rule> = {
  // Many accounts from one address: a password spray. Generous (NAT), then a lockout of the address.
  ip: {
    free: 10,
    baseDelayMs: 1000,
    maxDelayMs: 30_000,
    lockAfter: 50,
    lockMs: 30 * MINUTE,
    forgetAfterMs: 60 * MINUTE,
  },
  // One account from one address: guessing. Locks that pair only; the owner elsewhere is not affected.
  acct_ip: {
    free: 3,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    lockAfter: 10,
    lockMs: 15 * MINUTE,
    forgetAfterMs: 60 * MINUTE,
  },
  // One account from many addresses and unknown devices: delay only, never a lockout (no lockout DoS).
  acct: { free: 5, baseDelayMs: 1000, maxDelayMs: 5 * MINUTE, lockAfter: null, lockMs: 0, forgetAfterMs: 60 * MINUTE },
  // The master password at connect: the caller is already signed in as the user.
  master_password: {
    free: 2,
    baseDelayMs: 2000,
    maxDelayMs: 60_000,
    lockAfter: 5,
    lockMs: 15 * MINUTE,
    forgetAfterMs: 60 * MINUTE,
  },
};

export type Verdict = { allowed: true } | { allowed: false; retryAfterMs: number; locked: boolean };

const fresh = (rule: Rule, state: ThrottleState | null, now: number): ThrottleState | null =>
  state && now - state.lastFailureAt < rule.forgetAfterMs ? state : null;

/** Delay owed after `failures` failures, ms. */
export function delayFor(rule: Rule, failures: number): number {
  if (failures <= rule.free) return 0;
  return Math.min(rule.maxDelayMs, rule.baseDelayMs * 2 ** Math.min(30, failures - rule.free - 1));
}

/** May an attempt be made now under this key? */
export function check(scope: ThrottleScope, state: ThrottleState | null, now: number): Verdict {
  const rule = RULES[scope];
  const s = fresh(rule, state, now);
  if (!s) return { allowed: true };
  if (s.lockedUntil !== null && now < s.lockedUntil)
    return { allowed: false, retryAfterMs: s.lockedUntil - now, locked: true };
  const readyAt = s.lastFailureAt + delayFor(rule, s.failures);
  return now < readyAt ? { allowed: false, retryAfterMs: readyAt - now, locked: false } : { allowed: true };
}

/** The state after one more failure. */
export function fail(scope: ThrottleScope, state: ThrottleState | null, now: number): ThrottleState {
  const rule = RULES[scope];
  const failures = (fresh(rule, state, now)?.failures ?? 0) + 1;
  const locked = rule.lockAfter !== null && failures >= rule.lockAfter;
  return { failures, lastFailureAt: now, lockedUntil: locked ? now + rule.lockMs : null };
}

/** The most restrictive verdict of several keys. */
export function combine(verdicts: Verdict[]): Verdict {
  let worst: Verdict = { allowed: true };
  for (const v of verdicts) {
    if (v.allowed) continue;
    if (worst.allowed || v.retryAfterMs > worst.retryAfterMs) worst = v;
  }
  return worst;
}
