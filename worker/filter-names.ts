// Names for the auditor's filters: a typed fragment matches users', servers' and zones' names in part, in
// any case (SQLite LIKE, its wildcards escaped), and the pickers offer only names the caller may filter by.
import { FILTER_NAMES_LIMIT, type FilterName, type FilterNamesQuery } from "../protocol/index.ts";
import { adminScope } from "./access/scope.ts";
import type { AuthUser } from "./env.ts";

/** A LIKE pattern for "contains `text`": `%`, `_` and the escape character itself match only themselves. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Append after `col LIKE ?` whenever the pattern came from likeContains. */
export const LIKE_ESCAPE = "ESCAPE '\\'";

/** Each kind's table, id and name columns. */
const NAMED = {
  user: { table: "users", name: "username" },
  server: { table: "servers", name: "name" },
  zone: { table: "zones", name: "name" },
} as const;

/** Most ids a typed name resolves to (the ledger's filter lists are bounded the same way). */
export const MAX_RESOLVED_IDS = 500;

/** The ids of every user, server or zone whose name contains `text` (any case), at most MAX_RESOLVED_IDS. */
export async function idsNamed(db: D1Database, kind: FilterNamesQuery["kind"], text: string): Promise<string[]> {
  const { table, name } = NAMED[kind];
  const { results } = await db
    .prepare(`SELECT id FROM ${table} WHERE ${name} LIKE ? ${LIKE_ESCAPE} LIMIT ?`)
    .bind(likeContains(text), MAX_RESOLVED_IDS)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** The audit log's pickers (auditors and admins read the whole log): every name of the kind that matches. */
export async function auditNames(db: D1Database, q: FilterNamesQuery): Promise<FilterName[]> {
  const { table, name } = NAMED[q.kind];
  const { results } = await db
    .prepare(
      `SELECT id, ${name} AS name FROM ${table} WHERE ${name} LIKE ? ${LIKE_ESCAPE} ORDER BY ${name} COLLATE NOCASE LIMIT ?`,
    )
    .bind(likeContains(q.q), FILTER_NAMES_LIMIT)
    .all<FilterName>();
  return results;
}

/**
 * The recordings page's pickers: names drawn from the recordings the caller may see, the same rule as
 * recordingViewer (auditors and admins all; a zone admin their zones; anyone their own where the zone
 * lets owners replay). A zone admin typing a name never learns of a user, server or zone outside them.
 */
export async function recordingNames(db: D1Database, user: AuthUser, q: FilterNamesQuery): Promise<FilterName[]> {
  const column = { user: ["u.id", "u.username"], server: ["sv.id", "sv.name"], zone: ["z.id", "z.name"] }[q.kind];
  const where = ["r.status != 'deleted'", `${column[1]} LIKE ? ${LIKE_ESCAPE}`];
  const args: (string | number)[] = [likeContains(q.q)];
  const scope = await adminScope(db, user);
  if (!user.roles.includes("auditor") && !scope.all) {
    where.push("(r.zone_id IN (SELECT value FROM json_each(?)) OR (r.user_id = ? AND z.recording_owner_replay = 1))");
    args.push(JSON.stringify([...scope.zones]), user.id);
  }
  const { results } = await db
    .prepare(
      `SELECT DISTINCT ${column[0]} AS id, ${column[1]} AS name FROM recordings r
       JOIN users u ON u.id = r.user_id JOIN servers sv ON sv.id = r.server_id JOIN zones z ON z.id = r.zone_id
       WHERE ${where.join(" AND ")} ORDER BY name COLLATE NOCASE LIMIT ?`,
    )
    .bind(...args, FILTER_NAMES_LIMIT)
    .all<FilterName>();
  return results;
}
