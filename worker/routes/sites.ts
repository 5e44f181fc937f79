// Sites and connector enrollment tokens (admins only).
import { ConnectorInfo, CreateSiteRequest, EnrollmentToken, Ok, Site } from "../../protocol/index.ts";
import { revokeConnector } from "../../edge-shared/connector-store.ts";
import { z } from "zod";
import { requireAdmin } from "../access/scope.ts";
import { insertEnrollmentToken, insertSite } from "../access/site-store.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { ConnectorParam, IdParam, newApi, route } from "../openapi.ts";
import { randomToken, sha256 } from "../random.ts";

/** An enrollment token is good for 30 minutes. */
const ENROLLMENT_TTL_MS = 30 * 60 * 1000;

export const sites = newApi();
const tags = ["sites"];
const middleware = [requireUser];

sites.openapi(
  route({ method: "get", path: "/sites", summary: "List sites", tags, middleware, response: z.array(Site) }),
  async (c) => {
    const user = c.get("user");
    if (!user.roles.includes("admin") && !user.roles.includes("zone_admin")) throw new ApiFailure("forbidden");
    const { results } = await c.env.DB.prepare("SELECT id, name, seal_key FROM sites ORDER BY name").all<{
      id: string;
      name: string;
      seal_key: string | null;
    }>();
    return c.json(
      results.map((s) => ({
        id: s.id,
        name: s.name,
        sealKey: s.seal_key ? JSON.parse(s.seal_key) : null,
      })) satisfies Site[],
      200,
    );
  },
);

sites.openapi(
  route({
    method: "post",
    path: "/sites",
    summary: "Create a site",
    tags,
    middleware,
    body: CreateSiteRequest,
    response: Site,
    status: 201,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { name } = c.req.valid("json");
    const id = crypto.randomUUID();
    await insertOrConflict(insertSite(c.env.DB, id, name));
    await adminChange(c, {
      target: { type: "site", id, name },
      data: { after: { name } },
    });
    return c.json({ id, name, sealKey: null } satisfies Site, 201);
  },
);

sites.openapi(
  route({
    method: "post",
    path: "/sites/{id}/enrollment-tokens",
    summary: "Create a one-time connector enrollment token",
    tags,
    middleware,
    params: IdParam,
    response: EnrollmentToken,
    status: 201,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const siteId = c.req.valid("param").id;
    const site = await c.env.DB.prepare("SELECT id, name FROM sites WHERE id = ?")
      .bind(siteId)
      .first<{ name: string }>();
    if (!site) throw new ApiFailure("not_found");
    const token = randomToken();
    const expiresAt = Date.now() + ENROLLMENT_TTL_MS;
    await insertEnrollmentToken(c.env.DB, {
      hash: await sha256(token),
      siteId,
      createdBy: c.get("user").id,
      expiresAt,
    });
    await adminChange(c, {
      target: { type: "site", id: siteId, name: site.name },
      data: { after: { enrollmentTokenExpiresAt: expiresAt } },
    });
    return c.json({ token, siteId, expiresAt } satisfies EnrollmentToken, 201);
  },
);

sites.openapi(
  route({
    method: "get",
    path: "/sites/{id}/connectors",
    summary: "A site's connectors with their live health (status, version, heartbeat, sessions, errors)",
    tags,
    middleware,
    params: IdParam,
    response: z.array(ConnectorInfo),
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const siteId = c.req.valid("param").id;
    const site = await c.env.DB.prepare("SELECT id FROM sites WHERE id = ?").bind(siteId).first();
    if (!site) throw new ApiFailure("not_found");
    const { results } = await c.env.DB.prepare(
      "SELECT id, name, enrolled_at, revoked_at FROM connectors WHERE site_id = ? ORDER BY enrolled_at",
    )
      .bind(siteId)
      .all<{ id: string; name: string; enrolled_at: number; revoked_at: number | null }>();
    const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(siteId));
    const live = new Map((await hub.health()).map((h) => [h.connectorId, h]));
    return c.json(
      results.map((r) => {
        const h = live.get(r.id);
        return {
          id: r.id,
          name: r.name,
          siteId,
          enrolledAt: r.enrolled_at,
          revoked: r.revoked_at !== null,
          online: Boolean(h),
          agent: h?.agent ?? null,
          connectedAt: h?.connectedAt ?? null,
          lastHeartbeat: h?.lastSeen ?? null,
          sessions: h?.sessions ?? 0,
          errors: h?.errors ?? [],
          spool: h?.spool ?? null,
        } satisfies ConnectorInfo;
      }),
      200,
    );
  },
);

/**
 * Revokes a connector: its tokens stop authenticating at once, its control socket closes, and the
 * sessions it serves end (`connector_revoked`). The site's other connectors take new sessions. There is
 * no un-revoke: a replacement enrolls with a new token and a new key.
 */
sites.openapi(
  route({
    method: "post",
    path: "/sites/{id}/connectors/{connectorId}/revoke",
    summary: "Revoke a connector: its sockets close and its sessions end now",
    tags,
    middleware,
    params: ConnectorParam,
    response: Ok,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { id: siteId, connectorId } = c.req.valid("param");
    const row = await c.env.DB.prepare("SELECT name, revoked_at FROM connectors WHERE id = ? AND site_id = ?")
      .bind(connectorId, siteId)
      .first<{ name: string; revoked_at: number | null }>();
    if (!row) throw new ApiFailure("not_found");
    if (row.revoked_at === null) await revokeConnector(c.env.DB, connectorId, Date.now());
    await c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(siteId)).revoke(connectorId);
    const { results } = await c.env.DB.prepare("SELECT id FROM sessions WHERE site_id = ? AND status != 'ended'")
      .bind(siteId)
      .all<{ id: string }>();
    const ended = await Promise.all(
      results.map((s) => c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(s.id)).connectorRevoked(connectorId)),
    );
    await adminChange(c, {
      target: { type: "connector", id: connectorId, name: row.name },
      data: {
        before: { revoked: row.revoked_at !== null },
        after: { revoked: true },
        sessionsEnded: ended.filter(Boolean).length,
      },
    });
    return c.json({ ok: true }, 200);
  },
);
