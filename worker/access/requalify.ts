// Does an open checkout still stand? Asked whenever something that granted it changes (a person's
// account, groups, zone grants, the server, the credential, the policy) and again at every session
// start and socket upgrade: holding a checkout is not a right of its own. Pure.
import { type Policy, RECORDING_RANK, recordingMode } from "../../protocol/index.ts";

/** What the checkout was granted under, and what it holds now. */
export type Held = {
  status: "pending_approval" | "approved" | "active";
  /** The policy as it was when the checkout was requested (the row's snapshot). */
  granted: Policy;
  approvals: number;
  startsAt: number;
  endsAt: number;
};

export type Standing = { ok: true } | { ok: false; why: string };

/**
 * `now`: the effective policy today, or null when the person is no longer entitled to the credential on
 * that server (account disabled, group membership or grant removed, server or credential disabled).
 * A change that only loosens the policy never ends anything; one that the checkout would fail if it
 * were requested today ends it.
 */
export function requalify(held: Held, now: Policy | null): Standing {
  if (!now) return { ok: false, why: "entitlement removed" };
  if (now.approvalRequired && held.status !== "pending_approval" && held.approvals < now.quorum)
    return {
      ok: false,
      why:
        held.approvals === 0
          ? "the policy now requires approval"
          : `the policy now requires ${now.quorum} approvals; ${held.approvals} given`,
    };
  if (held.endsAt - held.startsAt > now.maxCheckoutMinutes * 60_000)
    return { ok: false, why: `the window is longer than the policy's ${now.maxCheckoutMinutes} minutes` };
  // Controls on the session itself: a session that started without them no longer qualifies.
  if (RECORDING_RANK[recordingMode(now)] > RECORDING_RANK[recordingMode(held.granted)])
    return {
      ok: false,
      why: now.recordingRequired ? "the policy now requires recording" : "the policy now records sessions",
    };
  if (now.mfaRequired && !held.granted.mfaRequired) return { ok: false, why: "the policy now requires MFA" };
  if (now.masterPasswordRequired && !held.granted.masterPasswordRequired)
    return { ok: false, why: "the policy now requires the master password" };
  if (now.rdpRequireNla && !held.granted.rdpRequireNla) return { ok: false, why: "the policy now requires NLA" };
  if (now.rdpRequireSandbox && !held.granted.rdpRequireSandbox)
    return { ok: false, why: "the policy now requires the RDP sandbox" };
  return { ok: true };
}

/** Whoever may still watch a zone's sessions: auditors everywhere, admins everywhere, zone admins in their zones. */
export function mayWatch(
  viewer: { disabled: boolean; roles: readonly string[]; zones: ReadonlySet<string> },
  zoneId: string,
): boolean {
  if (viewer.disabled) return false;
  if (viewer.roles.includes("admin") || viewer.roles.includes("auditor")) return true;
  return viewer.roles.includes("zone_admin") && viewer.zones.has(zoneId);
}
