// SCIM bearer tokens (global admins only): make one for the identity provider (its value is in that answer
// only; the edge keeps the SHA-256), list them with their last use, revoke one. Every change is audited.
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { CreatedScimToken, CreateScimTokenRequest, ScimTokenSummary } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { insertScimToken, listScimTokens, loadScimToken, newScimToken, revokeScimToken } from "../auth/scim-token.ts";
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
    return c.json(await listScimTokens(c.env.DB), 200);
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
    await insertScimToken(c.env.DB, { id, name, hash, createdBy: user.id, createdAt: now });
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
    const before = await loadScimToken(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    if (before.revokedAt === null) {
      await revokeScimToken(c.env.DB, id, Date.now());
      await adminChange(c, {
        target: { type: "scim_token", id, name: before.name },
        data: { before: { revoked: false }, after: { revoked: true } },
      });
    }
    return c.json((await loadScimToken(c.env.DB, id))!, 200);
  },
);
