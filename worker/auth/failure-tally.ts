// Unauthenticated sign-in failures, aggregated before they reach the audit ledger, pure: a bucket per
// minute, action, way in and account counts failures per address and per reason. Bounded, so a flood
// costs the ledger at most MAX_ACCOUNTS_PER_MINUTE + a few entries a minute and never queues ahead of
// a signed-in user's entries. The D1 glue (failure-tally-store.ts) applies addFailure() in one statement.
import type { AuditEntryInput } from "../../protocol/index.ts";

/** Distinct accounts a minute gets buckets for; later ones share the overflow bucket of their action. */
export const MAX_ACCOUNTS_PER_MINUTE = 50;
/** Distinct addresses a bucket names with their counts; failures from further ones are only counted. */
export const MAX_ADDRESSES_PER_BUCKET = 32;
/** The account of the overflow bucket. */
export const OVERFLOW_ACCOUNT = "*";
/** A bucket's minute, ms. */
export const MINUTE_MS = 60_000;

export type FailureAction = "auth.login_failed" | "auth.locked_out";
export type FailureVia = "password" | "oidc" | "second_factor";

export type FailureEvent = {
  action: FailureAction;
  via: FailureVia;
  /** The user id; `name:<username>` when there is no such user; the subject or "unknown" for OIDC. */
  account: string;
  userId: string | null;
  /** What was typed or asserted (a username, an OIDC subject), for the entry's target name. */
  name: string | null;
  address: string;
  /** A short code from a closed set (wrong_password, unknown_user, throttled, state, ...). */
  reason: string;
};

export type FailureBucket = {
  minute: number;
  action: FailureAction;
  via: FailureVia;
  account: string;
  userId: string | null;
  name: string | null;
  count: number;
  addresses: Record<string, number>;
  otherAddresses: number;
  reasons: Record<string, number>;
};

export const minuteOf = (now: number) => Math.floor(now / MINUTE_MS) * MINUTE_MS;

/** An address or reason as a JSON key the SQL can put in a path: lowercase letters, digits, '.', ':', '_'. */
export function cleanKey(raw: string, max = 45): string {
  const text = raw
    .toLowerCase()
    .replace(/[^0-9a-z.:_]/g, "")
    .slice(0, max);
  return text || "invalid";
}

const sameBucket = (b: FailureBucket, minute: number, e: FailureEvent, account: string) =>
  b.minute === minute && b.action === e.action && b.via === e.via && b.account === account;

/** The model of the glue's one statement: the buckets after one more failure at `now` (a new array). */
export function addFailure(buckets: FailureBucket[], e: FailureEvent, now: number): FailureBucket[] {
  const minute = minuteOf(now);
  const exists = buckets.some((b) => sameBucket(b, minute, e, e.account));
  const inMinute = buckets.filter((b) => b.minute === minute).length;
  const keep = exists || inMinute < MAX_ACCOUNTS_PER_MINUTE;
  const account = keep ? e.account : OVERFLOW_ACCOUNT;
  const address = cleanKey(e.address);
  const reason = cleanKey(e.reason, 32);
  const at = buckets.findIndex((b) => sameBucket(b, minute, e, account));
  if (at < 0)
    return [
      ...buckets,
      {
        minute,
        action: e.action,
        via: e.via,
        account,
        userId: keep ? e.userId : null,
        name: keep ? e.name : null,
        count: 1,
        addresses: { [address]: 1 },
        otherAddresses: 0,
        reasons: { [reason]: 1 },
      },
    ];
  const b = buckets[at]!;
  const named = address in b.addresses || Object.keys(b.addresses).length < MAX_ADDRESSES_PER_BUCKET;
  const next: FailureBucket = {
    ...b,
    count: b.count + 1,
    addresses: named ? { ...b.addresses, [address]: (b.addresses[address] ?? 0) + 1 } : b.addresses,
    otherAddresses: b.otherAddresses + (named ? 0 : 1),
    reasons: { ...b.reasons, [reason]: (b.reasons[reason] ?? 0) + 1 },
  };
  return buckets.map((x, i) => (i === at ? next : x));
}

/** Oldest minute first, then by account, action and way in: the order entries are written in. */
export const byMinute = (a: FailureBucket, b: FailureBucket) =>
  a.minute - b.minute ||
  a.account.localeCompare(b.account) ||
  a.action.localeCompare(b.action) ||
  a.via.localeCompare(b.via);

/** One ledger entry per bucket, in the buckets' order. */
export function tallyEntries(buckets: FailureBucket[]): AuditEntryInput[] {
  return buckets.map((b) => {
    const overflow = b.account === OVERFLOW_ACCOUNT;
    return {
      actor: null,
      action: b.action,
      target: {
        type: "user",
        id: overflow ? OVERFLOW_ACCOUNT : (b.userId ?? "unknown"),
        ...(overflow ? { name: "other accounts" } : b.name ? { name: b.name.slice(0, 256) } : {}),
      },
      refs: b.userId ? { userId: b.userId } : {},
      data: {
        aggregated: true,
        via: b.via,
        minute: b.minute,
        count: b.count,
        addresses: b.addresses,
        otherAddresses: b.otherAddresses,
        reasons: b.reasons,
      },
    };
  });
}
