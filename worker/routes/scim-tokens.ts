// SCIM bearer tokens (global admins only): make one for the identity provider (its value is in that answer
// only; the edge keeps the SHA-256), list them with their last use, revoke one. Every change is audited.
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { CreatedScimToken, CreateScimTokenRequest, ScimTokenSummary } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { newScimToken } from "../auth/scim-token.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const scimTokens = newApi();
const tags = ["scim"];
const adminOnly: MiddlewareHandler<AppContext> = async (c, next) => {
  requireAdmin(c.get("user"));
  await next();
};
const middleware = [requireUser, adminOnly];

type Row = {
  id: string;
  name: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  revoked_at: number | null;
};
const summary = (r: Row): ScimTokenSummary => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  createdBy: r.created_by,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});
const COLUMNS = "t.id, t.name, t.created_at, u.username AS created_by, t.last_used_at, t.revoked_at";
const FROM = "FROM scim_tokens t JOIN users u ON u.id = t.created_by";

scimTokens.openapi(
  route({
    method: "get",
    path: "/scim-tokens",
    summary: "List SCIM tokens (never their values)",
    tags,
    middleware,
    response: z.array(ScimTokenSummary),
  }),
  async (c) => {
    const { results } = await c.env.DB.prepare(`SELECT ${COLUMNS} ${FROM} ORDER BY t.created_at DESC`).all<Row>();
    return c.json(results.map(summary), 200);
  },
);

scimTokens.openapi(
  route({
    method: "post",
    path: "/scim-tokens",
    summary: "Make a SCIM token for the identity provider; its value is shown in this answer only",
    tags,
    middleware,
    body: CreateScimTokenRequest,
    response: CreatedScimToken,
    status: 201,
  }),
  async (c) => {
    const { name } = c.req.valid("json");
    const id = crypto.randomUUID();
    const { token, hash } = await newScimToken();
    const now = Date.now();
    const user = c.get("user");
    await c.env.DB.prepare(
      "INSERT INTO scim_tokens (id, name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
    )
      .bind(id, name, hash, user.id, now)
      .run();
    await adminChange(c, { target: { type: "scim_token", id, name }, data: { after: { name } } });
    return c.json(
      { id, name, createdAt: now, createdBy: user.username, lastUsedAt: null, revokedAt: null, token },
      201,
    );
  },
);

scimTokens.openapi(
  route({
    method: "post",
    path: "/scim-tokens/{id}/revoke",
    summary: "Revoke a SCIM token: the identity provider's next request is refused",
    tags,
    middleware,
    params: IdParam,
    response: ScimTokenSummary,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const before = await c.env.DB.prepare(`SELECT ${COLUMNS} ${FROM} WHERE t.id = ?`).bind(id).first<Row>();
    if (!before) throw new ApiFailure("not_found");
    if (before.revoked_at === null) {
      await c.env.DB.prepare("UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(Date.now(), id)
        .run();
      await adminChange(c, {
        target: { type: "scim_token", id, name: before.name },
        data: { before: { revoked: false }, after: { revoked: true } },
      });
    }
    const after = await c.env.DB.prepare(`SELECT ${COLUMNS} ${FROM} WHERE t.id = ?`).bind(id).first<Row>();
    return c.json(summary(after!), 200);
  },
);
