// Keeps the auth tables bounded: the minute sweep deletes sign-ins, challenges, tickets and throttle
// counters that can no longer matter (expired or revoked for a day; counters idle past their forget time).
// Each table's owner holds its DELETE (AGENTS.md, "One owner per table"); the ages are decided here, in one batch.
import type { Env } from "../env.ts";
import { purgeChallenges } from "./challenge-store.ts";
import { purgeDuoStates } from "./duo-state-store.ts";
import { purgeSignIns } from "./sign-in-store.ts";
import { purgeTickets } from "./socket-ticket.ts";
import { purgeThrottle } from "./throttle-store.ts";
import { LONGEST_FORGET_MS } from "./throttle.ts";

const DAY = 24 * 60 * 60_000;
/** Longest forget time of any throttle rule (throttle.ts), ms. */
const THROTTLE_IDLE_MS = LONGEST_FORGET_MS;

export async function purgeAuth(env: Env, now: number): Promise<void> {
  await env.DB.batch([
    purgeSignIns(env.DB, now - DAY),
    purgeChallenges(env.DB, now - DAY),
    purgeTickets(env.DB, now - 60_000),
    purgeDuoStates(env.DB, now - DAY),
    purgeThrottle(env.DB, now - THROTTLE_IDLE_MS, now),
  ]);
}
