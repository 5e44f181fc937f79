// Extensions of a live session's time limit, as pure decisions: whether a request is allowed, granted
// at once or sent to approvers, and whether a decision on a pending one stands. No I/O and no clock.
import type { Person } from "./checkout.ts";

export type ExtensionPolicy = {
  /** The most one extension may add, in minutes; null: extensions are off. */
  extensionMinutes: number | null;
  /** How many extensions one session may be granted. */
  maxExtensions: number;
  extensionApprovalRequired: boolean;
};

export type ExtensionError =
  | "extensions_off"
  | "too_long"
  | "limit_reached"
  | "already_pending"
  | "session_ended"
  | "no_eligible_approver"
  | "self_approval"
  | "not_an_approver"
  | "not_pending";

export type SessionTime = {
  /** The session's current deadline (unix ms). */
  deadline: number;
  ended: boolean;
  /** Extensions granted so far, and whether one is waiting for a decision. */
  granted: number;
  pending: boolean;
};

export type RequestOutcome =
  | { ok: true; status: "granted"; deadline: number }
  | { ok: true; status: "pending" }
  | { ok: false; error: ExtensionError };

/** The deadline after adding `minutes` to the current one. */
export function extendedDeadline(deadline: number, minutes: number): number {
  return deadline + minutes * 60_000;
}

export function requestExtension(
  policy: ExtensionPolicy,
  session: SessionTime,
  input: { minutes: number; at: number; requester: Person; approvers: Person[] },
): RequestOutcome {
  if (session.ended || input.at >= session.deadline) return { ok: false, error: "session_ended" };
  if (policy.extensionMinutes === null || policy.maxExtensions < 1) return { ok: false, error: "extensions_off" };
  if (!(input.minutes >= 1 && input.minutes <= policy.extensionMinutes)) return { ok: false, error: "too_long" };
  if (session.granted >= policy.maxExtensions) return { ok: false, error: "limit_reached" };
  if (session.pending) return { ok: false, error: "already_pending" };
  if (!policy.extensionApprovalRequired)
    return { ok: true, status: "granted", deadline: extendedDeadline(session.deadline, input.minutes) };
  const eligible = input.approvers.filter((a) => a.personId !== input.requester.personId);
  if (eligible.length === 0) return { ok: false, error: "no_eligible_approver" };
  return { ok: true, status: "pending" };
}

export type DecisionOutcome =
  | { ok: true; status: "granted"; deadline: number }
  | { ok: true; status: "denied" }
  /** The session ended before anyone decided: the request lapses. */
  | { ok: true; status: "lapsed" }
  | { ok: false; error: ExtensionError };

export function decideExtension(
  request: { status: string; minutes: number; requester: Person },
  session: SessionTime,
  input: { approve: boolean; by: Person; approvers: Person[]; at: number },
): DecisionOutcome {
  if (request.status !== "pending") return { ok: false, error: "not_pending" };
  // By person, not account: a second account of the requester must not approve its own extension.
  if (input.by.personId === request.requester.personId) return { ok: false, error: "self_approval" };
  if (!input.approvers.some((a) => a.userId === input.by.userId)) return { ok: false, error: "not_an_approver" };
  if (session.ended || input.at >= session.deadline) return { ok: true, status: "lapsed" };
  if (!input.approve) return { ok: true, status: "denied" };
  return { ok: true, status: "granted", deadline: extendedDeadline(session.deadline, request.minutes) };
}
