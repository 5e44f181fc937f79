// Races on one exclusive credential, ordered by fast-check's scheduler: concurrent checkout requests and
// session extensions never leave two open checkouts with overlapping windows (the attack: extend an exclusive
// checkout into another user's approved exclusive window, or slip a request in while an extension lands).
// The pure model shows why the check must sit in the write itself; the workerd part runs the real routes on D1.
import { env } from "cloudflare:test";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type CheckoutPolicy, exclusiveConflict, type Hold, requestCheckout } from "../../worker/access/checkout.ts";
import { api, login, seedSite, seedUser } from "../../worker/test/harness.ts";

const MIN = 60_000;

/** Every pair of open holds that cannot both stand (by the one predicate the product uses). */
function conflicts(holds: Hold[]): [string, string][] {
  const out: [string, string][] = [];
  for (const a of holds) for (const b of holds) if (a.id < b.id && exclusiveConflict(a, b)) out.push([a.id, b.id]);
  return out;
}

// ---- the pure model: the state machine decides, a store commits ---------------------------------

type Op = { kind: "request"; who: string; start: number; minutes: number } | { kind: "extend"; minutes: number };

const POLICY: CheckoutPolicy = { approvalRequired: false, quorum: 1, pendingTtlMs: 60 * MIN, maxCheckoutMs: 600 * MIN };

/**
 * Runs the ops concurrently against an in-memory store. Each op reads, yields to the scheduler, then writes.
 * `atomic`: the overlap check runs with the write (as the product's conditional INSERT/UPDATE does);
 * otherwise it runs on what was read before yielding (the bug a separate SELECT-then-write has).
 */
async function runModel(s: fc.Scheduler, ops: Op[], atomic: boolean): Promise<Hold[]> {
  const holds: Hold[] = [
    { id: "a", credentialId: "cred", status: "active", startsAt: 0, endsAt: 30 * MIN, exclusive: true },
  ];
  const admits = (candidate: Hold, seen: Hold[]) => !seen.some((o) => exclusiveConflict(candidate, o));
  await Promise.all(
    ops.map(async (op, i) => {
      const seen = holds.map((h) => ({ ...h }));
      let candidate: Hold;
      if (op.kind === "request") {
        const r = requestCheckout({
          id: `r${i}`,
          requester: { userId: op.who, personId: op.who },
          startsAt: op.start,
          endsAt: op.start + op.minutes * MIN,
          at: 0,
          policy: POLICY,
          approvers: [],
        });
        if (!r.ok) return;
        const c = r.checkout;
        candidate = {
          id: c.id,
          credentialId: "cred",
          status: c.status,
          startsAt: c.startsAt,
          endsAt: c.endsAt,
          exclusive: true,
        };
      } else {
        const a = seen.find((h) => h.id === "a")!;
        candidate = { ...a, endsAt: a.endsAt + op.minutes * MIN };
      }
      await s.schedule(Promise.resolve(), `${op.kind} ${i} writes`);
      if (!admits(candidate, atomic ? holds : seen)) return;
      const at = holds.findIndex((h) => h.id === candidate.id);
      if (at >= 0) holds[at] = { ...holds[at]!, endsAt: Math.max(holds[at]!.endsAt, candidate.endsAt) };
      else holds.push(candidate);
    }),
  );
  return holds;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("request" as const),
    who: fc.constantFrom("b", "c"),
    start: fc.integer({ min: 0, max: 90 }).map((m) => m * MIN),
    minutes: fc.integer({ min: 5, max: 60 }),
  }),
  fc.record({ kind: fc.constant("extend" as const), minutes: fc.integer({ min: 5, max: 90 }) }),
);

