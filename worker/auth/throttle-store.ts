// D1 glue for the brute-force throttle (pure rules and the model in throttle.ts). Every change is one SQL
// statement, so attempts racing each other are each counted. The client address is taken from
// CF-Connecting-IP only (Cloudflare sets it; X-Forwarded-For and bodies are the client's to forge) and
// keyed by addressKey (IPv6 by its /64).
import type { Context } from "hono";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { addressKey, check, combine, RULES, type ThrottleScope, type ThrottleState, type Verdict } from "./throttle.ts";

export type ThrottleKey = { scope: ThrottleScope; key: string };

/** The client's address as Cloudflare saw it (shown and audited as it is). */
export const clientIp = (c: Context<AppContext>) => c.req.header("CF-Connecting-IP")?.trim() || "unknown";

/** The client's address as throttle keys hold it: IPv6 by its /64. */
export const clientNet = (c: Context<AppContext>) => addressKey(clientIp(c));

/**
 * Keys a password attempt counts against. An unknown username gets the same keys under its name, so
 * the answers do not reveal which accounts exist. `knownDevice`: the request carries a device cookie
 * this account signed in from before; such attempts skip the account-wide key (owners are not locked out).
 */
export function signInKeys(net: string, account: string, knownDevice: boolean): ThrottleKey[] {
  const keys: ThrottleKey[] = [
    { scope: "ip", key: `ip:${net}` },
    { scope: "acct_ip", key: `acct-ip:${account}:${net}` },
  ];
  if (!knownDevice) keys.push({ scope: "acct", key: `acct:${account}` });
  return keys;
}

/**
 * Keys a second-factor attempt counts against: the address, the account from this address, and the
 * account from anywhere unless the device is one the owner signed in from before. None of them is a
 * password key, and a password sign-in never clears them.
 */
export function secondFactorKeys(net: string, userId: string, knownDevice: boolean): ThrottleKey[] {
  const keys: ThrottleKey[] = [
    { scope: "ip", key: `ip:${net}` },
    { scope: "mfa_acct_ip", key: `mfa-ip:${userId}:${net}` },
  ];
  if (!knownDevice) keys.push({ scope: "mfa_acct", key: `mfa:${userId}` });
  return keys;
}

type Row = { key: string; failures: number; last_failure_at: number; locked_until: number | null };
const stateOf = (r: Row): ThrottleState => ({
  failures: r.failures,
  lastFailureAt: r.last_failure_at,
  lockedUntil: r.locked_until,
});

async function load(db: D1Database, keys: ThrottleKey[]): Promise<Map<string, ThrottleState>> {
  if (!keys.length) return new Map();
  const { results } = await db
    .prepare(
      `SELECT key, failures, last_failure_at, locked_until FROM auth_throttle WHERE key IN (${keys.map(() => "?").join(",")})`,
    )
    .bind(...keys.map((k) => k.key))
    .all<Row>();
  return new Map(results.map((r) => [r.key, stateOf(r)]));
}

/** The keys with their rules as a VALUES list for the statements below (parameters from ?2 on). */
function ruleValues(keys: ThrottleKey[]): { sql: string; args: (string | number | null)[] } {
  const args: (string | number | null)[] = [];
  const rows = keys.map((k) => {
    const r = RULES[k.scope];
    const at = args.length + 2;
    args.push(k.key, r.free, r.baseDelayMs, r.maxDelayMs, r.lockAfter, r.lockMs, r.forgetAfterMs);
    return `(${Array.from({ length: 7 }, (_, i) => `?${at + i}`).join(", ")})`;
  });
  return { sql: rows.join(", "), args };
}

/**
 * check() and fail() of throttle.ts in SQL, over every key at once. `cur` is each key as check() sees it
 * (a stale row reads as none); `refused` holds a key that refuses now. Because the SELECT reads the table
 * it inserts into, SQLite computes all of it before writing, so either every key gets its failure or none.
 */
