// Admin setup: users, sites, enrollment tokens, servers and sealed credentials.
import { Hono } from "hono";
import {
  CreateCredentialRequest,
  CreateServerRequest,
  CreateSiteRequest,
  CreateUserRequest,
  type EnrollmentToken,
  type Site,
} from "../../protocol/index.ts";
import { hashPassword } from "../auth/password.ts";
import { requireRole, requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure, readBody } from "../errors.ts";
import { randomToken, sha256 } from "../random.ts";

/** An enrollment token is good for 30 minutes. */
const ENROLLMENT_TTL_MS = 30 * 60 * 1000;

export const admin = new Hono<AppContext>();
/** Every route here is admin-only; the guard is per route because this app is mounted at /api. */
const adminOnly = [requireUser, requireRole("admin")] as const;

admin.post("/users", ...adminOnly, async (c) => {
  const body = await readBody(c, CreateUserRequest);
  const id = crypto.randomUUID();
  const hash = await hashPassword(body.password);
  await c.env.DB.prepare("INSERT INTO users (id, username, password_hash, roles, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(id, body.username, hash, JSON.stringify(body.roles), Date.now())
    .run()
    .catch((err: Error) => {
      throw new ApiFailure("conflict", err.message);
    });
  return c.json({ id, username: body.username, roles: body.roles }, 201);
});

admin.get("/sites", ...adminOnly, async (c) => {
  const { results } = await c.env.DB.prepare("SELECT id, name, seal_key FROM sites ORDER BY name").all<{
    id: string;
    name: string;
    seal_key: string | null;
  }>();
  const sites: Site[] = results.map((s) => ({
    id: s.id,
    name: s.name,
    sealKey: s.seal_key ? JSON.parse(s.seal_key) : null,
  }));
  return c.json(sites);
});

admin.post("/sites", ...adminOnly, async (c) => {
  const { name } = await readBody(c, CreateSiteRequest);
  const id = crypto.randomUUID();
  await c.env.DB.prepare("INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)")
    .bind(id, name, Date.now())
    .run()
    .catch((err: Error) => {
      throw new ApiFailure("conflict", err.message);
    });
  return c.json({ id, name, sealKey: null } satisfies Site, 201);
});

admin.post("/sites/:id/enrollment-tokens", ...adminOnly, async (c) => {
  const siteId = c.req.param("id");
  const site = await c.env.DB.prepare("SELECT id FROM sites WHERE id = ?").bind(siteId).first();
  if (!site) throw new ApiFailure("not_found");
  const token = randomToken();
  const expiresAt = Date.now() + ENROLLMENT_TTL_MS;
  await c.env.DB.prepare(
    "INSERT INTO enrollment_tokens (token_hash, site_id, created_by, expires_at) VALUES (?, ?, ?, ?)",
  )
    .bind(await sha256(token), siteId, c.get("user").id, expiresAt)
    .run();
  return c.json({ token, siteId, expiresAt } satisfies EnrollmentToken, 201);
});

admin.post("/servers", ...adminOnly, async (c) => {
  const body = await readBody(c, CreateServerRequest);
  const id = crypto.randomUUID();
  await c.env.DB.prepare(
    "INSERT INTO servers (id, name, host, port, protocol, site_id, host_key, tags, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'manual', ?)",
  )
    .bind(
      id,
      body.name,
      body.host,
      body.port,
      body.protocol,
      body.siteId,
      body.hostKey,
      JSON.stringify(body.tags),
      Date.now(),
    )
    .run()
    .catch((err: Error) => {
      throw new ApiFailure("conflict", err.message);
    });
  return c.json({ id }, 201);
});

admin.post("/credentials", ...adminOnly, async (c) => {
  const body = await readBody(c, CreateCredentialRequest);
  const placeholders = body.serverIds.map(() => "?").join(",");
  const { results: servers } = await c.env.DB.prepare(`SELECT id, site_id FROM servers WHERE id IN (${placeholders})`)
    .bind(...body.serverIds)
    .all<{ id: string; site_id: string }>();
  if (servers.length !== new Set(body.serverIds).size || servers.some((s) => s.site_id !== body.siteId)) {
    throw new ApiFailure("bad_request", "credential servers must exist and belong to the credential's site");
  }
  const id = crypto.randomUUID();
  await c.env.DB.batch([
    c.env.DB.prepare(
      "INSERT INTO credentials (id, name, username, kind, site_id, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).bind(id, body.name, body.username, body.kind, body.siteId, body.sealed, Date.now()),
    ...servers.map((s) =>
      c.env.DB.prepare("INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)").bind(s.id, id),
    ),
  ]);
  return c.json({ id }, 201);
});
