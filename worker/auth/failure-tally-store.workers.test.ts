// The failure tally's SQL against its pure model (failure-tally.ts) in D1, and the flush: closed minutes
// only, one entry per bucket, taken once, put back when the ledger refuses.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addFailure, byMinute, type FailureBucket, type FailureEvent, MINUTE_MS } from "./failure-tally.ts";
import { flushFailureTally, tallyFailure } from "./failure-tally-store.ts";

const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global"));

async function rows(): Promise<FailureBucket[]> {
  const { results } = await env.DB.prepare("SELECT * FROM auth_failure_tally").all<Record<string, unknown>>();
  return results
    .map((r) => ({
      minute: r.minute as number,
      action: r.action as FailureBucket["action"],
      via: r.via as FailureBucket["via"],
      account: r.account as string,
      userId: r.user_id as string | null,
      name: r.name as string | null,
      count: r.count as number,
      addresses: JSON.parse(r.addresses as string) as Record<string, number>,
      otherAddresses: r.other_addresses as number,
      reasons: JSON.parse(r.reasons as string) as Record<string, number>,
    }))
    .sort(byMinute);
}

describe("failure tally in D1", () => {
  it("the one statement does what the model does, bounds included", async () => {
    await env.DB.prepare("DELETE FROM auth_failure_tally").run();
    const t0 = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 10 * MINUTE_MS;
    let model: FailureBucket[] = [];
    for (let i = 0; i < 400; i++) {
      const e: FailureEvent = {
        action: i % 7 === 0 ? "auth.locked_out" : "auth.login_failed",
        via: i % 11 === 0 ? "oidc" : "password",
        account: `acct-${(i * 13) % 70}`,
        userId: i % 2 ? `acct-${(i * 13) % 70}` : null,
        name: `n${i % 70}`,
        address: `2001:db8::${(i * 7) % 45}`,
        reason: ["wrong_password", "unknown_user", "locked"][i % 3]!,
      };
      const at = t0 + (i < 300 ? 0 : MINUTE_MS) + i;
      await tallyFailure(env, e, at);
      model = addFailure(model, e, at);
    }
    expect(await rows()).toEqual(model.sort(byMinute));
  });

  it("flushes closed minutes only, once, as one entry per bucket", async () => {
    await env.DB.prepare("DELETE FROM auth_failure_tally").run();
    const now = Date.now();
    const e = (account: string): FailureEvent => ({
      action: "auth.login_failed",
      via: "password",
      account,
      userId: null,
      name: account,
      address: "198.51.100.1",
      reason: "unknown_user",
    });
    await tallyFailure(env, e("old-a"), now - MINUTE_MS);
    await tallyFailure(env, e("old-b"), now - MINUTE_MS);
    await tallyFailure(env, e("open"), now);
    const before = await ledger().count();
    expect(await flushFailureTally(env, now)).toBe(2);
    // A second sweep of the same minute finds nothing more.
    expect(await flushFailureTally(env, now)).toBe(0);
    expect(await ledger().count()).toBe(before + 2);
    expect((await rows()).map((r) => r.account)).toEqual(["open"]);
  });

  it("keeps the counts when the ledger refuses the flush", async () => {
    await env.DB.prepare("DELETE FROM auth_failure_tally").run();
    const now = Date.now();
    await tallyFailure(
      env,
      {
        action: "auth.locked_out",
        via: "password",
        account: "kept",
        userId: null,
        name: "kept",
        address: "198.51.100.2",
        reason: "locked",
      },
      now - MINUTE_MS,
    );
    // The ledger is down: its table is away.
    const rename = (from: string, to: string) =>
      runInDurableObject(ledger(), (_o, state: DurableObjectState) => {
        state.storage.sql.exec(`ALTER TABLE ${from} RENAME TO ${to}`);
      });
    await rename("entries", "entries_away");
    try {
      expect(await flushFailureTally(env, now)).toBe(0);
    } finally {
      await rename("entries_away", "entries");
    }
    expect((await rows()).map((r) => [r.account, r.count])).toEqual([["kept", 1]]);
    expect(await flushFailureTally(env, now)).toBe(1);
  });
});