const reserveSql = (values: string, onlyIfAllowed: boolean) => `
WITH want(key, free, base, maxd, lock_after, lock_ms, forget) AS (VALUES ${values}),
cur AS (
  SELECT w.key, w.free, w.base, w.maxd, w.lock_after, w.lock_ms,
    CASE WHEN t.key IS NOT NULL AND ?1 - t.last_failure_at < w.forget THEN t.failures ELSE 0 END AS f,
    CASE WHEN t.key IS NOT NULL AND ?1 - t.last_failure_at < w.forget THEN t.last_failure_at ELSE 0 END AS at,
    CASE WHEN t.key IS NOT NULL AND ?1 - t.last_failure_at < w.forget THEN t.locked_until END AS lu
  FROM want w LEFT JOIN auth_throttle t ON t.key = w.key
),
refused AS (
  SELECT 1 FROM cur
  WHERE (lu IS NOT NULL AND ?1 < lu)
     OR (f > free AND ?1 < at + MIN(maxd, base << MIN(30, f - free - 1)))
)
INSERT INTO auth_throttle (key, failures, last_failure_at, locked_until)
SELECT key, f + 1, ?1, CASE WHEN lock_after IS NOT NULL AND f + 1 >= lock_after THEN ?1 + lock_ms END
FROM cur WHERE ${onlyIfAllowed ? "NOT EXISTS (SELECT 1 FROM refused)" : "true"}
ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,
  locked_until = excluded.locked_until
RETURNING key, failures, last_failure_at, locked_until`;

export type Reservation = Verdict & { keys: ThrottleKey[]; states: Map<string, ThrottleState> };

/**
 * An attempt: refused (nothing counted) if any key refuses now, else one failure is reserved on every
 * key in the same statement, before the secret is checked. A success then calls throttleRelease.
 */
export async function throttleReserve(db: D1Database, keys: ThrottleKey[], now: number): Promise<Reservation> {
  const { sql, args } = ruleValues(keys);
  const { results } = await db
    .prepare(reserveSql(sql, true))
    .bind(now, ...args)
    .all<Row>();
  const states = new Map(results.map((r) => [r.key, stateOf(r)]));
  if (results.length === keys.length) return { allowed: true, keys, states };
  // Refused: say for how long (read after the fact; if the key moved meanwhile, a second is a fair answer).
  const current = await load(db, keys);
  const verdict = combine(keys.map((k) => check(k.scope, current.get(k.key) ?? null, now)));
  return { ...(verdict.allowed ? { allowed: false, retryAfterMs: 1000, locked: false } : verdict), keys, states };
}

/** Counts one failure against every key whatever they say (a denial is a denial); returns the states after. */
export async function throttleCount(db: D1Database, keys: ThrottleKey[], now: number): Promise<Reservation> {
  const { sql, args } = ruleValues(keys);
  const { results } = await db
    .prepare(reserveSql(sql, false))
    .bind(now, ...args)
    .all<Row>();
  const states = new Map(results.map((r) => [r.key, stateOf(r)]));
  const verdict = combine(keys.map((k) => check(k.scope, states.get(k.key) ?? null, now)));
  return { ...verdict, keys, states };
}

/**
 * The reserved attempt succeeded: give back its one failure on every key (and a lock that failure set).
 * Failures before it stay: a success clears nothing. release() of throttle.ts, one statement per key.
 */
export async function throttleRelease(db: D1Database, reservation: Reservation): Promise<void> {
  if (!reservation.allowed || !reservation.keys.length) return;
  await db.batch(
    reservation.keys.map((k) => {
      const lockAfter = RULES[k.scope].lockAfter;
      return db
        .prepare(
          `UPDATE auth_throttle SET failures = MAX(failures - 1, 0),
             locked_until = CASE WHEN ?2 IS NOT NULL AND failures - 1 >= ?2 THEN locked_until END
           WHERE key = ?1 AND failures > 0`,
        )
        .bind(k.key, lockAfter);
    }),
  );
}

/** The purge sweep's statement: counters idle since before `idleBefore` and not locked at `now`. */
export function purgeThrottle(db: D1Database, idleBefore: number, now: number): D1PreparedStatement {
  return db
    .prepare("DELETE FROM auth_throttle WHERE last_failure_at < ? AND (locked_until IS NULL OR locked_until < ?)")
    .bind(idleBefore, now);
}

/** Whether an attempt would be allowed now, without counting one (e.g. is push locked?). */
export async function throttleCheck(db: D1Database, keys: ThrottleKey[], now: number): Promise<Verdict> {
  const states = await load(db, keys);
  return combine(keys.map((k) => check(k.scope, states.get(k.key) ?? null, now)));
}

/** Throws 429 with Retry-After when the verdict refuses. */
export function enforce(c: Context<AppContext>, verdict: Verdict, what: string): void {
  if (verdict.allowed) return;
  c.header("Retry-After", String(Math.ceil(verdict.retryAfterMs / 1000)));
  throw new ApiFailure("rate_limited", `${what}: ${verdict.locked ? "locked" : "delayed"} ${verdict.retryAfterMs} ms`);
}
