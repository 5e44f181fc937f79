// A policy's cross-field rules: one pure function used by the policy form (message at the field) and by the
// API (superRefine on the policy bodies, answered as 400 `policy_inconsistent`). A policy whose limits
// contradict each other would look strict on paper and do something else in a session, so it is refused.

/** The fields the rules read; durations in minutes, null where the field means "none". */
export type PolicyLimits = {
  maxCheckoutMinutes: number;
  maxSessionMinutes: number;
  approvalRequired: boolean;
  quorum: number;
  pendingTtlMinutes: number;
  idleTimeoutMinutes: number | null;
  extensionMinutes: number | null;
  disconnectGraceMinutes: number | null;
  liveViewAllowed: boolean;
  moderatorsRequired: number;
  moderatorGroupId: string | null;
  sessionSharing?: boolean;
  helperGroupId?: string | null;
  approverGroupId: string | null;
  commandRules: readonly { action: string }[];
};

export type PolicyRule =
  | "duration_not_positive"
  | "no_approvals_needed"
  | "checkout_shorter_than_session"
  | "extension_longer_than_session"
  | "idle_longer_than_session"
  | "grace_longer_than_session"
  | "moderation_without_group"
  | "moderation_without_live_view"
  | "review_without_reviewers";

export type PolicyProblem = { rule: PolicyRule; field: keyof PolicyLimits; message: string };

const DURATIONS = [
  ["maxCheckoutMinutes", "The longest checkout"],
  ["maxSessionMinutes", "The longest session"],
  ["pendingTtlMinutes", "The request expiry"],
  ["idleTimeoutMinutes", "The idle timeout"],
  ["extensionMinutes", "An extension"],
  ["disconnectGraceMinutes", "The browser away limit"],
] as const satisfies readonly (readonly [keyof PolicyLimits, string])[];

/**
 * How a policy records sessions (docs/recording.md): `required` fails closed, `best-effort` records and goes on
 * with an alert when it cannot, `off` records nothing. Required wins over an unticked "Record sessions"; a
 * policy stored before recording could be turned off (no `recordingEnabled`) records.
 */
export type RecordingMode = "off" | "best-effort" | "required";
export function recordingMode(p: { recordingEnabled?: boolean; recordingRequired: boolean }): RecordingMode {
  return p.recordingRequired ? "required" : p.recordingEnabled === false ? "off" : "best-effort";
}
/** Ordered from weakest: a policy whose mode ranks lower records less. */
export const RECORDING_RANK: Record<RecordingMode, number> = { off: 0, "best-effort": 1, required: 2 };

/** "45 min", "8 h", "1 h 30 min", "3 d": the words the messages use. */
export function minutesText(minutes: number): string {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  const parts = [days && `${days} d`, hours && `${hours} h`, rest && `${rest} min`].filter(Boolean);
  return parts.join(" ") || "0 min";
}

/**
 * What is wrong with a policy, in the form's field order (the first is where the form puts the focus). Takes a
 * partial policy: a rule between two fields applies only when both are given (a PATCH body; the route checks the
 * merged policy too).
 */
export function policyProblems(p: Partial<PolicyLimits>): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  const bad = new Set<keyof PolicyLimits>();
  for (const [field, label] of DURATIONS) {
    const value = p[field];
    if (value === undefined || value === null || (Number.isInteger(value) && value > 0)) continue;
    bad.add(field);
    out.push({ rule: "duration_not_positive", field, message: `${label} must be a whole number of minutes above 0.` });
  }
  const given = (field: keyof PolicyLimits) => p[field] !== undefined && p[field] !== null && !bad.has(field);
  if (p.approvalRequired === true && p.quorum !== undefined && !(p.quorum >= 1))
    out.push({
      rule: "no_approvals_needed",
      field: "quorum",
      message: "With approval on, at least 1 approval is needed. Untick “Approval required” to grant at once.",
    });
  if ((p.moderatorsRequired ?? 0) > 0) {
    if (p.moderatorGroupId === null)
      out.push({
        rule: "moderation_without_group",
        field: "moderatorGroupId",
        message: "Moderated sessions need a moderator group: name the group whose members moderate.",
      });
    if (p.liveViewAllowed === false)
      out.push({
        rule: "moderation_without_live_view",
        field: "liveViewAllowed",
        message: "Moderators watch the session live: allow live view, or turn moderation off.",
      });
  }
  // A held command waits for a reviewer: the approver group's or the moderator group's members (never the user).
  if (p.commandRules?.some((r) => r.action === "review") && p.approverGroupId === null && p.moderatorGroupId === null)
    out.push({
      rule: "review_without_reviewers",
      field: "commandRules",
      message:
        "A command rule holds lines for review, but nobody can review them: name an approver group or a moderator group.",
    });
  const session = p.maxSessionMinutes;
  if (session === undefined || !given("maxSessionMinutes")) return order(out);
  const sessionText = minutesText(session);
  if (given("maxCheckoutMinutes") && p.maxCheckoutMinutes! < session)
    out.push({
      rule: "checkout_shorter_than_session",
      field: "maxCheckoutMinutes",
      message: `The longest checkout (${minutesText(p.maxCheckoutMinutes!)}) is shorter than the longest session (${sessionText}): make the checkout at least as long.`,
    });
  if (given("idleTimeoutMinutes") && p.idleTimeoutMinutes! > session)
    out.push({
      rule: "idle_longer_than_session",
      field: "idleTimeoutMinutes",
      message: `The idle timeout (${minutesText(p.idleTimeoutMinutes!)}) is longer than the longest session (${sessionText}), so it would never apply.`,
    });
  if (given("extensionMinutes") && p.extensionMinutes! > session)
    out.push({
      rule: "extension_longer_than_session",
      field: "extensionMinutes",
      message: `An extension (${minutesText(p.extensionMinutes!)}) cannot be longer than the longest session (${sessionText}).`,
    });
  if (given("disconnectGraceMinutes") && p.disconnectGraceMinutes! > session)
    out.push({
      rule: "grace_longer_than_session",
      field: "disconnectGraceMinutes",
      message: `The browser away limit (${minutesText(p.disconnectGraceMinutes!)}) is longer than the longest session (${sessionText}), so it would never apply.`,
    });
  return order(out);
}

/** The form's order of the fields (sections: approval, then time). */
const FIELD_ORDER: (keyof PolicyLimits)[] = [
  "quorum",
  "liveViewAllowed",
  "moderatorsRequired",
  "moderatorGroupId",
  "pendingTtlMinutes",
  "maxSessionMinutes",
  "maxCheckoutMinutes",
  "extensionMinutes",
  "idleTimeoutMinutes",
  "disconnectGraceMinutes",
  "commandRules",
];

function order(problems: PolicyProblem[]): PolicyProblem[] {
  return problems.sort((a, b) => FIELD_ORDER.indexOf(a.field) - FIELD_ORDER.indexOf(b.field));
}
