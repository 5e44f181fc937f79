// Web Push delivered at once rather than at the next cron sweep, for notices whose subject waits minutes at most (a
// held command, an invitation): planned into the outbox (so retries and the audit of delivery work as for any other)
// and delivered now.
import type { PushNotice } from "../../protocol/web-push.ts";
import type { Env } from "../env.ts";
import { deliverNow, enqueueStatements } from "./outbox.ts";
import { planPush } from "./push.ts";

export async function pushNow(
  env: Env,
  event: string,
  userIds: string[],
  notice: PushNotice,
  ttlMs: number,
): Promise<void> {
  const now = Date.now();
  const rows = await planPush(env.DB, event, userIds, notice, now, { ttlMs });
  if (rows.length === 0) return;
  await env.DB.batch(enqueueStatements(env.DB, rows, now));
  await deliverNow(
    env,
    rows.map((r) => r.id),
    { fetch: (input, init) => fetch(input, init) },
  );
}
