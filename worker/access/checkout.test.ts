// Tests for the checkout state machine: an example per rule, request-validation properties, and a
// fast-check model run (fc.commands) checked after every command against an independent model.
import fc, { type Command } from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyEvent,
  type Checkout,
  type CheckoutError,
  type CheckoutEvent,
  type CheckoutPolicy,
  type CheckoutStatus,
  eligibleApprovers,
  isOpen,
  nextTransitionAt,
  type Person,
  type Result,
  requestCheckout,
} from "./checkout.ts";

const requester: Person = { userId: "u-req", personId: "p-req" };
const requesterAlt: Person = { userId: "u-req-admin", personId: "p-req" }; // the requester's second account
const alice: Person = { userId: "u-alice", personId: "p-alice" };
const aliceAlt: Person = { userId: "u-alice-2", personId: "p-alice" };
const bob: Person = { userId: "u-bob", personId: "p-bob" };
const carol: Person = { userId: "u-carol", personId: "p-carol" };
const dave: Person = { userId: "u-dave", personId: "p-dave" }; // never in an approver group
const group = [alice, aliceAlt, bob, carol]; // four accounts, three persons
const people = [requester, requesterAlt, ...group, dave];

const T0 = 1_700_000_000_000; // ms since the epoch
const MIN_MS = 60_000;
const min = (n: number) => T0 + n * MIN_MS; // n minutes after T0
const policy = { approvalRequired: true, quorum: 1, pendingTtlMs: 30 * MIN_MS, maxCheckoutMs: 240 * MIN_MS };
const quorum2 = { ...policy, quorum: 2 };
const TERMINAL: CheckoutStatus[] = ["denied", "withdrawn", "expired", "checked_in", "revoked"];

function ok(r: Result): Checkout {
  if (!r.ok) throw new Error(`expected ok, got ${r.error}`);
  return r.checkout;
}
const err = (r: Result): CheckoutError | "ok" => (r.ok ? "ok" : r.error);
const apply = (c: Checkout, ev: CheckoutEvent, p = policy) => applyEvent(c, ev, p);

type Window = { startsAt?: number; endsAt?: number; approvers?: Person[] };
/** A request made at T0 for [T0 + 10 min, T0 + 70 min) unless overridden. */
function request(p: Partial<CheckoutPolicy> = {}, w: Window = {}) {
  const { startsAt = min(10), endsAt = min(70), approvers = group } = w;
  return requestCheckout({ id: "c1", requester, startsAt, endsAt, at: T0, policy: { ...policy, ...p }, approvers });
}
type Decide = Extract<CheckoutEvent, { type: "approve" | "deny" }>;
const approve = (by: Person, at: number, approvers = group): Decide => ({ type: "approve", by, approvers, at });
const deny = (by: Person, at: number): Decide => ({ type: "deny", by, approvers: group, at, comment: "no" });
const withdraw = (by: Person, at: number): CheckoutEvent => ({ type: "withdraw", by, at });
const checkIn = (by: Person, at: number): CheckoutEvent => ({ type: "check_in", by, at });
const revoke = (at: number): CheckoutEvent => ({ type: "revoke", by: dave, at, reason: "incident 42" });
const tick = (at: number): CheckoutEvent => ({ type: "tick", at });
const active = () => ok(request({ approvalRequired: false }, { startsAt: T0 }));

describe("requesting a checkout", () => {
  it("refuses empty, inverted, past and too-long windows", () => {
    expect(err(request({}, { endsAt: min(10) }))).toBe("invalid_window");
    expect(err(request({}, { startsAt: min(-20), endsAt: T0 }))).toBe("invalid_window");
    expect(err(request({}, { startsAt: T0, endsAt: min(240) + 1 }))).toBe("window_too_long");
    expect(err(request({}, { startsAt: T0, endsAt: min(240) }))).toBe("ok");
  });
  it("refuses when too few other persons could approve", () => {
    expect(err(request({}, { approvers: [requester] }))).toBe("no_eligible_approver"); // the only member
    expect(err(request({}, { approvers: [requester, requesterAlt] }))).toBe("no_eligible_approver");
    expect(err(request({ quorum: 2 }, { approvers: [requester, alice, aliceAlt] }))).toBe("no_eligible_approver");
    expect(err(request({ quorum: 2 }, { approvers: [requester, alice, bob] }))).toBe("ok");
    expect(eligibleApprovers(requester, [requester, alice, requesterAlt, bob])).toEqual([alice, bob]);
  });
  it("starts pending, approved, or already active", () => {
    expect(ok(request()).status).toBe("pending_approval");
    expect(ok(request({ approvalRequired: false }, { approvers: [] })).status).toBe("approved");
    expect(ok(request({ approvalRequired: false }, { startsAt: T0 })).status).toBe("active");
    expect(ok(request({ approvalRequired: false }, { startsAt: min(-1) })).status).toBe("active");
  });
});

