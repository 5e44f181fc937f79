// What an approver sees beside a request (GET /api/approvals): the zone, what the snapshotted policy will do,
// and the requester's record over the last APPROVAL_HISTORY_DAYS, counted by person so a second account of the
// same person cannot hide a history of kills or revocations.
import { APPROVAL_HISTORY_DAYS, type ApprovalContext, ZoneSensitivity } from "../../protocol/index.ts";
import type { Env } from "../env.ts";
import { type CheckoutRow, rowPolicy } from "./checkout-store.ts";
import { DEFAULT_POLICY } from "./policy.ts";

/** How many of the requester's latest checkouts the card lists. */
const RECENT = 5;

type ZoneRow = { name: string; sensitivity: string | null; description: string };
type CountsRow = { checkouts: number; revocations: number; denials: number; kills: number };
type RecentRow = {
  server_name: string;
  status: string;
  requested_at: number;
  revoke_reason: string | null;
  killed: number;
};

export async function approvalContext(env: Env, row: CheckoutRow, now: number): Promise<ApprovalContext> {
  const since = now - APPROVAL_HISTORY_DAYS * 24 * 60 * 60_000;
  const [zone, counts, recent] = await env.DB.batch<ZoneRow | CountsRow | RecentRow>([
    env.DB.prepare("SELECT name, sensitivity, description FROM zones WHERE id = ?").bind(row.zone_id),
    env.DB.prepare(
      `SELECT count(*) AS checkouts,
              coalesce(sum(ch.status = 'revoked'), 0) AS revocations,
              coalesce(sum(ch.status = 'denied'), 0) AS denials,
              (SELECT count(*) FROM sessions se JOIN checkouts k ON k.id = se.checkout_id
                WHERE k.person_id = ?1 AND se.end_reason = 'killed' AND se.created_at >= ?2) AS kills
         FROM checkouts ch WHERE ch.person_id = ?1 AND ch.requested_at >= ?2 AND ch.id != ?3`,
    ).bind(row.person_id, since, row.id),
    env.DB.prepare(
      `SELECT s.name AS server_name, ch.status, ch.requested_at, ch.revoke_reason,
              EXISTS (SELECT 1 FROM sessions se WHERE se.checkout_id = ch.id AND se.end_reason = 'killed') AS killed
         FROM checkouts ch JOIN servers s ON s.id = ch.server_id
        WHERE ch.person_id = ? AND ch.id != ? ORDER BY ch.requested_at DESC LIMIT ?`,
    ).bind(row.person_id, row.id, RECENT),
  ]);
  const z = (zone!.results[0] as ZoneRow | undefined) ?? { name: row.zone_name, sensitivity: null, description: "" };
  const c = counts!.results[0] as CountsRow;
  // Policy fields added after the request was made read as their defaults (AGENTS.md).
  const policy = { ...DEFAULT_POLICY, ...rowPolicy(row) };
  return {
    zone: {
      name: z.name,
      sensitivity: ZoneSensitivity.catch("normal").parse(z.sensitivity ?? "normal"),
      description: z.description,
    },
    policy: {
      name: policy.name,
      maxSessionMinutes: policy.maxSessionMinutes,
      recordingEnabled: policy.recordingEnabled ?? true,
      recordingRequired: policy.recordingRequired,
      recordKeystrokes: policy.recordKeystrokes,
      liveViewAllowed: policy.liveViewAllowed,
      mfaRequired: policy.mfaRequired,
      masterPasswordRequired: policy.masterPasswordRequired,
      exclusive: policy.exclusive,
      resetOnCheckin: policy.resetOnCheckin,
    },
    requester: {
      checkouts: c.checkouts,
      kills: c.kills,
      revocations: c.revocations,
      denials: c.denials,
      recent: (recent!.results as RecentRow[]).map((r) => ({
        serverName: r.server_name,
        status: r.status,
        requestedAt: r.requested_at,
        note: r.killed ? "session killed" : r.revoke_reason,
      })),
    },
  };
}
