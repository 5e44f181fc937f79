// The one owner of `zones` (AGENTS.md, "One owner per table"): every INSERT and UPDATE on it is a named function here,
// with the reads of the row as the API shows it. Callers decide, audit and call enforceAccess; this file does the SQL.
import type { Zone, ZoneRecordingPolicy } from "../../protocol/index.ts";

type ZoneRow = {
  id: string;
  name: string;
  site_id: string;
  description: string;
  policy_id: string | null;
  sensitivity: Zone["sensitivity"];
};
const ZONE_SELECT = "SELECT id, name, site_id, description, policy_id, sensitivity FROM zones";
const toZone = (z: ZoneRow): Zone => ({
  id: z.id,
  name: z.name,
  siteId: z.site_id,
  description: z.description,
  policyId: z.policy_id,
  sensitivity: z.sensitivity,
});

export async function listZones(db: D1Database): Promise<Zone[]> {
  const { results } = await db.prepare(`${ZONE_SELECT} ORDER BY name`).all<ZoneRow>();
  return results.map(toZone);
}

export async function loadZone(db: D1Database, id: string): Promise<Zone | null> {
  const row = await db.prepare(`${ZONE_SELECT} WHERE id = ?`).bind(id).first<ZoneRow>();
  return row ? toZone(row) : null;
}

/** A new zone; a taken name fails the statement (the caller's 409 through `insertOrConflict`). */
export function insertZone(db: D1Database, zone: Zone): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO zones (id, name, site_id, description, policy_id, sensitivity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(zone.id, zone.name, zone.siteId, zone.description, zone.policyId, zone.sensitivity, Date.now());
}

/** Stores the fields an admin may change (the name and site stay). */
export async function updateZone(db: D1Database, zone: Zone): Promise<void> {
  await db
    .prepare("UPDATE zones SET description = ?, policy_id = ?, sensitivity = ? WHERE id = ?")
    .bind(zone.description, zone.policyId, zone.sensitivity, zone.id)
    .run();
}

/** The zone's recording retention and owner replay; null when there is no such zone. */
export async function loadRecordingPolicy(db: D1Database, zoneId: string): Promise<ZoneRecordingPolicy | null> {
  const row = await db
    .prepare("SELECT recording_retention_days AS d, recording_owner_replay AS o FROM zones WHERE id = ?")
    .bind(zoneId)
    .first<{ d: number; o: number }>();
  return row ? { retentionDays: row.d, ownerReplay: !!row.o } : null;
}

export async function setRecordingPolicy(db: D1Database, zoneId: string, policy: ZoneRecordingPolicy): Promise<void> {
  await db
    .prepare("UPDATE zones SET recording_retention_days = ?, recording_owner_replay = ? WHERE id = ?")
    .bind(policy.retentionDays, policy.ownerReplay ? 1 : 0, zoneId)
    .run();
}
