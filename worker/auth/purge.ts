// Keeps the auth tables bounded: the minute sweep deletes sign-ins, challenges, tickets and throttle
// counters that can no longer matter (expired or revoked for a day; counters idle past their forget time).
import type { Env } from "../env.ts";
import { LONGEST_FORGET_MS } from "./throttle.ts";

const DAY = 24 * 60 * 60_000;
/** Longest forget time of any throttle rule (throttle.ts), ms. */
const THROTTLE_IDLE_MS = LONGEST_FORGET_MS;

export async function purgeAuth(env: Env, now: number): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM auth_sessions WHERE expires_at < ? OR revoked_at < ?").bind(now - DAY, now - DAY),
    env.DB.prepare("DELETE FROM auth_challenges WHERE expires_at < ?").bind(now - DAY),
    env.DB.prepare("DELETE FROM socket_tickets WHERE expires_at < ?").bind(now - 60_000),
    env.DB.prepare("DELETE FROM duo_states WHERE expires_at < ?").bind(now - DAY),
    env.DB.prepare(
      "DELETE FROM auth_throttle WHERE last_failure_at < ? AND (locked_until IS NULL OR locked_until < ?)",
    ).bind(now - THROTTLE_IDLE_MS, now),
  ]);
}
