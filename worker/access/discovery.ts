// Discovered hosts in D1: a connector's report (upsert, come back, an enabled server follows a new address) and the
// sweep's ageing (stale, then retired: the enabled server is refused for checkout and what stands on it ends).
// The decisions are discovery-lifecycle.ts, the writes server-store.ts; this file reads, audits and calls revocation.
import type { DiscoveredServerReport, ServerProtocol } from "../../protocol/index.ts";
import { record } from "../audit.ts";
import type { Env } from "../env.ts";
import { aged, dueBefore, type HostRecord, type LifecycleEvent, sighted } from "./discovery-lifecycle.ts";
import { enforceAccess } from "./revocation.ts";
import { ageDiscoveredHost, moveServer, setDiscoveryRetired, upsertDiscovered } from "./server-store.ts";

/** Hosts aged per site per sweep: 500 (the rest are due next minute). */
const AGE_BATCH = 500;

type Known = {
  id: string;
  source: string;
  source_id: string;
  name: string;
  host: string;
  port: number;
  rdp_port: number | null;
  lifecycle: HostRecord["lifecycle"];
  last_seen: number;
  server_id: string | null;
  s_protocol: ServerProtocol | null;
  s_host: string | null;
  s_port: number | null;
  s_name: string | null;
};

const KNOWN = `SELECT d.id, d.source, d.source_id, d.name, d.host, d.port, d.rdp_port, d.lifecycle, d.last_seen, d.server_id,
    s.protocol AS s_protocol, s.host AS s_host, s.port AS s_port, s.name AS s_name
  FROM discovered_servers d LEFT JOIN servers s ON s.id = d.server_id AND s.deleted_at IS NULL`;

const record_ = (k: Known): HostRecord => ({
  lifecycle: k.lifecycle,
  lastSeen: k.last_seen,
  host: k.host,
  port: k.port,
  rdpPort: k.rdp_port,
  server:
    k.s_protocol && k.s_host !== null && k.s_port !== null
      ? { protocol: k.s_protocol, host: k.s_host, port: k.s_port }
      : null,
});

/** A connector's report: every host is seen at `now`; moves and returns are applied and audited. */
export async function takeReport(
  env: Env,
  connector: { id: string; siteId: string },
  servers: DiscoveredServerReport[],
  now: number,
): Promise<void> {
  if (servers.length === 0) return;
  const known = new Map<string, Known>();
  // Known rows of this site, by (source, source id); 40 a query keeps under D1's 100 bound parameters.
  for (let i = 0; i < servers.length; i += 40) {
    const chunk = servers.slice(i, i + 40);
    const { results } = await env.DB.prepare(
      `${KNOWN} WHERE d.site_id = ? AND (d.source, d.source_id) IN (VALUES ${chunk.map(() => "(?, ?)").join(", ")})`,
    )
      .bind(connector.siteId, ...chunk.flatMap((s) => [s.source, s.sourceId]))
      .all<Known>();
    for (const r of results) known.set(`${r.source}\n${r.source_id}`, r);
  }
  const statements: D1PreparedStatement[] = [];
  const audits: { row: Known; event: LifecycleEvent }[] = [];
  const report = { siteId: connector.siteId, connectorId: connector.id, now };
  for (const s of servers) {
    statements.push(upsertDiscovered(env.DB, report, s));
    const prev = known.get(`${s.source}\n${s.sourceId}`);
    if (!prev) continue;
    for (const event of sighted(record_(prev), { host: s.host, port: s.port, rdpPort: s.rdpPort ?? null }).events) {
      audits.push({ row: prev, event });
      if (event.kind === "returned" && prev.server_id)
        statements.push(setDiscoveryRetired(env.DB, prev.server_id, null));
      if (event.kind === "address_changed" && event.serverFollows && prev.server_id)
        statements.push(moveServer(env.DB, prev.server_id, event.serverFollows));
    }
  }
  await env.DB.batch(statements);
  for (const { row, event } of audits) {
    const target = { type: "discovered_server", id: row.id, name: row.name };
    const refs = row.server_id ? { serverId: row.server_id } : {};
    if (event.kind === "returned")
      await record(env, { actor: null, action: "discovery.returned", target, refs, data: { from: event.from } });
    else
      await record(env, {
        actor: null,
        action: "discovery.address_changed",
        target,
        refs,
        data: {
          before: event.before,
          after: event.after,
          serverFollowed: event.serverFollows !== null,
          ...(row.server_id ? { serverId: row.server_id, serverName: row.s_name } : {}),
        },
      });
  }
}

/** The sweep's part: hosts no rerun saw for their site's days become stale, then retired. Returns how many moved. */
export async function ageDiscovered(env: Env, now: number): Promise<number> {
  const { results: sites } = await env.DB.prepare(
    "SELECT id, discovery_stale_days AS s, discovery_retire_days AS r FROM sites",
  ).all<{ id: string; s: number; r: number }>();
  let moved = 0;
  for (const site of sites) {
    const settings = { staleAfterDays: site.s, retireAfterDays: site.r };
    const { results } = await env.DB.prepare(
      `${KNOWN} WHERE d.site_id = ? AND d.lifecycle != 'retired' AND d.last_seen <= ? ORDER BY d.last_seen LIMIT ${AGE_BATCH}`,
    )
      .bind(site.id, dueBefore(now, settings))
      .all<Known>();
    for (const row of results) {
      const next = aged(record_(row), now, settings);
      if (!next) continue;
      if (
        !(await ageDiscoveredHost(env.DB, { id: row.id, lifecycle: row.lifecycle, lastSeen: row.last_seen }, next, now))
      )
        continue;
      moved++;
      const serverId = row.s_name !== null ? row.server_id : null;
      if (next === "retired" && serverId) await setDiscoveryRetired(env.DB, serverId, now).run();
      await record(env, {
        actor: null,
        action: next === "retired" ? "discovery.retired" : "discovery.stale",
        target: { type: "discovered_server", id: row.id, name: row.name },
        refs: serverId ? { serverId } : {},
        data: {
          lastSeen: row.last_seen,
          days: next === "retired" ? settings.retireAfterDays : settings.staleAfterDays,
          ...(serverId ? { serverId, serverName: row.s_name } : {}),
        },
      });
      // Checkouts on a retired server fall (requalify: entitlement leaves retired servers out) and their sessions end.
      if (next === "retired" && serverId)
        await enforceAccess(env, { kind: "server", serverId }, "discovered host retired", null, now);
    }
  }
  return moved;
}
