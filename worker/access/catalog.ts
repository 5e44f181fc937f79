// Entitlement: which credentials on which servers a user may request. A grant gives a group a
// zone, optionally narrowed to one server and/or one credential; both must sit in that zone.
import type { CatalogEntry, CredentialKind } from "../../protocol/index.ts";
import type { AuthUser } from "../env.ts";
import { effectivePolicies } from "./policy.ts";

type Row = {
  server_id: string;
  server_name: string;
  host: string;
  port: number;
  protocol: "ssh";
  site_id: string;
  zone_id: string;
  zone_name: string;
  sensitivity: string;
  tags: string;
  source: string;
  credential_id: string;
  credential_name: string;
  username: string;
  kind: CredentialKind;
};

/**
 * The one definition of "entitled": an enabled account, in a group granted the zone, an enabled server and credential.
 * A server whose discovered host is retired (worker/access/discovery.ts) is not entitled until discovery sees it again.
 */
const ENTITLED_FROM_ANY_HOST = `
  FROM group_members gm
  JOIN access_grants g ON g.group_id = gm.group_id
  JOIN servers s ON s.zone_id = g.zone_id AND (g.server_id IS NULL OR g.server_id = s.id)
  JOIN zones z ON z.id = s.zone_id
  JOIN server_credentials sc ON sc.server_id = s.id
  JOIN credentials c ON c.id = sc.credential_id AND c.zone_id = s.zone_id AND (g.credential_id IS NULL OR g.credential_id = c.id)
  JOIN users u ON u.id = gm.user_id AND u.disabled = 0
  WHERE s.enabled = 1 AND c.enabled = 1`;
const ENTITLED_FROM = `${ENTITLED_FROM_ANY_HOST} AND s.discovery_retired_at IS NULL`;

const ENTITLED = `
  SELECT DISTINCT s.id AS server_id, s.name AS server_name, s.host, s.port, s.protocol, s.site_id, s.zone_id,
         z.name AS zone_name, z.sensitivity, s.tags, s.source, c.id AS credential_id, c.name AS credential_name, c.username, c.kind
  ${ENTITLED_FROM} AND gm.user_id = ?`;

/** SQL: 1 when the account `user` is entitled to credential `credential` on server `server` (SQL expressions). */
export const entitledSql = (user: string, server: string, credential: string) => `EXISTS (SELECT 1 ${ENTITLED_FROM}
  AND gm.user_id = ${user} AND s.id = ${server} AND c.id = ${credential})`;

/** SQL: 1 when checkout row `ch` is still entitled (its person, server and credential), else 0. */
export const CHECKOUT_ENTITLED = entitledSql("ch.user_id", "ch.server_id", "ch.credential_id");

export async function entitledCatalog(
  db: D1Database,
  user: AuthUser,
  filter: { q?: string; zoneId?: string; tag?: string } = {},
): Promise<CatalogEntry[]> {
  const { results } = await db.prepare(`${ENTITLED} ORDER BY s.name, c.name`).bind(user.id).all<Row>();
  const policies = await effectivePolicies(db, [...new Set(results.map((r) => r.credential_id))]);
  const servers = new Map<string, CatalogEntry>();
  for (const r of results) {
    let entry = servers.get(r.server_id);
    if (!entry) {
      entry = {
        id: r.server_id,
        name: r.server_name,
        host: r.host,
        port: r.port,
        protocol: r.protocol,
        siteId: r.site_id,
        zoneId: r.zone_id,
        zoneName: r.zone_name,
        tags: JSON.parse(r.tags) as string[],
        source: r.source,
        credentials: [],
      };
      servers.set(r.server_id, entry);
    }
    const p = policies.get(r.credential_id)!;
    entry.credentials.push({
      id: r.credential_id,
      name: r.credential_name,
      username: r.username,
      kind: r.kind,
      policy: {
        approvalRequired: p.approvalRequired,
        quorum: p.quorum,
        maxCheckoutMinutes: p.maxCheckoutMinutes,
        maxSessionMinutes: p.maxSessionMinutes,
        exclusive: p.exclusive,
        recordingRequired: p.recordingRequired,
        recordingEnabled: p.recordingEnabled,
        mfaAtConnect: p.mfaRequired || r.sensitivity === "high",
        masterPasswordAtConnect: p.masterPasswordRequired,
      },
    });
  }
  const q = filter.q?.toLowerCase();
  return [...servers.values()].filter(
    (s) =>
      (!filter.zoneId || s.zoneId === filter.zoneId) &&
      (!filter.tag || s.tags.includes(filter.tag)) &&
      (!q ||
        [s.name, s.host, s.zoneName, ...s.tags, ...s.credentials.map((c) => `${c.name} ${c.username}`)].some((t) =>
          t.toLowerCase().includes(q),
        )),
  );
}

/** Whether the pairing would be entitled but for its server's retired discovered host (a clearer refusal). */
export async function retiredEntitlement(db: D1Database, user: AuthUser, serverId: string, credentialId: string) {
  const row = await db
    .prepare(
      `SELECT 1 AS retired ${ENTITLED_FROM_ANY_HOST} AND gm.user_id = ? AND s.id = ? AND c.id = ? AND s.discovery_retired_at IS NOT NULL`,
    )
    .bind(user.id, serverId, credentialId)
    .first<{ retired: number }>();
  return row !== null;
}

/** The entitled pairing, or null: the single check every request goes through. */
export async function entitlement(db: D1Database, user: AuthUser, serverId: string, credentialId: string) {
  return db.prepare(`${ENTITLED} AND s.id = ? AND c.id = ?`).bind(user.id, serverId, credentialId).first<Row>();
}
