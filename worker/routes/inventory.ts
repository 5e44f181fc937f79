// Servers (manual and CSV import), sealed credentials, and access grants, each inside a zone.
// Admins act on every zone, zone admins on their own only.
import { z } from "zod";
import {
  AdminServer,
  AccessGrant,
  CreateAccessGrantRequest,
  Created,
  CreateCredentialRequest,
  CreateServerRequest,
  ReplaceSecretRequest,
  HostKeyProbeResult,
  UpdateCredentialRequest,
  UpdateServerRequest,
  ImportServersRequest,
  ImportServersResponse,
  MAX_SERVER_IMPORT_BODY,
  Ok,
  RepinServerRequest,
} from "../../protocol/index.ts";
import { accessGrant, accessGrants, deleteAccessGrant, insertAccessGrant } from "../access/access-grant-store.ts";
import { insertCredential, replaceSecret, retireCredential, updateCredential } from "../access/credential-store.ts";
import { requireAttachablePolicy } from "../access/policy-scope.ts";
import { currentSealKey, requireSealedToCurrent } from "../access/seal-keys.ts";
import { adminScope, requireAnyAdmin, requireZone } from "../access/scope.ts";
import { parseServerCsv } from "../access/server-csv.ts";
import { insertServer, repinServer, retireServer, updateServer } from "../access/server-store.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { enforceAccess } from "../access/revocation.ts";

export const inventory = newApi();
const tags = ["inventory"];
const middleware = [requireUser];

async function zoneSite(db: D1Database, zoneId: string): Promise<string> {
  const zone = await db.prepare("SELECT site_id FROM zones WHERE id = ?").bind(zoneId).first<{ site_id: string }>();
  if (!zone) throw new ApiFailure("not_found", `zone ${zoneId}`);
  return zone.site_id;
}

inventory.openapi(
  route({
    method: "get",
    path: "/servers",
    summary: "List servers in the caller's zones",
    tags,
    middleware,
    response: z.array(AdminServer),
  }),
  async (c) => {
    requireAnyAdmin(c.get("user"));
    const scope = await adminScope(c.env.DB, c.get("user"));
    // The caller's zones are chosen in SQL (a zone admin's list never loads other zones' rows), and each server's
    // credentials are grouped in one pass.
    const inCallerZones = "(?1 = 1 OR s.zone_id IN (SELECT value FROM json_each(?2)))";
    const zones = [scope.all ? 1 : 0, JSON.stringify(scope.all ? [] : [...scope.zones])];
    const [servers, creds] = await c.env.DB.batch<Record<string, string | number>>([
      c.env.DB.prepare(
        `SELECT s.*, z.name AS zone_name FROM servers s JOIN zones z ON z.id = s.zone_id
         WHERE s.deleted_at IS NULL AND ${inCallerZones} ORDER BY s.name`,
      ).bind(...zones),
      c.env.DB.prepare(
        `SELECT c.id, c.name, c.username, c.kind, c.enabled, c.sealed != '' AS vaulted, c.rotation_state, c.rotation_error,
           c.rotated_at, c.verified_at, sc.server_id
         FROM credentials c JOIN server_credentials sc ON sc.credential_id = c.id JOIN servers s ON s.id = sc.server_id
         WHERE c.deleted_at IS NULL AND s.deleted_at IS NULL AND ${inCallerZones} ORDER BY c.name`,
      ).bind(...zones),
    ]);
    const byServer = new Map<string, Record<string, string | number>[]>();
    for (const cr of creds?.results ?? []) {
      const group = byServer.get(cr.server_id as string);
      if (group) group.push(cr);
      else byServer.set(cr.server_id as string, [cr]);
    }
    const list: AdminServer[] = (servers?.results ?? []).map((s) => ({
      id: s.id as string,
      name: s.name as string,
      host: s.host as string,
      port: s.port as number,
      protocol: s.protocol as "ssh" | "rdp",
      siteId: s.site_id as string,
      zoneId: s.zone_id as string,
      zoneName: s.zone_name as string,
      tags: JSON.parse(s.tags as string),
      source: s.source as string,
      enabled: !!s.enabled,
      hostKey: s.host_key as string,
      credentials: (byServer.get(s.id as string) ?? []).map((cr) => ({
        id: cr.id as string,
        name: cr.name as string,
        username: cr.username as string,
        kind: cr.kind as "password" | "private_key",
        enabled: !!cr.enabled,
        vaulted: !!cr.vaulted,
        rotation: cr.rotation_state as AdminServer["credentials"][number]["rotation"],
        rotationError: (cr.rotation_error ?? null) as AdminServer["credentials"][number]["rotationError"],
        rotatedAt: (cr.rotated_at ?? null) as number | null,
        verifiedAt: (cr.verified_at ?? null) as number | null,
      })),
    }));
    return c.json(list, 200);
  },
);

