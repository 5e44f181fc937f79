// Users, roles, persons and groups (admins only). Zone admins cannot reach any of this, so they
// cannot widen their own zones or anyone's roles. A person an admin sets is never moved by SSO linking.
import { z } from "zod";
import {
  CreateGroupRequest,
  CreateUserRequest,
  Group,
  Me,
  SetGroupMembersRequest,
  UpdateUserRequest,
  UserMatch,
  UserSearchQuery,
  UserSummary,
} from "../../protocol/index.ts";
import { insertGroup, replaceMembers, setZonesAdministered } from "../access/group-store.ts";
import { linkSsoAccountsByEmail } from "../access/person-link-store.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { hashPassword } from "../auth/password.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import type { MiddlewareHandler } from "hono";
import { enforceAccess } from "../access/revocation.ts";
import { insertLocalUser, isLastEnabledAdmin, updateUser } from "../access/user-store.ts";

export const directory = newApi();
const tags = ["directory"];
const adminOnly: MiddlewareHandler<AppContext> = async (c, next) => {
  requireAdmin(c.get("user"));
  await next();
};
const middleware = [requireUser, adminOnly];

type UserRow = {
  id: string;
  username: string;
  roles: string;
  email: string | null;
  person_id: string | null;
  person_source: UserSummary["personSource"];
  disabled: number;
  source: string | null;
  zones: string | null;
};

async function userSummaries(db: D1Database, id?: string): Promise<UserSummary[]> {
  const { results } = await db
    .prepare(
      `SELECT u.id, u.username, u.roles, u.email, u.person_id, u.person_source, u.disabled, u.source, group_concat(za.zone_id) AS zones
       FROM users u LEFT JOIN zone_admins za ON za.user_id = u.id ${id ? "WHERE u.id = ?" : ""}
       GROUP BY u.id ORDER BY u.username`,
    )
    .bind(...(id ? [id] : []))
    .all<UserRow>();
  return results.map((u) => ({
    id: u.id,
    username: u.username,
    roles: JSON.parse(u.roles),
    email: u.email,
    personId: u.person_id ?? u.id,
    personSource: u.person_source,
    provisioned: u.source === "scim",
    disabled: !!u.disabled,
    zoneAdminOf: u.zones ? u.zones.split(",") : [],
  }));
}

directory.openapi(
  route({ method: "get", path: "/users", summary: "List users", tags, middleware, response: z.array(UserSummary) }),
  async (c) => c.json(await userSummaries(c.env.DB), 200),
);

directory.openapi(
  route({
    method: "get",
    path: "/users/search",
    summary: "Users whose username or email contains the text (any case), names starting with it first",
    tags,
    middleware,
    query: UserSearchQuery,
    response: z.array(UserMatch),
  }),
  async (c) => {
    const { q, limit } = c.req.valid("query");
    // LIKE is case-insensitive for ASCII in SQLite; the typed text is matched literally (% and _ escaped).
    const text = q.replace(/[\\%_]/g, (ch) => `\\${ch}`);
    const { results } = await c.env.DB.prepare(
      `SELECT id, username, email, roles, disabled FROM users
       WHERE username LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\'
       ORDER BY username LIKE ?2 ESCAPE '\\' DESC, username LIMIT ?3`,
    )
      .bind(`%${text}%`, `${text}%`, limit)
      .all<{ id: string; username: string; email: string | null; roles: string; disabled: number }>();
    return c.json(
      results.map((u) => ({
        id: u.id,
        username: u.username,
        email: u.email,
        roles: JSON.parse(u.roles) as UserMatch["roles"],
        disabled: !!u.disabled,
      })),
      200,
    );
  },
);

