// The audit log's reading side at the edge: a filter with typed names becomes the ledger's id filter
// (D1 holds the names, the ledger only ids), and each listed entry gets the names its refs have today.
import type { LedgerFilter } from "../durable/audit-ledger.ts";
import type { AuditContext, AuditEntry, AuditFilterQuery, AuditListEntry } from "../protocol/index.ts";
import { idsNamed } from "./filter-names.ts";

/**
 * The ledger filter for a query, or null when a typed name matches nothing (so nothing can match: the
 * caller answers an empty list rather than the unfiltered log).
 */
export async function ledgerFilter(db: D1Database, q: AuditFilterQuery): Promise<LedgerFilter | null> {
  const { user, server, zone, ...rest } = q;
  const filter: LedgerFilter = rest;
  if (user !== undefined) {
    filter.userIds = await idsNamed(db, "user", user);
    if (filter.userIds.length === 0) return null;
  }
  if (server !== undefined) {
    filter.serverIds = await idsNamed(db, "server", server);
    if (filter.serverIds.length === 0) return null;
  }
  if (zone !== undefined) {
    filter.zoneIds = await idsNamed(db, "zone", zone);
    if (filter.zoneIds.length === 0) return null;
    const { results } = await db
      .prepare("SELECT id FROM servers WHERE zone_id IN (SELECT value FROM json_each(?)) LIMIT 500")
      .bind(JSON.stringify(filter.zoneIds))
      .all<{ id: string }>();
    filter.zoneServerIds = results.map((r) => r.id);
  }
  return filter;
}

type Named = { id: string; name: string };

/** Names by id for one table, in one statement (the ids travel as one JSON parameter). */
const namesOf = (db: D1Database, sql: string, ids: Set<string>) =>
  db.prepare(`${sql} IN (SELECT value FROM json_each(?))`).bind(JSON.stringify([...ids]));

/** Target types whose names the edge can look up, and where. */
const TARGET_TABLES: Record<string, string> = {
  user: "SELECT id, username AS name FROM users WHERE id",
  zone: "SELECT id, name FROM zones WHERE id",
  site: "SELECT id, name FROM sites WHERE id",
  connector: "SELECT id, name FROM connectors WHERE id",
  credential: "SELECT id, name FROM credentials WHERE id",
  server: "SELECT id, name FROM servers WHERE id",
  policy: "SELECT id, name FROM policies WHERE id",
  group: "SELECT id, name FROM groups WHERE id",
  // Written as the other entries of their kind name them: "root on web-1", "root@web-1".
  checkout:
    "SELECT ch.id, cr.name || ' on ' || sv.name AS name FROM checkouts ch JOIN credentials cr ON cr.id = ch.credential_id JOIN servers sv ON sv.id = ch.server_id WHERE ch.id",
  session:
    "SELECT se.id, cr.username || '@' || sv.name AS name FROM sessions se JOIN credentials cr ON cr.id = se.credential_id JOIN servers sv ON sv.id = se.server_id WHERE se.id",
};

/** Each entry with its context: user, server, zone and target names, and its session's recording. */
export async function withContext(db: D1Database, entries: AuditEntry[]): Promise<AuditListEntry[]> {
  if (entries.length === 0) return [];
  const users = new Set<string>();
  const servers = new Set<string>();
  const sessions = new Set<string>();
  const targets = new Map<string, Set<string>>();
  for (const e of entries) {
    if (e.refs.userId) users.add(e.refs.userId);
    if (e.refs.serverId) servers.add(e.refs.serverId);
    if (e.refs.sessionId) sessions.add(e.refs.sessionId);
    if (e.target.type === "session") sessions.add(e.target.id);
    if (TARGET_TABLES[e.target.type] && !e.target.name) {
      const ids = targets.get(e.target.type) ?? new Set<string>();
      targets.set(e.target.type, ids.add(e.target.id));
    }
  }
  const targetTypes = [...targets.keys()];
  const [userRows, serverRows, recordingRows, ...targetRows] = await db.batch<Named & { zone?: string }>([
    namesOf(db, "SELECT id, username AS name FROM users WHERE id", users),
    namesOf(
      db,
      "SELECT sv.id, sv.name, z.name AS zone FROM servers sv JOIN zones z ON z.id = sv.zone_id WHERE sv.id",
      servers,
    ),
    namesOf(db, "SELECT session_id AS name, id FROM recordings WHERE status != 'deleted' AND session_id", sessions),
    ...targetTypes.map((type) => namesOf(db, TARGET_TABLES[type]!, targets.get(type)!)),
  ]);
  const byId = (rows: (Named & { zone?: string })[] | undefined) => new Map((rows ?? []).map((r) => [r.id, r]));
  const userNames = byId(userRows?.results);
  const serverNames = byId(serverRows?.results);
  const recordingOf = new Map((recordingRows?.results ?? []).map((r) => [r.name, r.id]));
  const targetNames = new Map(targetTypes.map((type, i) => [type, byId(targetRows[i]?.results)]));
  return entries.map((e) => {
    const server = e.refs.serverId ? serverNames.get(e.refs.serverId) : undefined;
    const sessionId = e.refs.sessionId ?? (e.target.type === "session" ? e.target.id : undefined);
    const context: AuditContext = {};
    const user = e.refs.userId ? userNames.get(e.refs.userId)?.name : undefined;
    if (user) context.user = user;
    if (server) context.server = server.name;
    if (server?.zone) context.zone = server.zone;
    const recordingId = sessionId ? recordingOf.get(sessionId) : undefined;
    if (recordingId) context.recordingId = recordingId;
    const target = e.target.name ? undefined : targetNames.get(e.target.type)?.get(e.target.id)?.name;
    if (target) context.target = target;
    return { ...e, context };
  });
}
