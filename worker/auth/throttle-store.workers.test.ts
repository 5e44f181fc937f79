// The throttle's SQL against its pure model (throttle.ts) in D1: random attempts, successes, denials and
// waits on overlapping keys give the same verdicts and counters; parallel reservations are each counted.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { check, combine, release, reserve, RULES, type ThrottleState, fail } from "./throttle.ts";
import {
  secondFactorKeys,
  signInKeys,
  type ThrottleKey,
  throttleCheck,
  throttleCount,
  throttleRelease,
  throttleReserve,
} from "./throttle-store.ts";

/** A small deterministic generator, so a failing sequence can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function stored(keys: ThrottleKey[]): Promise<(ThrottleState | null)[]> {
  const out: (ThrottleState | null)[] = [];
  for (const k of keys) {
    const r = await env.DB.prepare("SELECT failures, last_failure_at, locked_until FROM auth_throttle WHERE key = ?")
      .bind(k.key)
      .first<{ failures: number; last_failure_at: number; locked_until: number | null }>();
    out.push(r ? { failures: r.failures, lastFailureAt: r.last_failure_at, lockedUntil: r.locked_until } : null);
  }
  return out;
}

describe("throttle SQL = throttle model", () => {
  for (const seed of [1, 2, 3])
    it(`random sequence ${seed}: same verdicts and counters`, async () => {
      const next = rng(seed);
      const tag = `s${seed}-${crypto.randomUUID().slice(0, 6)}`;
      // Two accounts behind two addresses, password and second-factor keys: they overlap on `ip:`.
      const sets = [
        signInKeys(`${tag}-a`, `${tag}-u1`, false),
        signInKeys(`${tag}-a`, `${tag}-u2`, true),
        secondFactorKeys(`${tag}-b`, `${tag}-u1`, false),
        [{ scope: "push_denial", key: `push-deny:${tag}` }] as ThrottleKey[],
      ];
      const model = new Map<string, ThrottleState | null>();
      let now = 1_000_000_000;
      for (let step = 0; step < 120; step++) {
        now += Math.floor(next() * 4) * Math.floor(next() * 40_000);
        const keys = sets[Math.floor(next() * sets.length)]!;
        const before = keys.map((k) => ({ scope: k.scope, state: model.get(k.key) ?? null }));
        if (keys[0]!.scope === "push_denial") {
          const after = await throttleCount(env.DB, keys, now);
          const want = fail("push_denial", before[0]!.state, now);
          model.set(keys[0]!.key, want);
          expect(after.states.get(keys[0]!.key)).toEqual(want);
          continue;
        }
        const got = await throttleReserve(env.DB, keys, now);
        const want = reserve(before, now);
        expect(got.allowed, `step ${step}`).toBe(want.verdict.allowed);
        if (!want.verdict.allowed) {
          expect(got).toMatchObject({ retryAfterMs: want.verdict.retryAfterMs, locked: want.verdict.locked });
          continue;
        }
        for (const [i, k] of keys.entries()) model.set(k.key, want.states[i] ?? null);
        // A third of the allowed attempts succeed.
        if (next() < 0.33) {
          await throttleRelease(env.DB, got);
          for (const k of keys) model.set(k.key, release(k.scope, model.get(k.key) ?? null));
        }
        expect(await stored(keys), `step ${step}`).toEqual(keys.map((k) => model.get(k.key) ?? null));
        expect(await throttleCheck(env.DB, keys, now)).toEqual(
          combine(keys.map((k) => check(k.scope, model.get(k.key) ?? null, now))),
        );
      }
    });

  it("reservations made at once are each counted, and stop at the first delay", async () => {
    const keys = signInKeys(`par-${crypto.randomUUID()}`, "u", false);
    const now = Date.now();
    const all = await Promise.all(Array.from({ length: 40 }, () => throttleReserve(env.DB, keys, now)));
    expect(all.filter((r) => r.allowed)).toHaveLength(RULES.acct_ip.free + 1);
    expect((await stored(keys)).map((s) => s?.failures)).toEqual([4, 4, 4]);
  });
});