describe("approving and denying", () => {
  it("refuses self-approval (same account or a second account of the same person) and non-members", () => {
    const withSelf = [requester, requesterAlt, alice];
    const c = ok(request({}, { approvers: withSelf }));
    expect(err(apply(c, approve(requester, min(1), withSelf)))).toBe("self_approval");
    expect(err(apply(c, approve(requesterAlt, min(1), withSelf)))).toBe("self_approval");
    expect(err(apply(c, { ...deny(requesterAlt, min(1)), approvers: withSelf }))).toBe("self_approval");
    expect(err(apply(c, approve(dave, min(1))))).toBe("not_an_approver");
    expect(err(apply(c, approve(alice, min(1), [bob])))).toBe("not_an_approver"); // no longer in the group
  });
  it("approves on one approval for 1 of N, and activates at once if startsAt has passed", () => {
    const c = ok(apply(ok(request()), { ...approve(bob, min(1)), comment: "ok" }));
    expect(c.status).toBe("approved");
    expect(c.approvals).toEqual([{ by: bob, at: min(1), comment: "ok" }]);
    expect(ok(apply(ok(request()), approve(bob, min(10)))).status).toBe("active");
  });
  it("needs two distinct persons for 2 of 3; a person's second account does not count twice", () => {
    const one = ok(apply(ok(request({ quorum: 2 })), approve(alice, min(1)), quorum2));
    expect(one.status).toBe("pending_approval");
    expect(err(apply(one, approve(aliceAlt, min(2)), quorum2))).toBe("already_decided");
    expect(err(apply(one, approve(alice, min(2)), quorum2))).toBe("already_decided");
    expect(err(apply(one, deny(alice, min(2)), quorum2))).toBe("already_decided");
    expect(ok(apply(one, approve(carol, min(3)), quorum2)).status).toBe("approved");
  });
  it("ends denied on any one denial, recording who and when", () => {
    const c = ok(apply(ok(request({ quorum: 2 })), deny(bob, min(5)), quorum2));
    expect(c).toMatchObject({ status: "denied", endedAt: min(5), endedBy: bob });
    expect(c.denial).toEqual({ by: bob, at: min(5), comment: "no" });
  });
  it("refuses decisions on denied, withdrawn and approved checkouts", () => {
    expect(err(apply(ok(apply(ok(request()), deny(bob, min(1)))), approve(alice, min(2))))).toBe("not_pending");
    expect(err(apply(ok(apply(ok(request()), withdraw(requester, min(1)))), approve(bob, min(2))))).toBe("not_pending");
    expect(err(apply(ok(apply(ok(request()), approve(bob, min(1)))), approve(carol, min(2))))).toBe("not_pending");
  });
  it("refuses decisions once the request has expired (TTL or window end), leaving expiry to the tick", () => {
    expect(err(apply(ok(request()), approve(bob, min(30))))).toBe("expired");
    expect(err(apply(ok(request()), deny(bob, min(30))))).toBe("expired");
    const short = ok(request({}, { startsAt: T0, endsAt: min(5) }));
    expect(err(apply(short, approve(bob, min(5))))).toBe("expired");
    expect(ok(apply(short, approve(bob, min(5) - 1))).status).toBe("active");
  });
});

describe("ending a checkout", () => {
  it("lets only the requester's own account withdraw, and only while pending and in time", () => {
    const c = ok(request());
    expect(err(apply(c, withdraw(requesterAlt, min(1))))).toBe("not_requester");
    expect(err(apply(c, withdraw(requester, min(30))))).toBe("expired");
    expect(err(apply(active(), withdraw(requester, min(1))))).toBe("not_pending");
    expect(ok(apply(c, withdraw(requester, min(1))))).toMatchObject({ status: "withdrawn", endedBy: requester });
  });
  it("lets only the requester check in, only while approved or active and before endsAt", () => {
    expect(err(apply(ok(request()), checkIn(requester, min(1))))).toBe("not_open");
    expect(err(apply(active(), checkIn(bob, min(1))))).toBe("not_requester");
    expect(err(apply(active(), checkIn(requester, min(70))))).toBe("expired");
    expect(ok(apply(ok(request({ approvalRequired: false })), checkIn(requester, min(1)))).status).toBe("checked_in");
    const done = ok(apply(active(), checkIn(requester, min(9))));
    expect(done).toMatchObject({ status: "checked_in", endedAt: min(9), endedBy: requester });
    expect(err(apply(done, checkIn(requester, min(10))))).toBe("not_open");
  });
  it("revokes pending, approved and active checkouts with a reason, never terminal or lapsed ones", () => {
    for (const c of [ok(request()), ok(request({ approvalRequired: false })), active()]) {
      const r = ok(apply(c, revoke(min(3))));
      expect(r).toMatchObject({ status: "revoked", endedAt: min(3), endedBy: dave, revokeReason: "incident 42" });
      expect(err(apply(r, revoke(min(4))))).toBe("not_open");
    }
    expect(err(apply(active(), revoke(min(70))))).toBe("expired");
  });
});