inventory.openapi(
  route({
    method: "post",
    path: "/servers",
    summary: "Register a server",
    tags,
    middleware,
    body: CreateServerRequest,
    response: Created,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireZone(await adminScope(c.env.DB, c.get("user")), body.zoneId);
    const id = crypto.randomUUID();
    const siteId = await zoneSite(c.env.DB, body.zoneId);
    await insertOrConflict(insertServer(c.env.DB, { ...body, id, siteId, source: "manual" }));
    await adminChange(c, {
      target: { type: "server", id, name: body.name },
      refs: { serverId: id },
      data: { after: body },
    });
    return c.json({ id }, 201);
  },
);

inventory.openapi(
  route({
    method: "post",
    path: "/servers/{id}/host-key/probe",
    summary: "Read the host key the server presents now, through a connector of its site (compare before pinning)",
    tags,
    middleware,
    params: IdParam,
    response: HostKeyProbeResult,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const server = await c.env.DB.prepare(
      "SELECT name, zone_id, site_id, host, port, protocol, host_key FROM servers WHERE id = ? AND deleted_at IS NULL",
    )
      .bind(id)
      .first<{
        name: string;
        zone_id: string;
        site_id: string;
        host: string;
        port: number;
        protocol: string;
        host_key: string;
      }>();
    if (!server) throw new ApiFailure("not_found", `server ${id}`);
    requireZone(await adminScope(c.env.DB, c.get("user")), server.zone_id);
    // Only the server's own registered address: the probe is not a way to scan the site's network.
    if (server.protocol !== "ssh") throw new ApiFailure("bad_request", "host key probes are for SSH servers");
    const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(server.site_id));
    const outcome = await hub.probeHostKey(server.host, server.port);
    if (!outcome.ok) {
      console.warn(`host key probe of server ${id}: ${outcome.error}`);
      return c.json({ ok: false as const, error: outcome.error }, 200);
    }
    const connector = await c.env.DB.prepare("SELECT name FROM connectors WHERE id = ?")
      .bind(outcome.connectorId)
      .first<{ name: string }>();
    return c.json(
      {
        ok: true as const,
        fingerprint: outcome.fingerprint,
        keyType: outcome.keyType,
        connector: connector?.name ?? outcome.connectorId,
        matchesPinned: outcome.fingerprint === server.host_key,
      },
      200,
    );
  },
);

inventory.openapi(
  route({
    method: "put",
    path: "/servers/{id}/host-key",
    summary: "Re-pin a server's host key or certificate fingerprint",
    tags,
    middleware,
    params: IdParam,
    body: RepinServerRequest,
    response: Created,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const { hostKey } = c.req.valid("json");
    const server = await c.env.DB.prepare(
      "SELECT name, zone_id, host_key FROM servers WHERE id = ? AND deleted_at IS NULL",
    )
      .bind(id)
      .first<{ name: string; zone_id: string; host_key: string }>();
    if (!server) throw new ApiFailure("not_found", `server ${id}`);
    requireZone(await adminScope(c.env.DB, c.get("user")), server.zone_id);
    await repinServer(c.env.DB, id, hostKey);
    await adminChange(c, {
      target: { type: "server", id, name: server.name },
      refs: { serverId: id },
      data: { before: { hostKey: server.host_key }, after: { hostKey } },
    });
    return c.json({ id }, 200);
  },
);

inventory.openapi(
  route({
    method: "post",
    path: "/servers/import",
    summary: "Import servers from CSV",
    tags,
    middleware,
    body: ImportServersRequest,
    bodyLimit: MAX_SERVER_IMPORT_BODY,
    response: ImportServersResponse,
  }),
  async (c) => {
    const { zoneId, csv } = c.req.valid("json");
    requireZone(await adminScope(c.env.DB, c.get("user")), zoneId);
    const siteId = await zoneSite(c.env.DB, zoneId);
    const parsed = parseServerCsv(csv);
    let created = 0;
    for (const server of parsed.servers) {
      const id = crypto.randomUUID();
      const ok = await insertServer(c.env.DB, { ...server, id, siteId, zoneId, source: "csv" })
        .run()
        .then(() => true)
        .catch(() => false);
      if (!ok) {
        parsed.errors.push({ line: server.line, error: "a server with this name already exists" });
        continue;
      }
      created++;
      await adminChange(c, {
        target: { type: "server", id, name: server.name },
        refs: { serverId: id },
        data: { after: { ...server, source: "csv" } },
      });
    }
    return c.json({ created, errors: parsed.errors.sort((a, b) => a.line - b.line) }, 200);
  },
);

inventory.openapi(
  route({
    method: "post",
    path: "/credentials",
    summary: "Store a sealed credential",
    tags,
    middleware,
    body: CreateCredentialRequest,
    response: Created,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireZone(await adminScope(c.env.DB, c.get("user")), body.zoneId);
    const siteId = await zoneSite(c.env.DB, body.zoneId);
    // Sealed in the browser to the key the page loaded: refused if the site's key has rotated since.
    if (body.sealed) await requireSealedToCurrent((await currentSealKey(c.env.DB, siteId))?.json ?? null, body.sealed);
    // A zone admin's policy choice is held to the zone's allow-list and never below the zone's own policy.
    await requireAttachablePolicy(c.env.DB, c.get("user"), body.zoneId, body.policyId);
    const marks = body.serverIds.map(() => "?").join(",");
    const { results: servers } = await c.env.DB.prepare(`SELECT id, zone_id FROM servers WHERE id IN (${marks})`)
      .bind(...body.serverIds)
      .all<{ id: string; zone_id: string }>();
    if (servers.length !== new Set(body.serverIds).size || servers.some((s) => s.zone_id !== body.zoneId)) {
      throw new ApiFailure("bad_request", "credential servers must exist and belong to the credential's zone");
    }
    const id = crypto.randomUUID();
    await c.env.DB.batch(
      insertCredential(
        c.env.DB,
        { ...body, id, siteId },
        servers.map((s) => s.id),
      ),
    );
    // The audit entry names the credential and never carries the sealed blob.
    await adminChange(c, {
      target: { type: "credential", id, name: body.name },
      data: {
        after: {
          name: body.name,
          username: body.username,
          ...(body.domain ? { domain: body.domain } : {}),
          kind: body.kind,
          externalRef: body.externalRef,
          zoneId: body.zoneId,
          serverIds: body.serverIds,
          policyId: body.policyId,
        },
      },
    });
    return c.json({ id }, 201);
  },
);

inventory.openapi(
  route({
    method: "get",
    path: "/grants",
    summary: "List access grants in the caller's zones",
    tags,
    middleware,
    response: z.array(AccessGrant),
  }),
  async (c) => {
    requireAnyAdmin(c.get("user"));
    return c.json(await accessGrants(c.env.DB, await adminScope(c.env.DB, c.get("user"))), 200);
  },
);

inventory.openapi(
  route({
    method: "post",
    path: "/grants",
    summary: "Grant a group a zone's credentials",
    tags,
    middleware,
    body: CreateAccessGrantRequest,
    response: AccessGrant,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireZone(await adminScope(c.env.DB, c.get("user")), body.zoneId);
    const fits = await c.env.DB.prepare(
      `SELECT (SELECT count(*) FROM groups WHERE id = ?) AS g,
            (? IS NULL OR EXISTS (SELECT 1 FROM servers WHERE id = ? AND zone_id = ?)) AS s,
            (? IS NULL OR EXISTS (SELECT 1 FROM credentials WHERE id = ? AND zone_id = ?)) AS c`,
    )
      .bind(body.groupId, body.serverId, body.serverId, body.zoneId, body.credentialId, body.credentialId, body.zoneId)
      .first<{ g: number; s: number; c: number }>();
    if (!fits?.g || !fits.s || !fits.c)
      throw new ApiFailure("bad_request", "group, server and credential must exist and be in the zone");
    const grant: AccessGrant = { id: crypto.randomUUID(), ...body };
    await insertAccessGrant(c.env.DB, grant);
    await adminChange(c, {
      target: { type: "grant", id: grant.id },
      data: { after: grant },
    });
    return c.json(grant, 201);
  },
);

inventory.openapi(
  route({
    method: "delete",
    path: "/grants/{id}",
    summary: "Remove an access grant",
    tags,
    middleware,
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const before = await accessGrant(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    requireZone(await adminScope(c.env.DB, c.get("user")), before.zoneId);
    await deleteAccessGrant(c.env.DB, id);
    await adminChange(c, {
      target: { type: "grant", id },
      data: { before, after: null },
    });
    await enforceAccess(c.env, { kind: "zone", zoneId: before.zoneId }, "grant removed", c.get("user"));
    return c.json({ ok: true }, 200);
  },
);

/**
 * Replaces a vaulted credential's secret (a password changed outside the PSM, a new key). Sealed in the admin's
 * browser to the site's current key; an out-of-sync credential is in sync again. Not while a rotation of it runs.
 */
inventory.openapi(
  route({
    method: "put",
    path: "/credentials/{id}/secret",
    summary: "Replace a vaulted credential's secret (sealed in the browser)",
    tags,
    middleware,
    params: IdParam,
    body: ReplaceSecretRequest,
    response: Ok,
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const { sealed } = c.req.valid("json");
    const row = await c.env.DB.prepare(
      "SELECT name, zone_id, site_id, sealed != '' AS vaulted, rotation_state FROM credentials WHERE id = ? AND deleted_at IS NULL",
    )
      .bind(id)
      .first<{ name: string; zone_id: string | null; site_id: string; vaulted: number; rotation_state: string }>();
    if (!row) throw new ApiFailure("not_found");
    requireZone(await adminScope(c.env.DB, c.get("user")), row.zone_id);
    if (!row.vaulted) throw new ApiFailure("bad_request", "EmpowerID holds this credential's secret");
    await requireSealedToCurrent((await currentSealKey(c.env.DB, row.site_id))?.json ?? null, sealed);
    if (!(await replaceSecret(c.env.DB, id, sealed)))
      throw new ApiFailure("credential_rotating", `credential ${id} is rotating`);
    // The audit entry says the secret changed; it never carries the blob.
    await adminChange(c, {
      target: { type: "credential", id, name: row.name },
      data: { after: { secret: "replaced" }, ...(row.rotation_state === "out_of_sync" ? { reconciled: true } : {}) },
    });
    return c.json({ ok: true }, 200);
  },
);

/**
 * Edit a server or credential, or turn it off or on. Off ends its open checkouts and sessions at once. A deleted
 * one (retired: sessions, checkouts and the ledger still name it) is not found here any more.
 */
for (const table of ["servers", "credentials"] as const) {
  const noun = table === "servers" ? "server" : "credential";
  inventory.openapi(
    route({
      method: "patch",
      path: `/${table}/{id}`,
      summary: `Edit a ${noun}, or turn it off or on; turning it off ends its open checkouts and sessions`,
      tags,
      middleware,
      params: IdParam,
      body: table === "servers" ? UpdateServerRequest : UpdateCredentialRequest,
      response: Ok,
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const change = c.req.valid("json") as UpdateServerRequest | UpdateCredentialRequest;
      const before = await c.env.DB.prepare(`SELECT * FROM ${table} WHERE id = ? AND deleted_at IS NULL`)
        .bind(id)
        .first<Record<string, string | number | null>>();
      if (!before) throw new ApiFailure("not_found");
      requireZone(await adminScope(c.env.DB, c.get("user")), before.zone_id as string | null);
      const set = Object.entries(change).map(([key, value]): [string, string | number] => [
        key,
        key === "enabled" ? (value ? 1 : 0) : key === "tags" ? JSON.stringify(value) : (value as string | number),
      ]);
      try {
        await (table === "servers" ? updateServer : updateCredential)(c.env.DB, id, set);
      } catch (err) {
        if (/UNIQUE/.test(String(err))) throw new ApiFailure("conflict", `${noun} name taken`);
        throw err;
      }
      const was = (key: string) =>
        key === "enabled" ? !!before.enabled : key === "tags" ? JSON.parse(before.tags as string) : before[key];
      await adminChange(c, {
        target: { type: noun, id, name: (change.name ?? before.name) as string },
        refs: table === "servers" ? { serverId: id } : {},
        data: {
          before: Object.fromEntries(set.map(([key]) => [key, was(key)])),
          after: change,
        },
      });
      if (change.enabled === false && before.enabled) {
        const revoked =
          table === "servers"
            ? { kind: "server" as const, serverId: id }
            : { kind: "credential" as const, credentialId: id };
        await enforceAccess(c.env, revoked, `${noun} disabled`, c.get("user"));
      }
      return c.json({ ok: true }, 200);
    },
  );

  inventory.openapi(
    route({
      method: "delete",
      path: `/${table}/{id}`,
      summary: `Delete a ${noun} that is turned off: it leaves every list and frees its name; history keeps it`,
      tags,
      middleware,
      params: IdParam,
      response: Ok,
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const before = await c.env.DB.prepare(
        `SELECT name, zone_id, enabled FROM ${table} WHERE id = ? AND deleted_at IS NULL`,
      )
        .bind(id)
        .first<{ name: string; zone_id: string | null; enabled: number }>();
      if (!before) throw new ApiFailure("not_found");
      requireZone(await adminScope(c.env.DB, c.get("user")), before.zone_id);
      // Turning off is the step that ends checkouts and sessions, with its own confirmation and audit entry.
      if (before.enabled) throw new ApiFailure("still_enabled", `${noun} ${id} is on`);
      const retired = `${before.name}.deleted-${id.slice(0, 8)}`;
      const now = Date.now();
      const [done] = await c.env.DB.batch(
        table === "servers" ? retireServer(c.env.DB, id, retired, now) : [retireCredential(c.env.DB, id, retired, now)],
      );
      if (done!.meta.changes === 0) throw new ApiFailure("conflict", `${noun} ${id} changed meanwhile`);
      await adminChange(c, {
        target: { type: noun, id, name: before.name },
        refs: table === "servers" ? { serverId: id } : {},
        data: { before: { name: before.name }, after: { deleted: true, name: retired } },
      });
      return c.json({ ok: true }, 200);
    },
  );
}
