// Every rule of the extension decisions: off, too long, limit, one pending at a time, ended sessions,
// pre-approved versus approvers, self-approval by person, and lapsing.
import { describe, expect, it } from "vitest";
import { decideExtension, type ExtensionPolicy, requestExtension, type SessionTime } from "./extension.ts";

const alice = { userId: "u-alice", personId: "p-alice" };
const aliceAdmin = { userId: "u-alice-admin", personId: "p-alice" };
const bob = { userId: "u-bob", personId: "p-bob" };
const open: ExtensionPolicy = { extensionMinutes: 60, maxExtensions: 2, extensionApprovalRequired: false };
const guarded: ExtensionPolicy = { ...open, extensionApprovalRequired: true };
const live: SessionTime = { deadline: 10 * 60_000, ended: false, granted: 0, pending: false };
const ask = (minutes = 30, at = 0, approvers = [bob, aliceAdmin]) => ({ minutes, at, requester: alice, approvers });

describe("requestExtension", () => {
  it("grants at once when policy pre-approves, adding to the current deadline", () => {
    expect(requestExtension(open, live, ask(30))).toEqual({ ok: true, status: "granted", deadline: 40 * 60_000 });
  });
  it("sends the request to approvers when policy says so", () => {
    expect(requestExtension(guarded, live, ask())).toEqual({ ok: true, status: "pending" });
  });
  it("refuses when extensions are off, too long, over the limit, or one is already pending", () => {
    expect(requestExtension({ ...open, extensionMinutes: null }, live, ask())).toMatchObject({
      error: "extensions_off",
    });
    expect(requestExtension({ ...open, maxExtensions: 0 }, live, ask())).toMatchObject({ error: "extensions_off" });
    expect(requestExtension(open, live, ask(61))).toMatchObject({ error: "too_long" });
    expect(requestExtension(open, live, ask(0))).toMatchObject({ error: "too_long" });
    expect(requestExtension(open, live, ask(Number.NaN))).toMatchObject({ error: "too_long" });
    expect(requestExtension(open, { ...live, granted: 2 }, ask())).toMatchObject({ error: "limit_reached" });
    expect(requestExtension(guarded, { ...live, pending: true }, ask())).toMatchObject({ error: "already_pending" });
  });
  it("refuses for an ended or overdue session", () => {
    expect(requestExtension(open, { ...live, ended: true }, ask())).toMatchObject({ error: "session_ended" });
    expect(requestExtension(open, live, ask(30, live.deadline))).toMatchObject({ error: "session_ended" });
  });
  it("refuses to queue a request only the requester's own accounts could approve", () => {
    expect(requestExtension(guarded, live, ask(30, 0, [aliceAdmin]))).toMatchObject({ error: "no_eligible_approver" });
  });
});

describe("decideExtension", () => {
  const pending = { status: "pending", minutes: 20, requester: alice };
  const by = (who = bob, approve = true, at = 0) => ({ approve, by: who, approvers: [bob, aliceAdmin], at });
  it("an approver's yes moves the deadline, a no does not", () => {
    expect(decideExtension(pending, live, by())).toEqual({ ok: true, status: "granted", deadline: 30 * 60_000 });
    expect(decideExtension(pending, live, by(bob, false))).toEqual({ ok: true, status: "denied" });
  });
  it("refuses self-approval by person, non-approvers and decided requests", () => {
    expect(decideExtension(pending, live, by(aliceAdmin))).toMatchObject({ error: "self_approval" });
    expect(decideExtension(pending, live, { ...by(), approvers: [] })).toMatchObject({ error: "not_an_approver" });
    expect(decideExtension({ ...pending, status: "granted" }, live, by())).toMatchObject({ error: "not_pending" });
  });
  it("lapses when the session ended before the decision", () => {
    expect(decideExtension(pending, { ...live, ended: true }, by())).toEqual({ ok: true, status: "lapsed" });
    expect(decideExtension(pending, live, by(bob, true, live.deadline))).toEqual({ ok: true, status: "lapsed" });
  });
});
