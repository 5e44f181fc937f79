// D1 glue of the failure tally (rules in failure-tally.ts): one statement per failure, and the minute
// sweep's flush of closed minutes into the audit ledger as one batch.
import type { Env } from "../env.ts";
import { ledger } from "../audit.ts";
import {
  byMinute,
  cleanKey,
  type FailureAction,
  type FailureBucket,
  type FailureEvent,
  type FailureVia,
  MAX_ACCOUNTS_PER_MINUTE,
  MAX_ADDRESSES_PER_BUCKET,
  minuteOf,
  OVERFLOW_ACCOUNT,
  tallyEntries,
} from "./failure-tally.ts";

/** Entries per appendMany call (the ledger takes at most 500). */
const FLUSH_BATCH = 200;

// addFailure() of failure-tally.ts. ?1 minute, ?2 action, ?3 via, ?4 account, ?5 user id, ?6 name,
// ?7 address, ?8 reason, ?9 accounts per minute, ?10 addresses per bucket, ?11 overflow account.
// In DO UPDATE SET every expression reads the row as it was, so `named` is judged once for both columns.
const ADD_SQL = `
INSERT INTO auth_failure_tally
  (minute, action, via, account, user_id, name, count, addresses, distinct_addresses, other_addresses, reasons)
SELECT ?1, ?2, ?3, CASE WHEN keep THEN ?4 ELSE ?11 END, CASE WHEN keep THEN ?5 END, CASE WHEN keep THEN ?6 END,
  1, json_object(?7, 1), 1, 0, json_object(?8, 1)
FROM (SELECT EXISTS (SELECT 1 FROM auth_failure_tally WHERE minute = ?1 AND action = ?2 AND via = ?3 AND account = ?4)
          OR (SELECT count(*) FROM auth_failure_tally WHERE minute = ?1) < ?9 AS keep)
WHERE true
ON CONFLICT (minute, action, via, account) DO UPDATE SET
  count = count + 1,
  addresses = CASE WHEN json_extract(addresses, '$."' || ?7 || '"') IS NOT NULL OR distinct_addresses < ?10
    THEN json_set(addresses, '$."' || ?7 || '"', COALESCE(json_extract(addresses, '$."' || ?7 || '"'), 0) + 1)
    ELSE addresses END,
  distinct_addresses = distinct_addresses
    + CASE WHEN json_extract(addresses, '$."' || ?7 || '"') IS NULL AND distinct_addresses < ?10 THEN 1 ELSE 0 END,
  other_addresses = other_addresses
    + CASE WHEN json_extract(addresses, '$."' || ?7 || '"') IS NULL AND distinct_addresses >= ?10 THEN 1 ELSE 0 END,
  reasons = json_set(reasons, '$."' || ?8 || '"', COALESCE(json_extract(reasons, '$."' || ?8 || '"'), 0) + 1)`;

/** Counts one unauthenticated failure (instead of a ledger entry of its own). */
export async function tallyFailure(env: Env, e: FailureEvent, now = Date.now()): Promise<void> {
  await env.DB.prepare(ADD_SQL)
    .bind(
      minuteOf(now),
      e.action,
      e.via,
      e.account,
      e.userId,
      e.name,
      cleanKey(e.address),
      cleanKey(e.reason, 32),
      MAX_ACCOUNTS_PER_MINUTE,
      MAX_ADDRESSES_PER_BUCKET,
      OVERFLOW_ACCOUNT,
    )
    .run();
}

type Row = {
  minute: number;
  action: FailureAction;
  via: FailureVia;
  account: string;
  user_id: string | null;
  name: string | null;
  count: number;
  addresses: string;
  distinct_addresses: number;
  other_addresses: number;
  reasons: string;
};

const bucketOf = (r: Row): FailureBucket => ({
  minute: r.minute,
  action: r.action,
  via: r.via,
  account: r.account,
  userId: r.user_id,
  name: r.name,
  count: r.count,
  addresses: JSON.parse(r.addresses) as Record<string, number>,
  otherAddresses: r.other_addresses,
  reasons: JSON.parse(r.reasons) as Record<string, number>,
});

/**
 * Moves every minute before `now`'s into the ledger (one entry per bucket). The rows are taken in one
 * statement, so two sweeps never write the same bucket twice; if the ledger refuses, the rows go back
 * (counts merged) for the next sweep. Returns the entries written.
 */
export async function flushFailureTally(env: Env, now: number): Promise<number> {
  const { results } = await env.DB.prepare("DELETE FROM auth_failure_tally WHERE minute < ? RETURNING *")
    .bind(minuteOf(now))
    .all<Row>();
  if (!results.length) return 0;
  const rows = results.map((r) => ({ r, b: bucketOf(r) })).sort((x, y) => byMinute(x.b, y.b));
  const entries = tallyEntries(rows.map((x) => x.b));
  let written = 0;
  try {
    for (; written < entries.length; written += FLUSH_BATCH)
      await ledger(env).appendMany(entries.slice(written, written + FLUSH_BATCH));
  } catch (err) {
    console.error(`failure tally: ledger refused the flush (${(err as Error).name}); kept for the next sweep`);
    await putBack(
      env,
      rows.slice(written).map((x) => x.r),
    );
    return written;
  }
  return entries.length;
}

async function putBack(env: Env, rows: Row[]): Promise<void> {
  if (!rows.length) return;
  await env.DB.batch(
    rows.map((r) =>
      env.DB.prepare(
        `INSERT INTO auth_failure_tally
          (minute, action, via, account, user_id, name, count, addresses, distinct_addresses, other_addresses, reasons)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (minute, action, via, account) DO UPDATE SET count = count + excluded.count,
           other_addresses = other_addresses + excluded.other_addresses`,
      ).bind(
        r.minute,
        r.action,
        r.via,
        r.account,
        r.user_id,
        r.name,
        r.count,
        r.addresses,
        r.distinct_addresses,
        r.other_addresses,
        r.reasons,
      ),
    ),
  );
}
