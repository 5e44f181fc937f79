// How a checkout reads on screen: status badges, approvals so far, policy hints, and the sentences
// for the stable error codes of cart items and checkout actions.
import {
  type CatalogEntry,
  type CheckoutStatus,
  type CheckoutSummary,
  recordingMode,
} from "../../../protocol/index.ts";
import { h } from "../shared/dom.ts";
import { formatMinutes } from "../shared/format.ts";

export type PolicyHint = CatalogEntry["credentials"][number]["policy"];

const STATUS: Record<CheckoutStatus, { label: string; tone: "ok" | "pending" | "info" | "danger" | "muted" }> = {
  pending_approval: { label: "Pending approval", tone: "pending" },
  approved: { label: "Approved", tone: "info" },
  active: { label: "Active", tone: "ok" },
  denied: { label: "Denied", tone: "danger" },
  withdrawn: { label: "Withdrawn", tone: "muted" },
  expired: { label: "Expired", tone: "muted" },
  checked_in: { label: "Checked in", tone: "muted" },
  revoked: { label: "Revoked", tone: "danger" },
};

export function statusLabel(status: CheckoutStatus): string {
  return STATUS[status].label;
}

export function statusBadge(status: CheckoutStatus): HTMLSpanElement {
  return h("span", { class: `pill ${STATUS[status].tone}`, "data-status-badge": status }, STATUS[status].label);
}

/** "1 of 2 approvals", "No approval needed". */
export function approvalsText(c: CheckoutSummary): string {
  if (!c.approvalRequired) return "No approval needed";
  return `${Math.min(c.approvals.length, c.quorum)} of ${c.quorum} approval${c.quorum === 1 ? "" : "s"}`;
}

/** Short phrases for a credential's policy: "approval by 2", "exclusive", "max 8 h", "recorded". */
export function policyPhrases(policy: PolicyHint): string[] {
  return [
    policy.approvalRequired ? `approval by ${policy.quorum}` : "no approval",
    ...(policy.exclusive ? ["exclusive"] : []),
    `max ${formatMinutes(policy.maxCheckoutMinutes)}`,
    ...(recordingMode(policy) !== "off" ? ["recorded"] : []),
    // Said before the request, not discovered at connect.
    ...(policy.mfaAtConnect ? ["second factor at connect"] : []),
    ...(policy.masterPasswordAtConnect ? ["master password at connect"] : []),
  ];
}

export function policyTags(policy: PolicyHint): HTMLSpanElement {
  return h(
    "span",
    { class: "policy-hint" },
    ...policyPhrases(policy).map((phrase) => h("span", { class: "tag" }, phrase)),
  );
}

/** Sentences for the stable per-item error codes of a submitted cart. */
const CART_ERROR: Record<string, string> = {
  conflict: "Someone else holds this exclusive credential for an overlapping window. Choose another time.",
  no_eligible_approver: "No one other than you can approve this request. Ask an admin to add approvers.",
  window_too_long: "The window is longer than this credential's policy allows. Shorten it.",
  invalid_window: "The window is not valid: it must end after it starts and not lie in the past.",
  not_found: "This server or credential is no longer available to you. Remove it from the cart.",
  forbidden: "You are not entitled to this credential any more. Remove it from the cart.",
  server_retired:
    "Discovery has not seen this server for a long time, so it is retired. Ask an admin; it returns when discovery finds it again.",
};

export function cartErrorText(code: string): string {
  return CART_ERROR[code] ?? `The request was refused (${code}).`;
}

/** What happened to one submitted request, in a sentence. */
export function submittedText(c: CheckoutSummary): string {
  switch (c.status) {
    case "pending_approval":
      return `Requested; waiting for ${c.quorum === 1 ? "one approval" : `${c.quorum} approvals`}.`;
    case "approved":
      return "Approved; you can connect when the window starts.";
    case "active":
      return "Approved and active; you can connect now.";
    default:
      return `${statusLabel(c.status)}.`;
  }
}