describe("ticks", () => {
  it("expire a pending request at its TTL or its window end, whichever is first, however late the tick", () => {
    expect(nextTransitionAt(ok(request()), policy)).toBe(min(30));
    expect(apply(ok(request()), tick(min(30) - 1))).toMatchObject({ changed: false });
    expect(ok(apply(ok(request()), tick(min(99))))).toMatchObject({ status: "expired", endedAt: min(30) });
    const short = ok(request({}, { startsAt: T0, endsAt: min(5) }));
    expect(ok(apply(short, tick(min(6)))).endedAt).toBe(min(5));
  });
  it("activate at startsAt and expire at endsAt; a jump past both ends expired", () => {
    const c = ok(request({ approvalRequired: false }));
    expect(nextTransitionAt(c, policy)).toBe(min(10));
    const a = ok(apply(c, tick(min(10))));
    expect([a.status, nextTransitionAt(a, policy)]).toEqual(["active", min(70)]);
    const ended = ok(apply(a, tick(min(70))));
    expect([ended.status, ended.endedAt, ended.endedBy]).toEqual(["expired", min(70), undefined]);
    expect(ok(apply(c, tick(min(80))))).toMatchObject({ status: "expired", endedAt: min(70) });
  });
  it("never change a terminal checkout", () => {
    const gone = ok(apply(ok(request()), deny(bob, min(1))));
    expect(apply(gone, tick(min(999)))).toEqual({ ok: true, checkout: gone, changed: false });
    expect(nextTransitionAt(gone, policy)).toBeNull();
  });
  it("take an event stamped before the last recorded time as happening at that time", () => {
    const one = ok(apply(ok(request({ quorum: 2 })), approve(alice, min(20)), quorum2));
    const two = ok(apply(one, approve(bob, min(5)), quorum2)); // bob's clock is behind
    expect([two.status, two.approvals[1]?.at]).toEqual(["active", min(20)]); // startsAt had passed by then
    expect(apply(two, tick(T0), quorum2)).toMatchObject({ changed: false });
  });
});

// Request validation: the result agrees with the rules as the brief states them, for any input.
const offsets = fc.integer({ min: -20_000, max: 40_000 }); // ms from T0
const policies = fc.record({
  approvalRequired: fc.boolean(),
  quorum: fc.integer({ min: 1, max: 3 }),
  pendingTtlMs: fc.integer({ min: 1, max: 20_000 }),
  maxCheckoutMs: fc.integer({ min: 1_000, max: 40_000 }),
});
const groups = fc.subarray([requester, requesterAlt, ...group]);
type Req = { startsAt: number; endsAt: number; policy: CheckoutPolicy; approvers: Person[] };
const requestsWith = (length: fc.Arbitrary<number>) =>
  fc
    .record({ start: offsets, length, policy: policies, approvers: groups })
    .map(({ start, length, ...r }): Req => ({ ...r, startsAt: T0 + start, endsAt: T0 + start + length }));
const requests = requestsWith(offsets); // about half are refused

function expectedRequest(r: Req): CheckoutError | CheckoutStatus {
  if (r.endsAt <= r.startsAt || r.endsAt <= T0) return "invalid_window";
  if (r.endsAt - r.startsAt > r.policy.maxCheckoutMs) return "window_too_long";
  const others = new Set(r.approvers.map((a) => a.personId).filter((p) => p !== requester.personId));
  if (r.policy.approvalRequired) return others.size < r.policy.quorum ? "no_eligible_approver" : "pending_approval";
  return r.startsAt <= T0 ? "active" : "approved";
}

