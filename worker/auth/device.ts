// The device cookie: a random id the browser keeps for 400 days, stored only as a SHA-256 hash per
// user once a sign-in from it completes. It marks known devices for step-up and for the throttle.
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { DEVICE_COOKIE } from "../../protocol/index.ts";
import type { AppContext } from "../env.ts";
import { randomToken, sha256Hex } from "./hash.ts";

const MAX_AGE_SECONDS = 400 * 24 * 60 * 60;

/** A device id made during this request: a login asks more than once, and must set one cookie, once. */
const madeFor = new WeakMap<Request, string>();

/** The hash of this browser's device id, creating the cookie (once per request) when there is none. */
export async function deviceHash(c: Context<AppContext>): Promise<string> {
  const sent = getCookie(c, DEVICE_COOKIE);
  let id = sent && /^[A-Za-z0-9_-]{32,64}$/.test(sent) ? sent : madeFor.get(c.req.raw);
  if (!id) {
    id = randomToken(32);
    madeFor.set(c.req.raw, id);
    setCookie(c, DEVICE_COOKIE, id, {
      httpOnly: true,
      sameSite: "Lax",
      secure: true,
      path: "/",
      maxAge: MAX_AGE_SECONDS,
    });
  }
  return sha256Hex(`device:${id}`);
}

export async function isKnownDevice(db: D1Database, userId: string, hash: string): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS ok FROM user_devices WHERE user_id = ? AND device_hash = ?")
    .bind(userId, hash)
    .first();
  return !!row;
}

/** What the request's network says, from Cloudflare's request.cf (absent in some local runs). */
export function networkOf(c: Context<AppContext>): { country: string | null; asn: string | null } {
  const cf = (c.req.raw as { cf?: { country?: unknown; asn?: unknown } }).cf;
  return {
    country: typeof cf?.country === "string" ? cf.country : null,
    asn: typeof cf?.asn === "number" || typeof cf?.asn === "string" ? String(cf.asn) : null,
  };
}

/** Is this country / ASN new for the user? (null values are never "new": nothing to compare.) */
export async function newNetwork(
  db: D1Database,
  userId: string,
  net: { country: string | null; asn: string | null },
): Promise<{ newCountry: boolean; newAsn: boolean }> {
  const { results } = await db
    .prepare("SELECT kind, value FROM user_networks WHERE user_id = ?")
    .bind(userId)
    .all<{ kind: string; value: string }>();
  const seen = (kind: string, value: string | null) =>
    value === null || results.some((r) => r.kind === kind && r.value === value);
  // A user with no history yet has nothing to compare with: the first sign-in sets the baseline.
  if (!results.length) return { newCountry: false, newAsn: false };
  return { newCountry: !seen("country", net.country), newAsn: !seen("asn", net.asn) };
}

/** After a completed sign-in: remember the device and the network. */
export async function rememberDevice(
  db: D1Database,
  userId: string,
  hash: string,
  net: { country: string | null; asn: string | null },
): Promise<void> {
  const now = Date.now();
  const stmts = [
    db
      .prepare(
        "INSERT INTO user_devices (user_id, device_hash, first_seen, last_seen) VALUES (?, ?, ?, ?) ON CONFLICT(user_id, device_hash) DO UPDATE SET last_seen = excluded.last_seen",
      )
      .bind(userId, hash, now, now),
  ];
  for (const [kind, value] of [
    ["country", net.country],
    ["asn", net.asn],
  ] as const)
    if (value)
      stmts.push(
        db
          .prepare("INSERT OR IGNORE INTO user_networks (user_id, kind, value, first_seen) VALUES (?, ?, ?, ?)")
          .bind(userId, kind, value, now),
      );
  await db.batch(stmts);
}
