// Policies: stored rows to the API shape, and the effective policy of a credential (its own
// override, else its zone's, else the built-in default).
import { CommandRules, DEFAULT_FILE_TRANSFER_POLICY, FileTransferPolicy, type Policy } from "../../protocol/index.ts";

export type PolicyRow = {
  id: string;
  name: string;
  max_checkout_minutes: number;
  max_session_minutes: number;
  approval_required: number;
  approver_group_id: string | null;
  quorum: number;
  pending_ttl_minutes: number;
  recording_required: number;
  recording_enabled: number;
  record_keystrokes: number;
  live_view_allowed: number;
  notify_watched: number;
  master_password_required: number;
  mfa_required: number;
  idle_timeout_minutes: number | null;
  exclusive: number;
  reset_on_checkin: number;
  extension_minutes: number | null;
  max_extensions: number;
  extension_approval_required: number;
  disconnect_grace_minutes: number | null;
  rdp_require_nla: number;
  rdp_require_sandbox: number;
  rdp_clipboard_copy: number;
  rdp_clipboard_paste: number;
  rdp_clipboard_max_bytes: number;
  /** JSON (CommandRules); '[]' for none. */
  command_rules: string;
  moderators_required: number;
  moderator_group_id: string | null;
  session_sharing: number;
  helper_group_id: string | null;
  /** JSON (FileTransferPolicy); '{}' for the defaults (everything off). */
  file_transfer: string;
};

/** Applies when neither the credential nor its zone names a policy: no approval, 8 h checkouts, 4 h sessions. */
export const DEFAULT_POLICY: Policy = {
  id: "default",
  name: "Default",
  maxCheckoutMinutes: 480,
  maxSessionMinutes: 240,
  approvalRequired: false,
  approverGroupId: null,
  quorum: 1,
  pendingTtlMinutes: 1440,
  recordingEnabled: true,
  recordingRequired: false,
  recordKeystrokes: false,
  liveViewAllowed: true,
  notifyWatched: true,
  masterPasswordRequired: false,
  mfaRequired: false,
  idleTimeoutMinutes: null,
  exclusive: false,
  resetOnCheckin: false,
  extensionMinutes: 60,
  maxExtensions: 2,
  extensionApprovalRequired: false,
  disconnectGraceMinutes: null,
  rdpRequireNla: false,
  rdpRequireSandbox: false,
  rdpClipboardCopy: false,
  rdpClipboardPaste: false,
  rdpClipboardMaxBytes: 64 * 1024,
  commandRules: [],
  moderatorsRequired: 0,
  moderatorGroupId: null,
  sessionSharing: false,
  helperGroupId: null,
  fileTransfer: DEFAULT_FILE_TRANSFER_POLICY,
};

export function policyFromRow(r: PolicyRow): Policy {
  return {
    id: r.id,
    name: r.name,
    maxCheckoutMinutes: r.max_checkout_minutes,
    maxSessionMinutes: r.max_session_minutes,
    approvalRequired: !!r.approval_required,
    approverGroupId: r.approver_group_id,
    quorum: r.quorum,
    pendingTtlMinutes: r.pending_ttl_minutes,
    recordingEnabled: !!r.recording_enabled,
    recordingRequired: !!r.recording_required,
    recordKeystrokes: !!r.record_keystrokes,
    liveViewAllowed: !!r.live_view_allowed,
    notifyWatched: !!r.notify_watched,
    masterPasswordRequired: !!r.master_password_required,
    mfaRequired: !!r.mfa_required,
    idleTimeoutMinutes: r.idle_timeout_minutes,
    exclusive: !!r.exclusive,
    resetOnCheckin: !!r.reset_on_checkin,
    extensionMinutes: r.extension_minutes,
    maxExtensions: r.max_extensions,
    extensionApprovalRequired: !!r.extension_approval_required,
    disconnectGraceMinutes: r.disconnect_grace_minutes,
    rdpRequireNla: !!r.rdp_require_nla,
    rdpRequireSandbox: !!r.rdp_require_sandbox,
    rdpClipboardCopy: !!r.rdp_clipboard_copy,
    rdpClipboardPaste: !!r.rdp_clipboard_paste,
    rdpClipboardMaxBytes: r.rdp_clipboard_max_bytes,
    commandRules: storedCommandRules(r.command_rules),
    moderatorsRequired: r.moderators_required ?? 0,
    moderatorGroupId: r.moderator_group_id ?? null,
    sessionSharing: !!r.session_sharing,
    helperGroupId: r.helper_group_id ?? null,
    fileTransfer: storedFileTransfer(r.file_transfer),
  };
}

/**
 * Stored command rules as the API shape. They were checked when written; a row that no longer parses (edited by
 * hand) is not served as "no rules": it throws, so the policy cannot be used quietly without its rules.
 */
function storedCommandRules(json: string | undefined): Policy["commandRules"] {
  return json === undefined ? [] : CommandRules.parse(JSON.parse(json));
}

/** Stored file-transfer rules, with defaults for fields added later; a row that no longer parses throws, as above. */
function storedFileTransfer(json: string | undefined): Policy["fileTransfer"] {
  return json === undefined ? DEFAULT_FILE_TRANSFER_POLICY : FileTransferPolicy.parse(JSON.parse(json));
}

/** The effective policy for each of the given credentials. */
export async function effectivePolicies(db: D1Database, credentialIds: string[]): Promise<Map<string, Policy>> {
  const out = new Map<string, Policy>();
  if (credentialIds.length === 0) return out;
  const marks = credentialIds.map(() => "?").join(",");
  const { results } = await db
    .prepare(
      `SELECT c.id AS credential_id, p.* FROM credentials c
       LEFT JOIN zones z ON z.id = c.zone_id
       LEFT JOIN policies p ON p.id = COALESCE(c.policy_id, z.policy_id)
       WHERE c.id IN (${marks})`,
    )
    .bind(...credentialIds)
    .all<PolicyRow & { credential_id: string }>();
  for (const row of results) out.set(row.credential_id, row.id ? policyFromRow(row) : DEFAULT_POLICY);
  return out;
}
