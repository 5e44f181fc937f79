// The checkout lifecycle as a pure state machine: request, approve/deny, activate, end, expire.
// No I/O and no clock: every time (ms since the epoch) arrives in the input, so D1/HTTP glue and the scheduler drive it.

export type CheckoutStatus =
  | "pending_approval"
  | "approved"
  | "active"
  | "denied"
  | "withdrawn"
  | "expired"
  | "checked_in"
  | "revoked";

/** A user account and the person behind it: two accounts of one person share personId. */
export type Person = { userId: string; personId: string };

export type CheckoutPolicy = {
  approvalRequired: boolean;
  /** approvals needed: 1 = any one approver (1 of N); k = k of M */
  quorum: number;
  pendingTtlMs: number;
  maxCheckoutMs: number;
};

export type Decision = { by: Person; at: number; comment: string };

export type Checkout = {
  id: string;
  requester: Person;
  status: CheckoutStatus;
  requestedAt: number;
  startsAt: number;
  endsAt: number;
  approvals: Decision[];
  denial?: Decision;
  /** Set exactly when the status is terminal; for `expired` it is the moment it lapsed, not when a tick noticed. */
  endedAt?: number;
  /** Who ended it: set for denied, withdrawn, checked_in and revoked; never for expired. */
  endedBy?: Person;
  revokeReason?: string;
};

export type CheckoutEvent =
  /** approvers = current members of the policy's approver group */
  | { type: "approve"; by: Person; approvers: Person[]; at: number; comment?: string }
  | { type: "deny"; by: Person; approvers: Person[]; at: number; comment?: string }
  | { type: "withdraw"; by: Person; at: number }
  | { type: "check_in"; by: Person; at: number }
  | { type: "revoke"; by: Person; at: number; reason: string }
  /** time passes: activation and expiry */
  | { type: "tick"; at: number };

export type CheckoutError =
  | "invalid_window"
  | "window_too_long"
  | "no_eligible_approver"
  | "self_approval"
  | "not_an_approver"
  | "already_decided"
  | "not_pending"
  | "not_requester"
  | "not_open"
  | "expired";

export type Result = { ok: true; checkout: Checkout; changed: boolean } | { ok: false; error: CheckoutError };

const TERMINAL: ReadonlySet<CheckoutStatus> = new Set(["denied", "withdrawn", "expired", "checked_in", "revoked"]);

/** Approved or active: the requester holds (or is about to hold) the credential. */
export function isOpen(c: Checkout): boolean {
  return c.status === "approved" || c.status === "active";
}

/** A checkout's hold on its credential: the window and whether it wants the credential to itself. */
export type Hold = {
  id: string;
  credentialId: string;
  status: CheckoutStatus;
  startsAt: number;
  endsAt: number;
  exclusive: boolean;
};

/**
 * Whether two holds cannot both stand: another open checkout of the same credential whose half-open window
 * [startsAt, endsAt) overlaps, where either side is exclusive. The one rule for a new checkout, an approval
 * and an extension; the D1 guard `noExclusiveOverlap` (checkout-store.ts) is this predicate in SQL.
 * `candidate` is the hold about to open (or grow), so only `other`'s status counts.
 */
export function exclusiveConflict(candidate: Omit<Hold, "status">, other: Hold): boolean {
  return (
    other.credentialId === candidate.credentialId &&
    other.id !== candidate.id &&
    (other.status === "approved" || other.status === "active") &&
    other.startsAt < candidate.endsAt &&
    other.endsAt > candidate.startsAt &&
    (other.exclusive || candidate.exclusive)
  );
}

/** Members of the approver group who are not the requester's person (any of their accounts). */
export function eligibleApprovers(requester: Person, approvers: Person[]): Person[] {
  return approvers.filter((a) => a.personId !== requester.personId);
}

export function requestCheckout(input: {
  id: string;
  requester: Person;
  startsAt: number;
  endsAt: number;
  at: number;
  policy: CheckoutPolicy;
  approvers: Person[];
}): Result {
  const { id, requester, startsAt, endsAt, at, policy, approvers } = input;
  // Written as negated comparisons so NaN times are refused too.
  if (!(endsAt > startsAt && endsAt > at)) return fail("invalid_window");
  if (!(endsAt - startsAt <= policy.maxCheckoutMs)) return fail("window_too_long");
  // Refuse up front a request that could only ever sit pending until its TTL: two accounts of one person count once.
  if (policy.approvalRequired && distinctPersons(eligibleApprovers(requester, approvers)) < requiredApprovals(policy)) {
    return fail("no_eligible_approver");
  }
  const status: CheckoutStatus = policy.approvalRequired ? "pending_approval" : startsAt <= at ? "active" : "approved";
  return changed({ id, requester, status, requestedAt: at, startsAt, endsAt, approvals: [] });
}

/**
 * Applies one event. Errors leave the checkout as it was (the caller keeps its copy).
 *
 * Clock skew: time never runs backwards on one checkout. An event stamped before the latest time already
 * recorded on it is taken as happening at that recorded time, so recorded times only grow and a late
 * event cannot, say, end a checkout before it was approved.
 *
 * Checks run in a fixed order: status, then who is acting, then whether the act comes too late.
 * A late act (`expired`) changes nothing: the scheduler's tick is what records the expiry.
 */
