// The one owner of `servers` and `discovered_servers` (AGENTS.md, "One owner per table"): every INSERT, UPDATE and
// DELETE on them is a named function here, which sets a new row's defaults. Routes and discovery.ts decide, audit
// and call enforceAccess; a function returning D1PreparedStatements is for the caller's batch (or
// `insertOrConflict`).
import type { DiscoveredServerReport, DiscoveryLifecycle, ServerProtocol } from "../../protocol/index.ts";

// ---- Servers ---------------------------------------------------------------------------------------------

export type NewServer = {
  id: string;
  name: string;
  host: string;
  port: number;
  /** `ssh` when not given (a CSV row names none). */
  protocol?: ServerProtocol;
  siteId: string;
  zoneId: string;
  hostKey: string;
  tags: string[];
  /** `manual`, `csv` or `discovered:<source>`. */
  source: string;
};

/** A new server; a taken name fails the statement (the caller's 409, or a CSV line's error). */
export function insertServer(db: D1Database, s: NewServer): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO servers (id, name, host, port, protocol, site_id, zone_id, host_key, tags, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(
      s.id,
      s.name,
      s.host,
      s.port,
      s.protocol ?? "ssh",
      s.siteId,
      s.zoneId,
      s.hostKey,
      JSON.stringify(s.tags),
      s.source,
      Date.now(),
    );
}

export async function repinServer(db: D1Database, id: string, hostKey: string): Promise<void> {
  await db.prepare("UPDATE servers SET host_key = ? WHERE id = ?").bind(hostKey, id).run();
}

/**
 * An admin's edit of a server that is not retired: each pair is a column (a key of the validated
 * UpdateServerRequest, never free text) and its stored value. A taken name throws (UNIQUE).
 */
export async function updateServer(db: D1Database, id: string, set: [column: string, stored: string | number][]) {
  await db
    .prepare(
      `UPDATE servers SET ${set.map(([column]) => `${column} = ?`).join(", ")} WHERE id = ? AND deleted_at IS NULL`,
    )
    .bind(...set.map(([, stored]) => stored), id)
    .run();
}

/**
 * Retires a server that is turned off (renamed to free its name), for one batch: the first statement changes no
 * row if it was turned on or retired meanwhile. Its discovered host may be adopted again.
 */
export function retireServer(db: D1Database, id: string, retiredName: string, now: number): D1PreparedStatement[] {
  return [
    db
      .prepare("UPDATE servers SET deleted_at = ?, name = ? WHERE id = ? AND deleted_at IS NULL AND enabled = 0")
      .bind(now, retiredName, id),
    db.prepare("UPDATE discovered_servers SET server_id = NULL WHERE server_id = ?").bind(id),
  ];
}

/** Discovery retired the server's host (`at`), or saw it again (null), for a batch. */
export function setDiscoveryRetired(db: D1Database, serverId: string, at: number | null): D1PreparedStatement {
  return db.prepare("UPDATE servers SET discovery_retired_at = ? WHERE id = ?").bind(at, serverId);
}

/** An enabled server follows its discovered host to a new address, for a batch. */
export function moveServer(
  db: D1Database,
  serverId: string,
  address: { host: string; port: number },
): D1PreparedStatement {
  return db
    .prepare("UPDATE servers SET host = ?, port = ? WHERE id = ? AND deleted_at IS NULL")
    .bind(address.host, address.port, serverId);
}

// ---- Discovered servers ----------------------------------------------------------------------------------

/**
 * A connector's sighting of one host, for a batch: new hosts are `seen`; a known one takes the new address and
 * keeps what this report did not probe, and is `seen` again (its lifecycle time moves only if it was not).
 */
export function upsertDiscovered(
  db: D1Database,
  report: { siteId: string; connectorId: string; now: number },
  s: DiscoveredServerReport,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO discovered_servers (id, site_id, source, source_id, name, host, port, os, proposed_host_key, host_key_type,
       rdp_port, proposed_rdp_cert, connector_id, first_seen, last_seen, lifecycle, lifecycle_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seen', ?)
     ON CONFLICT (site_id, source, source_id) DO UPDATE SET
       name = excluded.name, host = excluded.host, port = excluded.port, os = coalesce(excluded.os, os),
       proposed_host_key = coalesce(excluded.proposed_host_key, proposed_host_key),
       host_key_type = coalesce(excluded.host_key_type, host_key_type),
       rdp_port = coalesce(excluded.rdp_port, rdp_port),
       proposed_rdp_cert = coalesce(excluded.proposed_rdp_cert, proposed_rdp_cert),
       connector_id = excluded.connector_id, last_seen = excluded.last_seen,
       lifecycle_at = CASE WHEN lifecycle = 'seen' THEN lifecycle_at ELSE excluded.lifecycle_at END,
       lifecycle = 'seen'`,
    )
    .bind(
      crypto.randomUUID(),
      report.siteId,
      s.source,
      s.sourceId,
      s.name,
      s.host,
      s.port,
      s.os ?? null,
      s.hostKey ?? null,
      s.hostKeyType ?? null,
      s.rdpPort ?? null,
      s.rdpCert ?? null,
      report.connectorId,
      report.now,
      report.now,
      report.now,
    );
}

/**
 * Ages a host to `next` if it is still as read (`lifecycle`, `lastSeen`): a report that saw it meanwhile wins.
 * Whether it moved.
 */
export async function ageDiscoveredHost(
  db: D1Database,
  row: { id: string; lifecycle: DiscoveryLifecycle; lastSeen: number },
  next: DiscoveryLifecycle,
  now: number,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      "UPDATE discovered_servers SET lifecycle = ?, lifecycle_at = ? WHERE id = ? AND lifecycle = ? AND last_seen = ?",
    )
    .bind(next, now, row.id, row.lifecycle, row.lastSeen)
    .run();
  return meta.changes > 0;
}

/** The discovered host is enabled as this server. */
export async function adoptDiscovered(db: D1Database, discoveredId: string, serverId: string): Promise<void> {
  await db.prepare("UPDATE discovered_servers SET server_id = ? WHERE id = ?").bind(serverId, discoveredId).run();
}
