// The minute sweep (cron trigger): checkouts whose next transition is due, then the notification
// outbox, then expired sign-ins and auth counters, then failed sign-ins of closed minutes to the ledger.
// Works with nobody online; each part is idempotent, so an overlapping run is harmless.
import { advanceDue } from "./access/checkouts.ts";
import type { Env } from "./env.ts";
import { deliverOutbox } from "./access/notify-checkout.ts";
import { followLedger, watchConnectors } from "./notify/events.ts";
import { sweepRecordings } from "./recordings.ts";
import { ageDiscovered } from "./access/discovery.ts";
import { purgeAuth } from "./auth/purge.ts";
import { flushFailureTally } from "./auth/failure-tally-store.ts";
import { enforceAccess } from "./access/revocation.ts";
import { driveRotations, scheduleVerifications } from "./access/rotations.ts";
import { expireSealRotations } from "./access/seal-keys.ts";

export async function sweep(
  env: Env,
  now: number,
): Promise<{ checkouts: number; notifications: unknown; recordingsDeleted: number }> {
  const checkouts = await advanceDue(env, now);
  // Anything a change made past the API removed (or a hook missed) ends within a minute.
  await enforceAccess(env, { kind: "all" }, "access sweep", null, now);
  // Rotations that are due (check-ins whose last session closed, retries), and jobs nobody answered.
  await scheduleVerifications(env, now);
  await driveRotations(env, now);
  await expireSealRotations(env, now);
  // Events raised where the outbox is not at hand (the room, the hub) reach people from the ledger; connectors
  // offline for minutes are announced. Neither may stop the sweep: a failure is retried next minute.
  await followLedger(env, now).catch((err: Error) => console.warn(`notify: ledger follow failed (${err.name})`));
  await watchConnectors(env, now, async (site) =>
    (await env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(site)).health()).map((c) => c.connectorId),
  ).catch((err: Error) => console.warn(`notify: connector watch failed (${err.name})`));
  const notifications = await deliverOutbox(env, now);
  // Recordings past their zone's retention: deleted from the store and audited.
  const recordingsDeleted = await sweepRecordings(env, now);
  // Discovered hosts no rerun saw for their site's days: stale, then retired (audited; checkouts on them fall).
  await ageDiscovered(env, now);
  await purgeAuth(env, now);
  // Failed sign-ins of closed minutes, one ledger entry per account (worker/auth/failure-tally.ts).
  await flushFailureTally(env, now);
  return { checkouts, notifications, recordingsDeleted };
}
