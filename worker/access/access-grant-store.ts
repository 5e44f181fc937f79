// The one owner of `access_grants` (AGENTS.md, "One owner per table"): a group's right to a zone's credentials,
// narrowed to a server or a credential. The admin routes decide, audit and call enforceAccess; this file does the
// SQL. Entitlement reads them in the catalog's one SQL definition (catalog.ts).
import type { AccessGrant } from "../../protocol/index.ts";
import type { ZoneScope } from "./scope.ts";

type GrantRow = {
  id: string;
  group_id: string;
  zone_id: string;
  server_id: string | null;
  credential_id: string | null;
};

const toGrant = (g: GrantRow): AccessGrant => ({
  id: g.id,
  groupId: g.group_id,
  zoneId: g.zone_id,
  serverId: g.server_id,
  credentialId: g.credential_id,
});

/** Every grant, oldest first (the caller keeps those in its scope). */
/** The grants in `scope`'s zones, oldest first (selected in SQL: a zone admin's list never loads other zones'). */
export async function accessGrants(db: D1Database, scope: ZoneScope): Promise<AccessGrant[]> {
  const { results } = scope.all
    ? await db.prepare("SELECT * FROM access_grants ORDER BY created_at").all<GrantRow>()
    : await db
        .prepare("SELECT * FROM access_grants WHERE zone_id IN (SELECT value FROM json_each(?)) ORDER BY created_at")
        .bind(JSON.stringify([...scope.zones]))
        .all<GrantRow>();
  return results.map(toGrant);
}

export async function accessGrant(db: D1Database, id: string): Promise<AccessGrant | null> {
  const row = await db.prepare("SELECT * FROM access_grants WHERE id = ?").bind(id).first<GrantRow>();
  return row ? toGrant(row) : null;
}

/** A new grant (the caller checked that its group, server and credential exist and are in its zone). */
export async function insertAccessGrant(db: D1Database, grant: AccessGrant): Promise<void> {
  await db
    .prepare(
      "INSERT INTO access_grants (id, group_id, zone_id, server_id, credential_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(grant.id, grant.groupId, grant.zoneId, grant.serverId, grant.credentialId, Date.now())
    .run();
}

export async function deleteAccessGrant(db: D1Database, id: string): Promise<void> {
  await db.prepare("DELETE FROM access_grants WHERE id = ?").bind(id).run();
}
