// Signs session grants: the only thing that tells a connector to open a session (and, re-signed with
// a later deadline, to keep it open longer).
import { GRANT_TTL_SECONDS, GRANT_TYP, type GrantClaims, grantAudience } from "../protocol/index.ts";
import type { Policy } from "../protocol/index.ts";
import type { Env } from "./env.ts";
import { sealSecret } from "../keys/seal.ts";
import { signEdgeJwt } from "../edge-shared/keys.ts";
import { storedKeyboardLayout } from "./keyboard-layouts.ts";

export type GrantInput = Omit<GrantClaims, "iss" | "aud" | "sub" | "jti" | "iat" | "exp"> & {
  sessionId: string;
  siteId: string;
};

export async function signGrant(signingSecret: string, input: GrantInput): Promise<string> {
  const { sessionId, siteId, ...claims } = input;
  return signEdgeJwt(signingSecret, claims, {
    typ: GRANT_TYP,
    audience: grantAudience(siteId),
    subject: sessionId,
    ttlSeconds: GRANT_TTL_SECONDS,
  });
}

/**
 * The grant for a stored session with deadline `deadline` (unix ms): target, credential and policy from D1.
 * `masterPassword`, sealed by the browser, goes in unopened; for a vaulted credential the user's verifier goes
 * with it, sealed here to the site key, so the connector can check it (a grant never carries it in the clear).
 */
export async function grantForSession(
  env: Env,
  sessionId: string,
  deadline: number,
  masterPassword?: string,
): Promise<string> {
  const row = await env.DB.prepare(
    `SELECT se.user_id, u.username, u.master_password_hash, u.keyboard_layout, se.site_id, si.seal_key, se.credential_id, s.host, s.port, s.protocol, s.host_key, c.username AS account, c.kind, c.sealed, c.external_ref, c.domain, ch.policy,
       (SELECT r.id FROM recordings r WHERE r.session_id = se.id AND r.source_version = 2) AS recording_id
     FROM sessions se JOIN users u ON u.id = se.user_id JOIN servers s ON s.id = se.server_id JOIN sites si ON si.id = se.site_id
     JOIN credentials c ON c.id = se.credential_id LEFT JOIN checkouts ch ON ch.id = se.checkout_id WHERE se.id = ?`,
  )
    .bind(sessionId)
    .first<{
      user_id: string;
      username: string;
      master_password_hash: string | null;
      keyboard_layout: string;
      site_id: string;
      seal_key: string | null;
      credential_id: string;
      host: string;
      port: number;
      protocol: "ssh" | "rdp";
      host_key: string;
      account: string;
      kind: "password" | "private_key";
      sealed: string | null;
      external_ref: string | null;
      domain: string;
      policy: string | null;
      recording_id: string | null;
    }>();
  if (!row) throw new Error(`no session ${sessionId}`);
  const policy = (row.policy ? JSON.parse(row.policy) : {}) as Partial<Policy>;
  let verifier: string | undefined;
  if (masterPassword && row.sealed) {
    if (!row.master_password_hash || !row.seal_key) throw new Error(`session ${sessionId}: no verifier or site key`);
    verifier = await sealSecret(JSON.parse(row.seal_key) as Record<string, unknown>, row.master_password_hash);
  }
  return signGrant(env.EDGE_SIGNING_KEY, {
    sessionId,
    siteId: row.site_id,
    dl: Math.floor(deadline / 1000),
    usr: { id: row.user_id, name: row.username },
    tgt: { host: row.host, port: row.port, protocol: row.protocol, hostKey: row.host_key },
    // A sealed blob for the connector's `sealed` provider, or EmpowerID's reference for `empowerid`.
    cred: {
      id: row.credential_id,
      username: row.account,
      kind: row.kind,
      ...(row.sealed ? { sealed: row.sealed } : {}),
      ...(row.external_ref ? { ref: row.external_ref } : {}),
      ...(row.domain ? { domain: row.domain } : {}),
      ...(masterPassword ? { mp: masterPassword } : {}),
      ...(verifier ? { mpv: verifier } : {}),
    },
    rec: {
      required: policy.recordingRequired ?? false,
      keystrokes: policy.recordKeystrokes ?? false,
      // The connector records the session at the source under this id (docs/recording.md).
      ...(row.recording_id ? { id: row.recording_id } : {}),
    },
    ch: row.protocol === "rdp" ? ["desktop"] : ["shell"],
    // Command control (docs/governance.md): the snapshotted policy's rules, enforced by the connector on SSH shells.
    ...(row.protocol === "ssh" && policy.commandRules?.length ? { cmd: policy.commandRules } : {}),
    // File transfer (docs/governance.md): the snapshot's SFTP rules, only when a direction is on.
    ...(row.protocol === "ssh" && (policy.fileTransfer?.upload || policy.fileTransfer?.download)
      ? { ft: policy.fileTransfer }
      : {}),
    ...(row.protocol === "rdp"
      ? { rdp: { ...rdpGrant(policy), kbd: storedKeyboardLayout(row.keyboard_layout, row.user_id) } }
      : {}),
  });
}

/** The RDP part of a grant. Policies stored before issue 7 lack these fields: RDP defaults apply. */
function rdpGrant(policy: Partial<Policy>): NonNullable<GrantClaims["rdp"]> {
  return {
    nla: policy.rdpRequireNla ?? false,
    ...(policy.rdpRequireSandbox ? { sbx: true } : {}),
    clip: {
      copy: policy.rdpClipboardCopy ?? false,
      paste: policy.rdpClipboardPaste ?? false,
      max: policy.rdpClipboardMaxBytes ?? 64 * 1024,
    },
  };
}
