// The one owner of `policies` and `zone_allowed_policies` (AGENTS.md, "One owner per table"): every INSERT, UPDATE
// and DELETE on them is a named function here, and a policy's row is written only through policyValues, which fills
// the defaults of fields added later. Callers decide, audit and call enforceAccess; this file does the SQL.
import { DEFAULT_FILE_TRANSFER_POLICY, type Policy } from "../../protocol/index.ts";
import { type PolicyRow, policyFromRow } from "./policy.ts";

// ---- Policies --------------------------------------------------------------------------------------------

export async function listPolicies(db: D1Database): Promise<Policy[]> {
  const { results } = await db.prepare("SELECT * FROM policies ORDER BY name").all<PolicyRow>();
  return results.map(policyFromRow);
}

export async function loadPolicy(db: D1Database, id: string): Promise<Policy | null> {
  const row = await db.prepare("SELECT * FROM policies WHERE id = ?").bind(id).first<PolicyRow>();
  return row ? policyFromRow(row) : null;
}

/** A new policy; a taken name fails the statement (the caller's 409 through `insertOrConflict`). */
export function insertPolicy(db: D1Database, id: string, fields: Omit<Policy, "id">): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO policies (id, ${POLICY_COLUMNS.join(", ")}, created_at) VALUES (?, ${POLICY_COLUMNS.map(() => "?").join(", ")}, ?)`,
    )
    .bind(id, ...policyValues(fields), Date.now());
}

/** Stores every field of the policy as given (the caller merged a PATCH into the stored one). */
export async function updatePolicy(db: D1Database, policy: Policy): Promise<void> {
  await db
    .prepare(`UPDATE policies SET ${POLICY_COLUMNS.map((col) => `${col} = ?`).join(", ")} WHERE id = ?`)
    .bind(...policyValues(policy), policy.id)
    .run();
}

/** Column values in the order of POLICY_COLUMNS; a field an older caller leaves out gets its default. */
function policyValues(p: Omit<Policy, "id">): (string | number | null)[] {
  return [
    p.name,
    p.maxCheckoutMinutes,
    p.maxSessionMinutes,
    p.approvalRequired ? 1 : 0,
    p.approverGroupId,
    p.quorum,
    p.pendingTtlMinutes,
    p.recordingRequired ? 1 : 0,
    p.recordKeystrokes ? 1 : 0,
    p.liveViewAllowed ? 1 : 0,
    p.notifyWatched ? 1 : 0,
    p.masterPasswordRequired ? 1 : 0,
    p.mfaRequired ? 1 : 0,
    p.idleTimeoutMinutes,
    p.exclusive ? 1 : 0,
    p.resetOnCheckin ? 1 : 0,
    p.extensionMinutes,
    p.maxExtensions,
    p.extensionApprovalRequired ? 1 : 0,
    p.disconnectGraceMinutes,
    p.rdpRequireNla ? 1 : 0,
    p.rdpRequireSandbox ? 1 : 0,
    p.rdpClipboardCopy ? 1 : 0,
    p.rdpClipboardPaste ? 1 : 0,
    p.rdpClipboardMaxBytes,
    p.recordingEnabled ? 1 : 0,
    JSON.stringify(p.commandRules ?? []),
    p.moderatorsRequired ?? 0,
    p.moderatorGroupId ?? null,
    JSON.stringify(p.fileTransfer ?? DEFAULT_FILE_TRANSFER_POLICY),
    p.sessionSharing ? 1 : 0,
    p.helperGroupId ?? null,
  ];
}

const POLICY_COLUMNS = [
  "name",
  "max_checkout_minutes",
  "max_session_minutes",
  "approval_required",
  "approver_group_id",
  "quorum",
  "pending_ttl_minutes",
  "recording_required",
  "record_keystrokes",
  "live_view_allowed",
  "notify_watched",
  "master_password_required",
  "mfa_required",
  "idle_timeout_minutes",
  "exclusive",
  "reset_on_checkin",
  "extension_minutes",
  "max_extensions",
  "extension_approval_required",
  "disconnect_grace_minutes",
  "rdp_require_nla",
  "rdp_require_sandbox",
  "rdp_clipboard_copy",
  "rdp_clipboard_paste",
  "rdp_clipboard_max_bytes",
  "recording_enabled",
  "command_rules",
  "moderators_required",
  "moderator_group_id",
  "file_transfer",
  "session_sharing",
  "helper_group_id",
] as const;

// ---- A zone's allow-list ---------------------------------------------------------------------------------

export async function allowedPolicyIds(db: D1Database, zoneId: string): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT policy_id FROM zone_allowed_policies WHERE zone_id = ? ORDER BY policy_id")
    .bind(zoneId)
    .all<{ policy_id: string }>();
  return results.map((r) => r.policy_id);
}

/** Replaces the zone's allow-list in one batch (the caller checked that every id names a policy). */
export async function replaceAllowedPolicies(db: D1Database, zoneId: string, policyIds: string[]): Promise<void> {
  const now = Date.now();
  await db.batch([
    db.prepare("DELETE FROM zone_allowed_policies WHERE zone_id = ?").bind(zoneId),
    ...policyIds.map((policyId) =>
      db
        .prepare("INSERT INTO zone_allowed_policies (zone_id, policy_id, created_at) VALUES (?, ?, ?)")
        .bind(zoneId, policyId, now),
    ),
  ]);
}