describe("checkout races (pure model, scheduled)", () => {
  it("guarantee: with the check in the write, no interleaving of requests and extensions yields overlapping windows", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(opArb, { minLength: 2, maxLength: 6 }), async (s, ops) => {
        const run = runModel(s, ops, true);
        await s.waitAll();
        expect(conflicts(await run)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("the scheduler finds the race a separate check-then-write has (why the product checks in one statement)", async () => {
    const result = await fc.check(
      fc.asyncProperty(fc.scheduler(), fc.array(opArb, { minLength: 2, maxLength: 6 }), async (s, ops) => {
        const run = runModel(s, ops, false);
        await s.waitAll();
        return conflicts(await run).length === 0;
      }),
      { numRuns: 500 },
    );
    expect(result.failed).toBe(true);
  });
});

// ---- the product: the real routes on D1 --------------------------------------------------------------

describe("checkout races (routes on D1, scheduled)", () => {
  const users: Record<"a" | "b" | "c", { id: string; cookie: string }> = {} as never;

  beforeAll(async () => {
    for (const who of ["a", "b", "c"] as const) {
      const name = `race-${who}-${crypto.randomUUID().slice(0, 6)}`;
      const id = await seedUser(name, "race-password-1", ["requester"]);
      users[who] = { id, cookie: await login(name, "race-password-1") };
    }
  }, 30_000);

  /** A's active exclusive checkout with a live session on it (the session row as POST /api/sessions leaves it). */
  async function arena() {
    const site = await seedSite({ exclusive: 1, extension_minutes: 120, max_extensions: 5, max_checkout_minutes: 600 });
    for (const u of Object.values(users)) await site.entitle(u.id);
    const res = await api("/api/checkouts", {
      method: "POST",
      cookie: users.a.cookie,
      body: {
        items: [{ serverId: site.serverId, credentialId: site.credentialId, minutes: 30, justification: "race a" }],
      },
    });
    const a = ((await res.json()) as { results: { checkout: { id: string; endsAt: number; status: string } }[] })
      .results[0]!.checkout;
    expect(a.status).toBe("active");
    const sessionId = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, checkout_id, status, created_at, deadline)
       VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
    )
      .bind(sessionId, users.a.id, site.serverId, site.credentialId, site.siteId, a.id, Date.now(), a.endsAt)
      .run();
    return { site, a, sessionId };
  }

  it("attack: extend an exclusive checkout into another user's approved exclusive window while they ask; guarantee: never two overlapping open windows, and a session never outlives its checkout", async () => {
    const requestArb = fc.record({
      kind: fc.constant("request" as const),
      who: fc.constantFrom("b" as const, "c" as const),
      offsetMinutes: fc.integer({ min: 0, max: 60 }),
      minutes: fc.integer({ min: 5, max: 60 }),
    });
    const extendArb = fc.record({ kind: fc.constant("extend" as const), minutes: fc.integer({ min: 5, max: 90 }) });
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.tuple(extendArb, requestArb, fc.array(fc.oneof(requestArb, extendArb), { maxLength: 2 })),
        async (s, [first, second, rest]) => {
          const { site, a, sessionId } = await arena();
          const ops = [first, second, ...rest];
          const run = (op: (typeof ops)[number]) =>
            op.kind === "extend"
              ? api(`/api/sessions/${sessionId}/extensions`, {
                  method: "POST",
                  cookie: users.a.cookie,
                  body: { minutes: op.minutes, reason: "race" },
                })
              : api("/api/checkouts", {
                  method: "POST",
                  cookie: users[op.who].cookie,
                  body: {
                    items: [
                      {
                        serverId: site.serverId,
                        credentialId: site.credentialId,
                        startsAt: a.endsAt + op.offsetMinutes * MIN,
                        minutes: op.minutes,
                        justification: `race ${op.who}`,
                      },
                    ],
                  },
                });
          // The scheduler decides the order the requests set off in; they then run concurrently in the Worker.
          const done = ops.map((op, i) => s.schedule(Promise.resolve(i), `${op.kind} ${i}`).then(() => run(op)));
          await s.waitAll();
          const answers = await Promise.all(done);
          for (const res of answers) expect([200, 201, 409]).toContain(res.status);

          const { results } = await env.DB.prepare(
            "SELECT id, credential_id, status, starts_at, ends_at, exclusive FROM checkouts WHERE credential_id = ?",
          )
            .bind(site.credentialId)
            .all<{
              id: string;
              credential_id: string;
              status: Hold["status"];
              starts_at: number;
              ends_at: number;
              exclusive: number;
            }>();
          const holds: Hold[] = results.map((r) => ({
            id: r.id,
            credentialId: r.credential_id,
            status: r.status,
            startsAt: r.starts_at,
            endsAt: r.ends_at,
            exclusive: !!r.exclusive,
          }));
          expect(conflicts(holds)).toEqual([]);
          const session = await env.DB.prepare("SELECT deadline FROM sessions WHERE id = ?")
            .bind(sessionId)
            .first<{ deadline: number }>();
          const mine = holds.find((h) => h.id === a.id)!;
          expect(session!.deadline).toBeLessThanOrEqual(mine.endsAt);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});