export function applyEvent(checkout: Checkout, event: CheckoutEvent, policy: CheckoutPolicy): Result {
  const at = Math.max(event.at, recordedAt(checkout));
  switch (event.type) {
    case "tick": {
      const next = settle(checkout, at, policy);
      return { ok: true, checkout: next, changed: next !== checkout };
    }
    case "approve":
    case "deny":
      return decide(checkout, event, at, policy);
    case "withdraw":
      if (checkout.status !== "pending_approval") return fail("not_pending");
      if (event.by.userId !== checkout.requester.userId) return fail("not_requester");
      if (lapsed(checkout, at, policy)) return fail("expired");
      return changed({ ...checkout, status: "withdrawn", endedAt: at, endedBy: event.by });
    case "check_in":
      if (!isOpen(checkout)) return fail("not_open");
      if (event.by.userId !== checkout.requester.userId) return fail("not_requester");
      if (lapsed(checkout, at, policy)) return fail("expired");
      return changed({ ...checkout, status: "checked_in", endedAt: at, endedBy: event.by });
    case "revoke":
      // Pending requests can be revoked too: an admin can stop a bad request without waiting for the
      // approvers or the TTL, and the record says "revoked by an admin", not "denied by an approver".
      // Who may revoke is decided outside; this core records it.
      if (TERMINAL.has(checkout.status)) return fail("not_open");
      if (lapsed(checkout, at, policy)) return fail("expired");
      return changed({ ...checkout, status: "revoked", endedAt: at, endedBy: event.by, revokeReason: event.reason });
    default:
      return unreachable(event);
  }
}

/** When a tick would next change the checkout (ms), for the scheduler; null once it is terminal. */
export function nextTransitionAt(c: Checkout, policy: CheckoutPolicy): number | null {
  if (c.status === "approved") return Math.min(c.startsAt, c.endsAt);
  return lapsesAt(c, policy);
}

function decide(
  c: Checkout,
  event: Extract<CheckoutEvent, { type: "approve" | "deny" }>,
  at: number,
  policy: CheckoutPolicy,
): Result {
  const { by } = event;
  if (c.status !== "pending_approval") return fail("not_pending");
  // By person, not account: a second account of the requester must not approve its own request.
  if (by.personId === c.requester.personId) return fail("self_approval");
  if (!event.approvers.some((a) => a.userId === by.userId)) return fail("not_an_approver");
  // One decision per person: approving twice (from any account) or denying after approving is refused.
  if (c.approvals.some((d) => d.by.personId === by.personId)) return fail("already_decided");
  if (lapsed(c, at, policy)) return fail("expired");
  const decision: Decision = { by, at, comment: event.comment ?? "" };
  if (event.type === "deny") return changed({ ...c, status: "denied", denial: decision, endedAt: at, endedBy: by });
  const approvals = [...c.approvals, decision];
  if (distinctPersons(approvals.map((d) => d.by)) < requiredApprovals(policy)) return changed({ ...c, approvals });
  // Quorum reached, possibly after startsAt: settle straight into the state this time implies (maybe active).
  return changed(settle({ ...c, approvals, status: "approved" }, at, policy));
}

/** The checkout as of time `at`: activation and expiry. Returns the same object when nothing is due. */
function settle(c: Checkout, at: number, policy: CheckoutPolicy): Checkout {
  const lapse = lapsesAt(c, policy);
  if (lapse === null) return c;
  // Expiry is checked first, so a tick that jumps past both startsAt and endsAt ends expired.
  // endedAt is the lapse time (a late scheduler does not stretch the record), kept monotone with the clock.
  if (at >= lapse) return { ...c, status: "expired", endedAt: Math.max(lapse, recordedAt(c)) };
  if (c.status === "approved" && at >= c.startsAt) return { ...c, status: "active" };
  return c;
}

/** When the current non-terminal state runs out: pending at its TTL or window end, open at window end. */
function lapsesAt(c: Checkout, policy: CheckoutPolicy): number | null {
  if (c.status === "pending_approval") return Math.min(c.requestedAt + policy.pendingTtlMs, c.endsAt);
  if (isOpen(c)) return c.endsAt;
  return null;
}

function lapsed(c: Checkout, at: number, policy: CheckoutPolicy): boolean {
  const lapse = lapsesAt(c, policy);
  return lapse !== null && at >= lapse;
}

/** The latest time recorded on the checkout; an active checkout has at least reached startsAt. */
function recordedAt(c: Checkout): number {
  let t = c.requestedAt;
  for (const d of c.approvals) t = Math.max(t, d.at);
  if (c.denial) t = Math.max(t, c.denial.at);
  if (c.endedAt !== undefined) t = Math.max(t, c.endedAt);
  if (c.status === "active") t = Math.max(t, c.startsAt);
  return t;
}

/** A policy that requires approval needs at least one, whatever quorum says. */
function requiredApprovals(policy: CheckoutPolicy): number {
  return Math.max(1, policy.quorum);
}

function distinctPersons(people: Person[]): number {
  return new Set(people.map((p) => p.personId)).size;
}

function changed(checkout: Checkout): Result {
  return { ok: true, checkout, changed: true };
}

function fail(error: CheckoutError): Result {
  return { ok: false, error };
}

function unreachable(event: never): never {
  throw new Error(`unknown checkout event ${JSON.stringify(event)}`);
}
