// The failure tally's rules: a flood of unauthenticated failures becomes a bounded number of ledger
// entries a minute, nothing is lost from the counts, and addresses are kept (up to a bound, the rest counted).
import { describe, expect, it } from "vitest";
import {
  addFailure,
  byMinute,
  cleanKey,
  type FailureBucket,
  type FailureEvent,
  MAX_ACCOUNTS_PER_MINUTE,
  MAX_ADDRESSES_PER_BUCKET,
  MINUTE_MS,
  OVERFLOW_ACCOUNT,
  tallyEntries,
} from "./failure-tally.ts";

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);

const event = (account: string, address: string, over: Partial<FailureEvent> = {}): FailureEvent => ({
  action: "auth.login_failed",
  via: "password",
  account,
  userId: account.startsWith("name:") ? null : account,
  name: account,
  address,
  reason: "wrong_password",
  ...over,
});

const total = (buckets: FailureBucket[]) => buckets.reduce((n, b) => n + b.count, 0);

describe("failure tally", () => {
  it("counts one account per minute in one bucket, per address and per reason", () => {
    let b: FailureBucket[] = [];
    b = addFailure(b, event("u1", "198.51.100.7"), T0);
    b = addFailure(b, event("u1", "198.51.100.7"), T0 + 10_000);
    b = addFailure(b, event("u1", "2001:db8::1", { reason: "throttled" }), T0 + 59_999);
    expect(b).toHaveLength(1);
    expect(b[0]).toMatchObject({
      minute: T0,
      count: 3,
      addresses: { "198.51.100.7": 2, "2001:db8::1": 1 },
      otherAddresses: 0,
      reasons: { wrong_password: 2, throttled: 1 },
    });
    // The next minute is another bucket.
    expect(addFailure(b, event("u1", "198.51.100.7"), T0 + MINUTE_MS)).toHaveLength(2);
  });

  it("a flood of 2,000 failures over 2,000 names and addresses: bounded buckets, every failure counted", () => {
    let b: FailureBucket[] = [];
    for (let i = 0; i < 2000; i++) b = addFailure(b, event(`name:victim-${i}`, `203.0.113.${i % 250}`), T0 + i);
    expect(b.length).toBe(MAX_ACCOUNTS_PER_MINUTE + 1);
    expect(total(b)).toBe(2000);
    const overflow = b.find((x) => x.account === OVERFLOW_ACCOUNT)!;
    expect(overflow.count).toBe(2000 - MAX_ACCOUNTS_PER_MINUTE);
    expect(overflow.userId).toBeNull();
    // Addresses kept up to the bound; the rest are counted, not named.
    expect(Object.keys(overflow.addresses)).toHaveLength(MAX_ADDRESSES_PER_BUCKET);
    const named = Object.values(overflow.addresses).reduce((n, c) => n + c, 0);
    expect(named + overflow.otherAddresses).toBe(overflow.count);
  });

  it("an account that already has a bucket keeps it when the minute is full", () => {
    let b: FailureBucket[] = addFailure([], event("u-first", "198.51.100.1"), T0);
    for (let i = 0; i < 100; i++) b = addFailure(b, event(`name:x${i}`, "198.51.100.2"), T0);
    b = addFailure(b, event("u-first", "198.51.100.1"), T0);
    expect(b.find((x) => x.account === "u-first")?.count).toBe(2);
  });

  it("makes one entry per bucket, anonymous actor, the user in refs when known, the counts in data", () => {
    let b: FailureBucket[] = [];
    b = addFailure(b, event("u1", "198.51.100.7"), T0 + MINUTE_MS);
    b = addFailure(b, event("name:ghost", "198.51.100.8", { action: "auth.locked_out", reason: "locked" }), T0);
    const entries = tallyEntries([...b].sort(byMinute));
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      actor: null,
      action: "auth.locked_out",
      target: { type: "user", id: "unknown", name: "name:ghost" },
      refs: {},
      data: { aggregated: true, minute: T0, count: 1, reasons: { locked: 1 } },
    });
    expect(entries[1]).toMatchObject({ action: "auth.login_failed", refs: { userId: "u1" } });
  });

  it("addresses and reasons are reduced to characters a JSON path can hold", () => {
    expect(cleanKey('198.51.100.7"]; DROP')).toBe("198.51.100.7drop");
    expect(cleanKey("2001:DB8::1")).toBe("2001:db8::1");
    expect(cleanKey("")).toBe("invalid");
    expect(cleanKey("a".repeat(100))).toHaveLength(45);
  });
});
