// Brute-force throttling, pure: progressive delay then lockout, per key. Keys (see throttle-store.ts):
// per client address, per account from one address, and per account from unknown devices only, so an
// attacker who burns an account's attempts never locks its owner out on a device they used before.
// An attempt reserves a failure on every key before the secret is checked (reserve); a success gives
// back only its own reservation (release), never earlier failures. The D1 glue does the same in one
// SQL statement; this file is the model it is tested against.

export type ThrottleScope =
  | "ip"
  | "acct_ip"
  | "acct"
  | "master_password"
  | "mfa_acct_ip"
  | "mfa_acct"
  | "push"
  | "push_denial";

export type ThrottleState = { failures: number; lastFailureAt: number; lockedUntil: number | null };

export type Rule = {
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
const HOUR = 60 * MINUTE;

export const RULES: Record<ThrottleScope, Rule> = {
  // Many accounts from one address: a password spray. Generous (NAT), then a lockout of the address.
  ip: { free: 10, baseDelayMs: 1000, maxDelayMs: 30_000, lockAfter: 50, lockMs: 30 * MINUTE, forgetAfterMs: HOUR },
  // One account from one address: guessing. Locks that pair only; the owner elsewhere is not affected.
  acct_ip: { free: 3, baseDelayMs: 1000, maxDelayMs: 60_000, lockAfter: 10, lockMs: 15 * MINUTE, forgetAfterMs: HOUR },
  // One account from many addresses and unknown devices: delay only, never a lockout (no lockout DoS).
  acct: { free: 5, baseDelayMs: 1000, maxDelayMs: 5 * MINUTE, lockAfter: null, lockMs: 0, forgetAfterMs: HOUR },
  // The master password at connect: the caller is already signed in as the user.
  master_password: {
    free: 2,
    baseDelayMs: 2000,
    maxDelayMs: 60_000,
    lockAfter: 5,
    lockMs: 15 * MINUTE,
    forgetAfterMs: HOUR,
  },
  // Second factor (TOTP, recovery code, security key) of one account from one address. Only someone who
  // passed the password gets here, so the pair locks like a password pair does.
  mfa_acct_ip: {
    free: 3,
    baseDelayMs: 1000,
    maxDelayMs: 60_000,
    lockAfter: 10,
    lockMs: 15 * MINUTE,
    forgetAfterMs: HOUR,
  },
  // Second factor of one account from unknown devices, whatever the address: a password holder rotating
  // addresses. Locks (an hour, again at each further failure; forgotten after a quiet day), but a device
  // the owner signed in from before skips this key, so the owner is never locked out everywhere.
  mfa_acct: {
    free: 5,
    baseDelayMs: 2000,
    maxDelayMs: 5 * MINUTE,
    lockAfter: 10,
    lockMs: HOUR,
    forgetAfterMs: 24 * HOUR,
  },
  // New push requests per account: every request counts (none is given back). Three at once, then
  // 30 s doubling to 10 min: no prompt bombing.
  push: { free: 2, baseDelayMs: 30_000, maxDelayMs: 10 * MINUTE, lockAfter: null, lockMs: 0, forgetAfterMs: HOUR },
  // Push requests denied (by the user, or by a wrong number): three lock push for 30 min. Counted with
  // count(), never reserved; no delay before the lock.
  push_denial: {
    free: 3,
    baseDelayMs: 0,
    maxDelayMs: 0,
    lockAfter: 3,
    lockMs: 30 * MINUTE,
    forgetAfterMs: HOUR,
  },
};

/** The longest forget time of any rule, ms: counters idle this long can be purged. */
export const LONGEST_FORGET_MS = Math.max(...Object.values(RULES).map((r) => r.forgetAfterMs));

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

/**
 * One attempt against several keys, all or nothing: refused if any key refuses (nothing changes), else
 * a failure is reserved on every key before the secret is checked, so attempts running in parallel each
 * see the ones before them. Returns the verdict and the states after.
 */
export function reserve(
  keys: { scope: ThrottleScope; state: ThrottleState | null }[],
  now: number,
): { verdict: Verdict; states: (ThrottleState | null)[] } {
  const verdict = combine(keys.map((k) => check(k.scope, k.state, now)));
  if (!verdict.allowed) return { verdict, states: keys.map((k) => k.state) };
  return { verdict, states: keys.map((k) => fail(k.scope, k.state, now)) };
}

/**
 * The attempt was not a failure after all: its own reservation is given back (one failure, and the lock
 * that failure set, if it set one). Earlier failures stay: a success clears nothing.
 */
export function release(scope: ThrottleScope, state: ThrottleState | null): ThrottleState | null {
  if (!state) return null;
  const rule = RULES[scope];
  const failures = Math.max(0, state.failures - 1);
  const stillLocked = rule.lockAfter !== null && failures >= rule.lockAfter;
  return { failures, lastFailureAt: state.lastFailureAt, lockedUntil: stillLocked ? state.lockedUntil : null };
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

/**
 * The address a throttle key is made of. IPv4 as it is; IPv6 by its /64 (one customer's network: a
 * client rotating addresses inside it stays on one key), IPv4-mapped IPv6 as the IPv4 address. Anything
 * unparsable is kept as lowercased text (64 chars at most), so it still counts against itself.
 */
export function addressKey(raw: string): string {
  const text = raw.trim().toLowerCase();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) return text;
  const groups = ipv6Groups(text);
  if (!groups) return text.slice(0, 64);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff)
    return [groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".");
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a dotted IPv4 tail and a zone id allowed). */
function ipv6Groups(text: string): number[] | null {
  const addr = text.replace(/%.*$/, "");
  if (!/^[0-9a-f:.]+$/.test(addr) || !addr.includes(":")) return null;
  let tail: number[] = [];
  let head = addr;
  const v4 = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(addr);
  if (v4) {
    const octets = v4[2]!.split(".").map(Number);
    if (octets.some((o) => o > 255)) return null;
    tail = [(octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!];
    head = v4[1]!.endsWith("::") ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  if ([...left, ...right].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  const fixed = left.length + right.length + tail.length;
  if (halves.length === 1 ? fixed !== 8 : fixed > 7) return null;
  const zeros = new Array<number>(8 - fixed).fill(0);
  return [...left.map((g) => Number.parseInt(g, 16)), ...zeros, ...right.map((g) => Number.parseInt(g, 16)), ...tail];
}