describe("request validation properties", () => {
  it("accepts exactly the valid requests, in the documented status and shape", () => {
    fc.assert(
      fc.property(requests, (r) => {
        const got = requestCheckout({ id: "c", requester, at: T0, ...r });
        expect(got.ok ? got.checkout.status : got.error).toBe(expectedRequest(r));
        if (!got.ok) return;
        const { startsAt, endsAt, policy: p } = r;
        const { status } = got.checkout;
        expect(got.checkout).toEqual({ id: "c", requester, status, requestedAt: T0, startsAt, endsAt, approvals: [] });
        expect(nextTransitionAt(got.checkout, p)).toBeGreaterThan(T0); // nothing is already due
      }),
      { numRuns: 2_000 },
    );
  });
});

// Model-based run. The model keeps only status, the approving persons and the clock, and re-derives each
// rule from the brief; every command applies one event to model and machine and compares them.
type Model = { s: Req; now: number; clock: number; status: CheckoutStatus; approving: Set<string> };
type Real = { c: Checkout };
type Kind = CheckoutEvent["type"] | "wait"; // wait: time passes with no tick, so acts can arrive late
const seen = { statuses: new Set<string>(), errors: new Set<string>(), events: 0 };

function modelStep(m: Model, ev: CheckoutEvent): CheckoutError | undefined {
  const { policy, startsAt, endsAt } = m.s;
  const t = Math.max(ev.at, m.clock);
  const pending = m.status === "pending_approval";
  const open = m.status === "approved" || m.status === "active";
  const lapse = pending ? Math.min(T0 + policy.pendingTtlMs, endsAt) : endsAt;
  if (ev.type === "tick") {
    if (!pending && !open) return;
    if (t >= lapse) [m.status, m.clock] = ["expired", Math.max(m.clock, lapse)];
    else if (m.status === "approved" && t >= startsAt) [m.status, m.clock] = ["active", Math.max(m.clock, startsAt)];
    return;
  }
  if (ev.type === "approve" || ev.type === "deny") {
    if (!pending) return "not_pending";
    if (ev.by.personId === requester.personId) return "self_approval";
    if (!m.s.approvers.some((a) => a.userId === ev.by.userId)) return "not_an_approver";
    if (m.approving.has(ev.by.personId)) return "already_decided";
    if (t >= lapse) return "expired";
    m.clock = t;
    if (ev.type === "deny") m.status = "denied";
    else if (m.approving.add(ev.by.personId).size >= policy.quorum) m.status = t >= startsAt ? "active" : "approved";
    return;
  }
  if (ev.type === "withdraw" ? !pending : ev.type === "check_in" ? !open : !pending && !open) {
    return ev.type === "withdraw" ? "not_pending" : "not_open";
  }
  if (ev.type !== "revoke" && ev.by.userId !== requester.userId) return "not_requester";
  if (t >= lapse) return "expired";
  [m.status, m.clock] = [ev.type === "revoke" ? "revoked" : ev.type === "withdraw" ? "withdrawn" : "checked_in", t];
}

/** The latest time recorded on a checkout, read from its fields; the model tracks its clock on its own. */
function recordedAt(c: Checkout): number {
  const times = [c.requestedAt, c.denial?.at ?? 0, c.endedAt ?? 0, ...c.approvals.map((d) => d.at)];
  return Math.max(...times, c.status === "active" ? c.startsAt : 0);
}

/** Invariants after an accepted event applied at effective time t. */
function checkInvariants(before: Checkout, after: Checkout, changed: boolean, t: number, s: Req) {
  if (TERMINAL.includes(before.status)) expect([after, changed]).toEqual([before, false]);
  const persons = after.approvals.map((d) => d.by.personId);
  expect(new Set(persons).size).toBe(persons.length); // one approval per person
  expect(persons).not.toContain(requester.personId);
  if (isOpen(after) && s.policy.approvalRequired) expect(persons.length).toBeGreaterThanOrEqual(s.policy.quorum);
  if (!s.policy.approvalRequired) expect(persons).toEqual([]);
  if (after.status === "active") expect(after.startsAt <= t && t < after.endsAt).toBe(true);
  const terminal = TERMINAL.includes(after.status);
  expect(after.endedAt !== undefined).toBe(terminal);
  expect(after.endedBy !== undefined).toBe(terminal && after.status !== "expired");
  expect(after.denial !== undefined).toBe(after.status === "denied");
  expect(after.revokeReason !== undefined).toBe(after.status === "revoked");
  // The scheduler's contract: the state is current at t, and a tick at nextTransitionAt (not before) changes it.
  const next = nextTransitionAt(after, s.policy);
  expect(next === null).toBe(terminal);
  if (next === null) return;
  expect(next).toBeGreaterThan(t);
  expect(apply(after, tick(next - 1), s.policy)).toMatchObject({ changed: false });
  expect(apply(after, tick(next), s.policy)).toMatchObject({ changed: true });
}

