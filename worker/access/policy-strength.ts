// Whether one policy is weaker than another on the controls that protect a zone, as a pure function:
// a zone admin may attach only a policy that is not weaker than the zone's own (docs/access-model.md).
import { type Policy, RECORDING_RANK, recordingMode } from "../../protocol/index.ts";

/** The controls compared, each with a fixed order from weak to strong. */
export type PolicyControl =
  /** approval off < approval required */
  | "approval"
  /** with approval required: fewer approvals needed is weaker */
  | "quorum"
  /** recording best-effort < recording required (a session refuses to run without its recording) */
  | "recording"
  /** output only < output and keystrokes */
  | "keystrokes"
  /** live view not allowed < admins can watch live */
  | "live_view"
  /** fewer moderators required is weaker */
  | "moderation"
  /** sessions not shared < the user may invite others to join with input */
  | "sharing"
  | "mfa"
  | "master_password"
  /** a longer checkout window is weaker */
  | "max_checkout"
  /** a longer session is weaker */
  | "max_session"
  /** extensions granted without approval < extensions approved */
  | "extension_approval"
  /** more extra time in total (minutes per extension × extensions) is weaker */
  | "extension_budget";

export type PolicyStrength = Pick<
  Policy,
  | "approvalRequired"
  | "quorum"
  | "recordingRequired"
  | "recordingEnabled"
  | "recordKeystrokes"
  | "liveViewAllowed"
  | "mfaRequired"
  | "masterPasswordRequired"
  | "maxCheckoutMinutes"
  | "maxSessionMinutes"
  | "extensionApprovalRequired"
  | "extensionMinutes"
  | "maxExtensions"
  | "moderatorsRequired"
  | "sessionSharing"
>;

/** Minutes of extra time one session can be given without a new checkout. */
function extensionBudget(p: PolicyStrength): number {
  return p.extensionMinutes === null ? 0 : p.extensionMinutes * Math.max(0, p.maxExtensions);
}

/** A required flag turned off. */
const dropped = (candidate: boolean, floor: boolean) => floor && !candidate;

/**
 * The controls on which `candidate` is weaker than `floor` (empty: not weaker on any). Each control is
 * compared on its own, so a policy stronger on one control does not buy weakness on another.
 * The approver group is not ordered here: which groups may approve in a zone is vetted by a global
 * admin through the zone's allow-list.
 */
export function weakerOn(candidate: PolicyStrength, floor: PolicyStrength): PolicyControl[] {
  const out: PolicyControl[] = [];
  if (dropped(candidate.approvalRequired, floor.approvalRequired)) out.push("approval");
  else if (floor.approvalRequired && Math.max(1, candidate.quorum) < Math.max(1, floor.quorum)) out.push("quorum");
  if (RECORDING_RANK[recordingMode(candidate)] < RECORDING_RANK[recordingMode(floor)]) out.push("recording");
  if (dropped(candidate.recordKeystrokes, floor.recordKeystrokes)) out.push("keystrokes");
  if (dropped(candidate.liveViewAllowed, floor.liveViewAllowed)) out.push("live_view");
  if ((candidate.moderatorsRequired ?? 0) < (floor.moderatorsRequired ?? 0)) out.push("moderation");
  if (candidate.sessionSharing && !floor.sessionSharing) out.push("sharing");
  if (dropped(candidate.mfaRequired, floor.mfaRequired)) out.push("mfa");
  if (dropped(candidate.masterPasswordRequired, floor.masterPasswordRequired)) out.push("master_password");
  if (candidate.maxCheckoutMinutes > floor.maxCheckoutMinutes) out.push("max_checkout");
  if (candidate.maxSessionMinutes > floor.maxSessionMinutes) out.push("max_session");
  if (extensionBudget(candidate) > 0 && dropped(candidate.extensionApprovalRequired, floor.extensionApprovalRequired))
    out.push("extension_approval");
  if (extensionBudget(candidate) > extensionBudget(floor)) out.push("extension_budget");
  return out;
}

export function isWeaker(candidate: PolicyStrength, floor: PolicyStrength): boolean {
  return weakerOn(candidate, floor).length > 0;
}
