// The one owner of `groups`, `group_members` and `zone_admins` (AGENTS.md, "One owner per table"): every INSERT,
// UPDATE and DELETE on them is a named function here. Callers decide, audit and call enforceAccess; this file does
// the SQL. A function that returns D1PreparedStatements is for the caller's batch (or `insertOrConflict`).

// ---- Groups ----------------------------------------------------------------------------------------------

/** A group our admins make. A taken name fails the statement (the caller's 409). */
export function insertGroup(db: D1Database, id: string, name: string): D1PreparedStatement {
  return db.prepare("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)").bind(id, name, Date.now());
}

/** A group SCIM provisions, with its first members (provisioned users, checked by the caller), for one batch. */
export function insertProvisionedGroup(
  db: D1Database,
  group: { id: string; name: string; externalId: string | null; now: number },
  members: string[],
): D1PreparedStatement[] {
  return [
    db
      .prepare(
        "INSERT INTO groups (id, name, external_id, source, created_at, modified_at) VALUES (?, ?, ?, 'scim', ?, ?)",
      )
      .bind(group.id, group.name, group.externalId, group.now, group.now),
    ...members.map((userId) => addMember(db, group.id, userId)),
  ];
}

/** SCIM's rename (displayName and externalId), for a batch. */
export function renameProvisionedGroup(
  db: D1Database,
  id: string,
  change: { name: string; externalId: string | null; now: number },
): D1PreparedStatement {
  return db
    .prepare("UPDATE groups SET name = ?, external_id = ?, modified_at = ? WHERE id = ?")
    .bind(change.name, change.externalId, change.now, id);
}

/** Deletes a group; its memberships and grants go with it (ON DELETE CASCADE, migration 0002). */
export async function deleteGroup(db: D1Database, id: string): Promise<void> {
  await db.prepare("DELETE FROM groups WHERE id = ?").bind(id).run();
}

// ---- Members ---------------------------------------------------------------------------------------------

/** Adds a member (the caller knows the user exists), for a batch. */
export function addMember(db: D1Database, groupId: string, userId: string): D1PreparedStatement {
  return db.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(groupId, userId);
}

export function removeMember(db: D1Database, groupId: string, userId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?").bind(groupId, userId);
}

/** Replaces a group's members, for one batch; an id that names no user is left out. */
export function replaceMembers(db: D1Database, groupId: string, userIds: string[]): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM group_members WHERE group_id = ?").bind(groupId),
    ...userIds.map((userId) =>
      db
        .prepare("INSERT INTO group_members (group_id, user_id) SELECT ?, id FROM users WHERE id = ?")
        .bind(groupId, userId),
    ),
  ];
}

/** Takes a user out of every group, for a batch. */
export function leaveAllGroups(db: D1Database, userId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM group_members WHERE user_id = ?").bind(userId);
}

// ---- Zone admins -----------------------------------------------------------------------------------------

/** The zones a user administers (their zone_admin role's reach), as a statement for a batch. */
export function selectZonesAdministered(db: D1Database, userId: string): D1PreparedStatement {
  return db.prepare("SELECT zone_id FROM zone_admins WHERE user_id = ?").bind(userId);
}

export async function zonesAdministered(db: D1Database, userId: string): Promise<string[]> {
  const { results } = await selectZonesAdministered(db, userId).all<{ zone_id: string }>();
  return results.map((r) => r.zone_id);
}

/** The user administers exactly these zones, for one batch; an id that names no zone is left out. */
export function setZonesAdministered(db: D1Database, userId: string, zoneIds: string[]): D1PreparedStatement[] {
  return [
    dropZoneAdministration(db, userId),
    ...zoneIds.map((zoneId) =>
      db
        .prepare("INSERT INTO zone_admins (zone_id, user_id) SELECT id, ? FROM zones WHERE id = ?")
        .bind(userId, zoneId),
    ),
  ];
}

/** The user administers no zone any more, for a batch. */
export function dropZoneAdministration(db: D1Database, userId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM zone_admins WHERE user_id = ?").bind(userId);
}