directory.openapi(
  route({
    method: "post",
    path: "/users",
    summary: "Create a local user",
    tags,
    middleware,
    body: CreateUserRequest,
    response: Me,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    const id = crypto.randomUUID();
    await insertOrConflict(
      insertLocalUser(c.env.DB, {
        id,
        username: body.username,
        passwordHash: await hashPassword(body.password),
        roles: body.roles,
      }),
    );
    await adminChange(c, {
      target: { type: "user", id, name: body.username },
      refs: { userId: id },
      data: { after: { roles: body.roles } },
    });
    return c.json({ id, username: body.username, roles: body.roles }, 201);
  },
);

directory.openapi(
  route({
    method: "patch",
    path: "/users/{id}",
    summary: "Change a user's roles, person, email, zones or status",
    tags,
    middleware,
    params: IdParam,
    body: UpdateUserRequest,
    response: UserSummary,
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const body = c.req.valid("json");
    const [before] = await userSummaries(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    const removesAdmin =
      before.roles.includes("admin") && ((body.roles && !body.roles.includes("admin")) || body.disabled);
    if (removesAdmin && (await isLastEnabledAdmin(c.env.DB)))
      throw new ApiFailure("conflict", "would remove the last admin");
    await c.env.DB.batch([
      updateUser(c.env.DB, id, body),
      ...(body.zoneAdminOf ? setZonesAdministered(c.env.DB, id, body.zoneAdminOf) : []),
    ]);
    // An email an admin sets is trusted: SSO accounts with the same verified email join this person.
    if (body.email) await linkSsoAccountsByEmail(c.env, body.email);
    const [after] = await userSummaries(c.env.DB, id);
    await adminChange(c, {
      target: { type: "user", id, name: before.username },
      refs: { userId: id },
      data: { before, after },
    });
    await enforceAccess(
      c.env,
      { kind: "user", userId: id },
      body.disabled ? "account disabled" : "account changed",
      c.get("user"),
    );
    return c.json(after!, 200);
  },
);

async function groups(db: D1Database): Promise<Group[]> {
  const [g, m] = await db.batch<{ id: string; name: string; group_id: string; user_id: string; username: string }>([
    db.prepare("SELECT id, name FROM groups ORDER BY name"),
    db.prepare(
      "SELECT gm.group_id, u.id AS user_id, u.username FROM group_members gm JOIN users u ON u.id = gm.user_id ORDER BY u.username",
    ),
  ]);
  return (g?.results ?? []).map((group) => ({
    id: group.id,
    name: group.name,
    members: (m?.results ?? [])
      .filter((x) => x.group_id === group.id)
      .map((x) => ({ id: x.user_id, username: x.username })),
  }));
}

directory.openapi(
  route({ method: "get", path: "/groups", summary: "List groups", tags, middleware, response: z.array(Group) }),
  async (c) => c.json(await groups(c.env.DB), 200),
);

directory.openapi(
  route({
    method: "post",
    path: "/groups",
    summary: "Create a group",
    tags,
    middleware,
    body: CreateGroupRequest,
    response: Group,
    status: 201,
  }),
  async (c) => {
    const { name } = c.req.valid("json");
    const id = crypto.randomUUID();
    await insertOrConflict(insertGroup(c.env.DB, id, name));
    await adminChange(c, {
      target: { type: "group", id, name },
      data: { after: { name } },
    });
    return c.json({ id, name, members: [] }, 201);
  },
);

directory.openapi(
  route({
    method: "put",
    path: "/groups/{id}/members",
    summary: "Replace a group's members",
    tags,
    middleware,
    params: IdParam,
    body: SetGroupMembersRequest,
    response: Group,
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const { userIds } = c.req.valid("json");
    const before = (await groups(c.env.DB)).find((g) => g.id === id);
    if (!before) throw new ApiFailure("not_found");
    await c.env.DB.batch(replaceMembers(c.env.DB, id, userIds));
    const after = (await groups(c.env.DB)).find((g) => g.id === id)!;
    await adminChange(c, {
      target: { type: "group", id, name: before.name },
      data: { before: before.members, after: after.members },
    });
    const kept = new Set(after.members.map((m) => m.id));
    for (const gone of before.members.filter((m) => !kept.has(m.id)))
      await enforceAccess(c.env, { kind: "user", userId: gone.id }, `removed from group ${before.name}`, c.get("user"));
    return c.json(after, 200);
  },
);
