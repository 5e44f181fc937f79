// D1 glue for the brute-force throttle (pure rules in throttle.ts). The client IP is taken from
// CF-Connecting-IP only: Cloudflare sets it; X-Forwarded-For and bodies are the client's to forge.
import type { Context } from "hono";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { check, combine, fail, type ThrottleScope, type ThrottleState, type Verdict } from "./throttle.ts";

export type ThrottleKey = { scope: ThrottleScope; key: string };

export const clientIp = (c: Context<AppContext>) => c.req.header("CF-Connecting-IP")?.trim() || "unknown";

/**
 * Keys a password attempt counts against. An unknown username gets the same keys under its name, so
 * the answers do not reveal which accounts exist. `knownDevice`: the request carries a device cookie
 * this account signed in from before; such attempts skip the account-wide key (owners are not locked out).
 */
export function signInKeys(ip: string, account: string, knownDevice: boolean): ThrottleKey[] {
  const keys: ThrottleKey[] = [
    { scope: "ip", key: `ip:${ip}` },
    { scope: "acct_ip", key: `acct-ip:${account}:${ip}` },
  ];
  if (!knownDevice) keys.push({ scope: "acct", key: `acct:${account}` });
  return keys;
}

type Row = { key: string; failures: number; last_failure_at: number; locked_until: number | null };

async function load(db: D1Database, keys: ThrottleKey[]): Promise<Map<string, ThrottleState>> {
  if (!keys.length) return new Map();
  const { results } = await db
    .prepare(
      `SELECT key, failures, last_failure_at, locked_until FROM auth_throttle WHERE key IN (${keys.map(() => "?").join(",")})`,
    )
    .bind(...keys.map((k) => k.key))
    .all<Row>();
  return new Map(
    results.map((r) => [
      r.key,
      { failures: r.failures, lastFailureAt: r.last_failure_at, lockedUntil: r.locked_until },
    ]),
  );
}

export async function throttleCheck(db: D1Database, keys: ThrottleKey[], now: number): Promise<Verdict> {
  const states = await load(db, keys);
  return combine(keys.map((k) => check(k.scope, states.get(k.key) ?? null, now)));
}

/** Counts one failure against every key; returns what the next attempt faces. */
export async function throttleFail(db: D1Database, keys: ThrottleKey[], now: number): Promise<Verdict> {
  const states = await load(db, keys);
  const next = keys.map((k) => ({ k, s: fail(k.scope, states.get(k.key) ?? null, now) }));
  await db.batch(
    next.map(({ k, s }) =>
      db
        .prepare(
          "INSERT INTO auth_throttle (key, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
        )
        .bind(k.key, s.failures, s.lastFailureAt, s.lockedUntil),
    ),
  );
  return combine(next.map(({ k, s }) => check(k.scope, s, now)));
}

/** A success clears the account's keys; the IP's key stays (a spray may succeed once). */
export async function throttleClear(db: D1Database, keys: ThrottleKey[]): Promise<void> {
  const cleared = keys.filter((k) => k.scope !== "ip");
  if (!cleared.length) return;
  await db
    .prepare(`DELETE FROM auth_throttle WHERE key IN (${cleared.map(() => "?").join(",")})`)
    .bind(...cleared.map((k) => k.key))
    .run();
}

/** Throws 429 with Retry-After when the verdict refuses. */
export function enforce(c: Context<AppContext>, verdict: Verdict, what: string): void {
  if (verdict.allowed) return;
  c.header("Retry-After", String(Math.ceil(verdict.retryAfterMs / 1000)));
  throw new ApiFailure("rate_limited", `${what}: ${verdict.locked ? "locked" : "delayed"} ${verdict.retryAfterMs} ms`);
}