/** dt: for tick/wait how far time moves (ms); for an act how far its stamp lags behind now (a skewed clock). */
function runCommand(m: Model, real: Real, kind: Kind, by: Person, dt: number): void {
  if (kind === "wait" || kind === "tick") m.now += dt;
  if (kind === "wait") return;
  const at = kind === "tick" ? m.now : m.now - dt;
  const ev: CheckoutEvent =
    kind === "tick" ? tick(at) : kind === "revoke" ? revoke(at) : { type: kind, by, at, approvers: m.s.approvers };
  const before = real.c;
  const snapshot = structuredClone(before);
  const [statusBefore, t] = [m.status, Math.max(at, recordedAt(before))];
  const got = apply(before, ev, m.s.policy);
  const want = modelStep(m, ev);
  seen.events++;
  expect(before).toEqual(snapshot); // pure: the input is never mutated
  expect(err(got)).toBe(want ?? "ok");
  if (!got.ok || want) return void seen.errors.add(want ?? "");
  expect(got.changed).toBe(ev.type !== "tick" || m.status !== statusBefore);
  real.c = got.checkout;
  seen.statuses.add(m.status);
  expect(real.c.status).toBe(m.status);
  expect(new Set(real.c.approvals.map((d) => d.by.personId))).toEqual(m.approving);
  expect(recordedAt(real.c)).toBe(m.clock);
  if (real.c.endedAt !== undefined) expect(real.c.endedAt).toBe(m.clock); // the end is the latest time recorded
  checkInvariants(before, real.c, got.changed, t, m.s);
}

// check() is always true: refused acts are part of the test, and model and machine must refuse them alike.
const send = (kind: Kind, who: fc.Arbitrary<Person>, dt: fc.Arbitrary<number>) =>
  fc.tuple(who, dt).map(
    ([by, d]): Command<Model, Real> => ({
      check: () => true,
      run: (m, real) => runCommand(m, real, kind, by, d),
      toString: () => `${kind}(${by.userId}, ${d})`,
    }),
  );
const anyone = fc.constantFrom(...people);
const requesterOrNot = fc.constantFrom(requester, requesterAlt, bob);
const lag = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(3_000) }); // ms
const step = fc.nat(6_000); // ms
// Approvals thrice as likely as other acts, so quorums of 2 and 3 are reached before the TTL.
const commandArbs = [
  ...(["approve", "approve", "approve", "deny", "revoke"] as const).map((k) => send(k, anyone, lag)),
  ...(["withdraw", "check_in"] as const).map((k) => send(k, requesterOrNot, lag)),
  ...(["tick", "tick", "wait"] as const).map((k) => send(k, anyone, step)),
];
const checkouts = requestsWith(fc.integer({ min: 1, max: 30_000 })); // mostly valid windows
const scripts = fc.commands(commandArbs, { maxCommands: 40, size: "max" });
const ACT_ERRORS = "already_decided expired not_an_approver not_open not_pending not_requester self_approval";

describe("model-based run", () => {
  it("matches the model and keeps the invariants over random command sequences", () => {
    let runs = 0;
    fc.assert(
      fc.property(checkouts, scripts, (s, cmds) => {
        const got = requestCheckout({ id: "c", requester, at: T0, ...s });
        expect(got.ok ? got.checkout.status : got.error).toBe(expectedRequest(s));
        fc.pre(got.ok); // refused requests are the properties' business: every counted run drives a checkout
        if (!got.ok) return;
        runs++;
        seen.statuses.add(got.checkout.status);
        const model: Model = { s, now: T0, clock: T0, status: got.checkout.status, approving: new Set() };
        fc.modelRun(() => ({ model, real: { c: got.checkout } }), cmds);
      }),
      { numRuns: 1_000 },
    );
    expect(runs).toBeGreaterThanOrEqual(1_000);
    expect(seen.events).toBeGreaterThan(10_000);
    // The generators must reach every state and every refusal, or the run above proves little.
    expect([...seen.statuses].sort()).toEqual([...TERMINAL, "pending_approval", "approved", "active"].sort());
    expect([...seen.errors].sort().join(" ")).toBe(ACT_ERRORS);
  });
});
