// Discovered servers: connectors report what their discovery jobs found (POST /connector/inventory,
// proof-of-key authenticated); admins see them per site as "discovered" with source and last seen,
// and enable one into a zone, pinning its host key. Only then is it a server anyone can use.
import { z } from "zod";
import {
  connectorEndpoint,
  DiscoveredServer,
  EnableDiscoveredRequest,
  InventoryReceipt,
  InventoryReport,
  MAX_INVENTORY_BODY,
} from "../../protocol/index.ts";
import { adminScope, requireAdmin, requireZone } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { requireConnector } from "../connector-auth.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

/** Inventory routes for connectors (mounted at /) and for admins (mounted at /api). */
export const connectorInventory = newApi();
export const discovery = newApi();

connectorInventory.openapi(
  route({
    method: "post",
    path: "/connector/inventory",
    summary: "A connector reports the servers its discovery jobs found",
    tags: ["discovery"],
    // The connector is authenticated before its body is read (a stranger's body is never parsed).
    middleware: [requireConnector(connectorEndpoint.inventory)],
    body: InventoryReport,
    bodyLimit: MAX_INVENTORY_BODY,
    response: InventoryReceipt,
  }),
  async (c) => {
    const connector = c.get("connector");
    const { servers } = c.req.valid("json");
    const now = Date.now();
    const upsert = c.env.DB.prepare(
      `INSERT INTO discovered_servers (id, site_id, source, source_id, name, host, port, os, proposed_host_key, host_key_type, connector_id, first_seen, last_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (site_id, source, source_id) DO UPDATE SET
         name = excluded.name, host = excluded.host, port = excluded.port, os = coalesce(excluded.os, os),
         proposed_host_key = coalesce(excluded.proposed_host_key, proposed_host_key),
         host_key_type = coalesce(excluded.host_key_type, host_key_type),
         connector_id = excluded.connector_id, last_seen = excluded.last_seen`,
    );
    if (servers.length > 0) {
      await c.env.DB.batch(
        servers.map((s) =>
          upsert.bind(
            crypto.randomUUID(),
            connector.siteId,
            s.source,
            s.sourceId,
            s.name,
            s.host,
            s.port,
            s.os ?? null,
            s.hostKey ?? null,
            s.hostKeyType ?? null,
            connector.id,
            now,
            now,
          ),
        ),
      );
    }
    return c.json({ received: servers.length }, 200);
  },
);

type Row = {
  id: string;
  site_id: string;
  source: DiscoveredServer["source"];
  source_id: string;
  name: string;
  host: string;
  port: number;
  os: string | null;
  proposed_host_key: string | null;
  host_key_type: string | null;
  connector_id: string;
  first_seen: number;
  last_seen: number;
  server_id: string | null;
};
const toApi = (r: Row): DiscoveredServer => ({
  id: r.id,
  siteId: r.site_id,
  source: r.source,
  sourceId: r.source_id,
  name: r.name,
  host: r.host,
  port: r.port,
  os: r.os,
  proposedHostKey: r.proposed_host_key,
  hostKeyType: r.host_key_type,
  connectorId: r.connector_id,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  status: r.server_id ? "enabled" : "discovered",
  serverId: r.server_id,
});

discovery.openapi(
  route({
    method: "get",
    path: "/sites/{id}/discovered",
    summary: "Servers the site's connectors discovered, with source and last seen",
    tags: ["discovery"],
    middleware: [requireUser],
    params: IdParam,
    response: z.array(DiscoveredServer),
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { results } = await c.env.DB.prepare(
      "SELECT * FROM discovered_servers WHERE site_id = ? ORDER BY last_seen DESC, name LIMIT 5000",
    )
      .bind(c.req.valid("param").id)
      .all<Row>();
    return c.json(results.map(toApi), 200);
  },
);

discovery.openapi(
  route({
    method: "post",
    path: "/discovered/{id}/enable",
    summary: "Enable a discovered server in a zone, pinning its host key",
    tags: ["discovery"],
    middleware: [requireUser],
    params: IdParam,
    body: EnableDiscoveredRequest,
    response: DiscoveredServer,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireZone(await adminScope(c.env.DB, c.get("user")), body.zoneId);
    const found = await c.env.DB.prepare("SELECT * FROM discovered_servers WHERE id = ?")
      .bind(c.req.valid("param").id)
      .first<Row>();
    if (!found) throw new ApiFailure("not_found");
    if (found.server_id) throw new ApiFailure("conflict", "already enabled");
    const zone = await c.env.DB.prepare("SELECT site_id FROM zones WHERE id = ?")
      .bind(body.zoneId)
      .first<{ site_id: string }>();
    if (!zone || zone.site_id !== found.site_id) {
      throw new ApiFailure("bad_request", "the zone must belong to the site whose connector found the server");
    }
    const serverId = crypto.randomUUID();
    const name = body.name ?? found.name;
    await insertOrConflict(
      c.env.DB.prepare(
        "INSERT INTO servers (id, name, host, port, protocol, site_id, zone_id, host_key, tags, source, created_at) VALUES (?, ?, ?, ?, 'ssh', ?, ?, ?, ?, ?, ?)",
      ).bind(
        serverId,
        name,
        found.host,
        found.port,
        found.site_id,
        body.zoneId,
        body.hostKey,
        JSON.stringify(body.tags),
        `discovered:${found.source}`,
        Date.now(),
      ),
    );
    await c.env.DB.prepare("UPDATE discovered_servers SET server_id = ? WHERE id = ?").bind(serverId, found.id).run();
    await adminChange(c, {
      target: { type: "server", id: serverId, name },
      refs: { serverId },
      data: {
        after: {
          name,
          host: found.host,
          port: found.port,
          zoneId: body.zoneId,
          hostKey: body.hostKey,
          source: `discovered:${found.source}`,
          discoveredId: found.id,
          hostKeyMatchesProposal: found.proposed_host_key === body.hostKey,
        },
      },
    });
    return c.json(toApi({ ...found, server_id: serverId }), 201);
  },
);
