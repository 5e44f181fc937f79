// Discovered servers: connectors report what their discovery jobs found (POST /connector/inventory,
// proof-of-key authenticated); admins see them per site as "discovered" with source and last seen,
// and enable one into a zone as SSH or RDP, pinning its host key or certificate. Only then is it a server anyone
// can use. Reruns move it (its server follows) and the sweep ages it (worker/access/discovery.ts).
import { z } from "zod";
import {
  connectorEndpoint,
  DiscoveredServer,
  type DiscoveryLifecycle,
  DiscoveryLifecycleSettings,
  EnableDiscoveredRequest,
  InventoryReceipt,
  InventoryReport,
  MAX_INVENTORY_BODY,
} from "../../protocol/index.ts";
import { takeReport } from "../access/discovery.ts";
import { serverAddress } from "../access/discovery-lifecycle.ts";
import { adminScope, requireAdmin, requireZone } from "../access/scope.ts";
import { adoptDiscovered, insertServer } from "../access/server-store.ts";
import { lifecycleSettings, setLifecycleSettings } from "../access/site-store.ts";
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
    const { servers } = c.req.valid("json");
    await takeReport(c.env, c.get("connector"), servers, Date.now());
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
  rdp_port: number | null;
  proposed_rdp_cert: string | null;
  lifecycle: DiscoveryLifecycle;
  lifecycle_at: number | null;
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
  offers: [...(r.proposed_host_key ? (["ssh"] as const) : []), ...(r.proposed_rdp_cert ? (["rdp"] as const) : [])],
  rdpPort: r.rdp_port,
  proposedRdpCert: r.proposed_rdp_cert,
  lifecycle: r.lifecycle,
  lifecycleAt: r.lifecycle_at,
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
    summary: "Enable a discovered server in a zone as SSH or RDP, pinning its host key or certificate",
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
    if (found.lifecycle === "retired") throw new ApiFailure("conflict", "retired: no rerun has seen it for a while");
    const zone = await c.env.DB.prepare("SELECT site_id FROM zones WHERE id = ?")
      .bind(body.zoneId)
      .first<{ site_id: string }>();
    if (!zone || zone.site_id !== found.site_id) {
      throw new ApiFailure("bad_request", "the zone must belong to the site whose connector found the server");
    }
    const serverId = crypto.randomUUID();
    const name = body.name ?? found.name;
    // SSH dials the source's port; RDP the port the probe answered on (3389 when none did).
    const address = serverAddress(body.protocol, { host: found.host, port: found.port, rdpPort: found.rdp_port });
    const proposal = body.protocol === "rdp" ? found.proposed_rdp_cert : found.proposed_host_key;
    await insertOrConflict(
      insertServer(c.env.DB, {
        id: serverId,
        name,
        host: address.host,
        port: address.port,
        protocol: body.protocol,
        siteId: found.site_id,
        zoneId: body.zoneId,
        hostKey: body.hostKey,
        tags: body.tags,
        source: `discovered:${found.source}`,
      }),
    );
    await adoptDiscovered(c.env.DB, found.id, serverId);
    await adminChange(c, {
      target: { type: "server", id: serverId, name },
      refs: { serverId },
      data: {
        after: {
          name,
          host: address.host,
          port: address.port,
          protocol: body.protocol,
          zoneId: body.zoneId,
          hostKey: body.hostKey,
          source: `discovered:${found.source}`,
          discoveredId: found.id,
          hostKeyMatchesProposal: proposal === body.hostKey,
        },
      },
    });
    return c.json(toApi({ ...found, server_id: serverId }), 201);
  },
);

discovery.openapi(
  route({
    method: "get",
    path: "/sites/{id}/discovery-lifecycle",
    summary: "After how many days unseen a site's discovered hosts become stale, then retired",
    tags: ["discovery"],
    middleware: [requireUser],
    params: IdParam,
    response: DiscoveryLifecycleSettings,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const id = c.req.valid("param").id;
    if (!(await c.env.DB.prepare("SELECT 1 FROM sites WHERE id = ?").bind(id).first()))
      throw new ApiFailure("not_found");
    return c.json(await lifecycleSettings(c.env.DB, id), 200);
  },
);

discovery.openapi(
  route({
    method: "put",
    path: "/sites/{id}/discovery-lifecycle",
    summary: "Set after how many days unseen a site's discovered hosts become stale, then retired",
    tags: ["discovery"],
    middleware: [requireUser],
    params: IdParam,
    body: DiscoveryLifecycleSettings,
    response: DiscoveryLifecycleSettings,
  }),
  async (c) => {
    // Retiring takes servers out of reach across the site's zones: a global admin's setting.
    requireAdmin(c.get("user"));
    const id = c.req.valid("param").id;
    const body = c.req.valid("json");
    const site = await c.env.DB.prepare("SELECT name FROM sites WHERE id = ?").bind(id).first<{ name: string }>();
    if (!site) throw new ApiFailure("not_found");
    const before = await lifecycleSettings(c.env.DB, id);
    await setLifecycleSettings(c.env.DB, id, body);
    await adminChange(c, {
      target: { type: "site", id, name: site.name },
      data: { before: { discoveryLifecycle: before }, after: { discoveryLifecycle: body } },
    });
    return c.json(body, 200);
  },
);
