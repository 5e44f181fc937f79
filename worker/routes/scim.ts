// SCIM 2.0 provisioning (RFC 7643/7644) at /scim/v2, for Entra ID, Okta and any IdP that speaks it (docs/auth.md).
// Only a SCIM bearer token opens these routes (worker/auth/scim-token.ts), and SCIM sees only what it
// provisioned (`source` = 'scim'). Provisioned users have no password: they sign in through SSO. Roles, zones and
// grants stay with our admins; the IdP decides who exists, whether they are active, and group membership.
// Deactivation, DELETE and removal from a group take access away at once through `enforceAccess`, audited under
// the token's actor. Every answer, errors included, is application/scim+json; errors use SCIM's Error schema.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import {
  SCIM_CONTENT_TYPE,
  SCIM_ERROR_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_LIST_SCHEMA,
  SCIM_MAX_OPERATIONS,
  SCIM_MAX_RESULTS,
  SCIM_USER_SCHEMA,
  type ScimGroup,
  ScimDocument,
  ScimGroupBody,
  ScimListQuery,
  ScimListResponse,
  ScimPatchBody,
  type ScimUser,
  ScimUserBody,
  scimBoolean,
} from "../../protocol/index.ts";
import {
  addMember,
  deleteGroup,
  dropZoneAdministration,
  insertProvisionedGroup,
  leaveAllGroups,
  removeMember,
  renameProvisionedGroup,
} from "../access/group-store.ts";
import { enforceAccess } from "../access/revocation.ts";
import {
  insertProvisionedUser,
  isLastEnabledAdmin,
  markProvisionedDeleted,
  NO_PASSWORD,
  reprovisionUser,
  saveProvisionedUser,
} from "../access/user-store.ts";
import { adminChange } from "../audit.ts";
import { requireScim, ScimUnauthorized } from "../auth/scim-token.ts";
import { revokeSignIns } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, route } from "../openapi.ts";
import {
  type GroupState,
  parseFilter,
  patchGroup,
  patchUser,
  primaryEmail,
  ScimFailure,
  type UserState,
} from "../scim/patch.ts";

export const scim = new OpenAPIHono<AppContext>({
  defaultHook: (result) => {
    if (!result.success) {
      const detail = result.error.issues.map((i) => `${i.path.join(".")}: ${i.code}`).join("; ");
      throw new ScimFailure(400, "invalidValue", detail.slice(0, 512));
    }
  },
});
const tags = ["scim"];
const middleware = [requireScim];
const BASE = "/scim/v2";

/** A SCIM Error answer (RFC 7644 §3.12). */
export function scimErrorResponse(status: number, scimType?: string, detail?: string): Response {
  return new Response(
    JSON.stringify({
      schemas: [SCIM_ERROR_SCHEMA],
      status: String(status),
      ...(scimType ? { scimType } : {}),
      ...(detail ? { detail } : {}),
    }),
    {
      status,
      headers: {
        "content-type": SCIM_CONTENT_TYPE,
        ...(status === 401 ? { "WWW-Authenticate": 'Bearer realm="scim"' } : {}),
      },
    },
  );
}

scim.onError((err, c) => {
  const where = `scim ${c.req.method} ${new URL(c.req.url).pathname}`;
  if (err instanceof ScimFailure) {
    console.warn(`${where}: ${err.status} ${err.scimType ?? ""}: ${err.detail}`);
    return scimErrorResponse(err.status, err.scimType, err.detail);
  }
  if (err instanceof ScimUnauthorized) {
    console.warn(`${where}: 401: ${err.message}`);
    return scimErrorResponse(401, undefined, "A valid SCIM bearer token is required.");
  }
  if (err instanceof ApiFailure) {
    console.warn(`${where}: ${err.code}${err.detail ? `: ${err.detail}` : ""}`);
    return scimErrorResponse(err.status, err.status === 400 ? "invalidValue" : undefined, err.code);
  }
  if (err instanceof HTTPException) {
    // Malformed JSON (400) or a body that is not JSON (415).
    return scimErrorResponse(err.status, err.status === 400 ? "invalidSyntax" : undefined, err.message.slice(0, 128));
  }
  console.error(`${where}: unhandled`, err);
  return scimErrorResponse(500, undefined, "internal error");
});

function scimJson(c: Context<AppContext>, body: unknown, status: ContentfulStatusCode = 200, location?: string) {
  return c.body(JSON.stringify(body), status, {
    "content-type": SCIM_CONTENT_TYPE,
    ...(location ? { Location: location } : {}),
  });
}

const origin = (c: Context<AppContext>) => new URL(c.req.url).origin;
const iso = (ms: number) => new Date(ms).toISOString();

/** The operations' `schemas` must name the resource's schema when given (Entra ID and Okta always send it). */
function requireSchema(schemas: string[] | undefined, schema: string): void {
  if (schemas && !schemas.includes(schema))
    throw new ScimFailure(400, "invalidSyntax", `schemas must include ${schema}`);
}

/** Paging per RFC 7644 §3.4.2.4: startIndex is 1-based (below 1 is 1), count is clamped to 0..maxResults. */
function paging(q: { startIndex?: number; count?: number }): { start: number; count: number } {
  return {
    start: Math.max(1, q.startIndex ?? 1),
    count: Math.min(SCIM_MAX_RESULTS, Math.max(0, q.count ?? SCIM_MAX_RESULTS)),
  };
}

const listOf = (total: number, start: number, resources: unknown[]) => ({
  schemas: [SCIM_LIST_SCHEMA],
  totalResults: total,
  startIndex: start,
  itemsPerPage: resources.length,
  Resources: resources,
});

// ---- Users ----------------------------------------------------------------------------------------------

type UserRow = {
  id: string;
  username: string;
  external_id: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  email: string | null;
  disabled: number;
  roles: string;
  created_at: number;
  modified_at: number | null;
};
const USER_COLUMNS =
  "u.id, u.username, u.external_id, u.display_name, u.given_name, u.family_name, u.email, u.disabled, u.roles, u.created_at, u.modified_at";
const PROVISIONED = "u.source = 'scim' AND u.deleted_at IS NULL";

const stateOf = (r: UserRow): UserState => ({
  userName: r.username,
  externalId: r.external_id,
  displayName: r.display_name,
  givenName: r.given_name,
  familyName: r.family_name,
  email: r.email,
  active: !r.disabled,
});

async function loadUser(db: D1Database, id: string): Promise<UserRow> {
  const row = await db
    .prepare(`SELECT ${USER_COLUMNS} FROM users u WHERE u.id = ? AND ${PROVISIONED}`)
    .bind(id)
    .first<UserRow>();
  if (!row) throw new ScimFailure(404, undefined, `no provisioned user ${id.slice(0, 64)}`);
  return row;
}

async function groupsOfUsers(db: D1Database, ids: string[]): Promise<Map<string, Array<{ id: string; name: string }>>> {
  const out = new Map<string, Array<{ id: string; name: string }>>();
  if (ids.length === 0) return out;
  const { results } = await db
    .prepare(
      `SELECT gm.user_id, g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
       WHERE gm.user_id IN (${ids.map(() => "?").join(",")}) ORDER BY g.name`,
    )
    .bind(...ids)
    .all<{ user_id: string; id: string; name: string }>();
  for (const r of results) out.set(r.user_id, [...(out.get(r.user_id) ?? []), { id: r.id, name: r.name }]);
  return out;
}

function userResource(c: Context<AppContext>, r: UserRow, groups: Array<{ id: string; name: string }>): ScimUser {
  const location = `${origin(c)}${BASE}/Users/${r.id}`;
  return {
    schemas: [SCIM_USER_SCHEMA],
    id: r.id,
    ...(r.external_id ? { externalId: r.external_id } : {}),
    userName: r.username,
    ...(r.given_name || r.family_name
      ? {
          name: {
            ...(r.given_name ? { givenName: r.given_name } : {}),
            ...(r.family_name ? { familyName: r.family_name } : {}),
          },
        }
      : {}),
    ...(r.display_name ? { displayName: r.display_name } : {}),
    ...(r.email ? { emails: [{ value: r.email, type: "work", primary: true }] } : {}),
    active: !r.disabled,
    groups: groups.map((g) => ({ value: g.id, display: g.name, $ref: `${origin(c)}${BASE}/Groups/${g.id}` })),
    meta: {
      resourceType: "User",
      created: iso(r.created_at),
      lastModified: iso(r.modified_at ?? r.created_at),
      location,
    },
  };
}

async function userOut(c: Context<AppContext>, id: string): Promise<ScimUser> {
  const row = await loadUser(c.env.DB, id);
  return userResource(c, row, (await groupsOfUsers(c.env.DB, [id])).get(id) ?? []);
}

function stateFromBody(body: ScimUserBody, before: UserState | null): UserState {
  if ("password" in body) throw new ScimFailure(400, "invalidValue", "password: provisioned users sign in through SSO");
  requireSchema(body.schemas, SCIM_USER_SCHEMA);
  return {
    userName: body.userName,
    externalId: body.externalId ?? null,
    displayName: body.displayName ?? null,
    givenName: body.name?.givenName ?? null,
    familyName: body.name?.familyName ?? null,
    email: primaryEmail(body.emails),
    // A replace without `active` keeps the status: a PUT never re-enables by omission.
    active: body.active === undefined ? (before?.active ?? true) : scimBoolean(body.active),
  };
}

/** A unique index said no (userName or externalId taken): SCIM's 409 uniqueness. */
async function uniquely<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (/UNIQUE/i.test((err as Error).message))
      throw new ScimFailure(409, "uniqueness", "userName, displayName or externalId is already in use");
    throw err;
  }
}

/** Refuses to disable or delete the last enabled global admin (as Admin › Users does). */
async function guardLastAdmin(db: D1Database, row: UserRow): Promise<void> {
  if (row.disabled || !(JSON.parse(row.roles) as string[]).includes("admin")) return;
  if (await isLastEnabledAdmin(db)) throw new ScimFailure(409, undefined, "would disable the last admin");
}

/** The account lost its standing: its sign-ins end, then every checkout and session that depended on it. */
async function takeAccess(c: Context<AppContext>, userId: string, cause: string): Promise<void> {
  await revokeSignIns(c.env.DB, userId);
  await enforceAccess(c.env, { kind: "user", userId }, cause, c.get("user"));
  await enforceAccess(c.env, { kind: "sign_ins", userId }, cause, c.get("user"));
}

/** Writes a user's new state, audits it, and takes access away when it was deactivated. */
async function saveUser(c: Context<AppContext>, before: UserRow, after: UserState): Promise<void> {
  const was = stateOf(before);
  if (was.active && !after.active) await guardLastAdmin(c.env.DB, before);
  await uniquely(() => saveProvisionedUser(c.env.DB, before.id, after, Date.now()));
  await adminChange(c, {
    target: { type: "user", id: before.id, name: before.username },
    refs: { userId: before.id },
    data: { before: was, after, via: "scim" },
  });
  if (was.active && !after.active) await takeAccess(c, before.id, "deactivated by SCIM");
}

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/Users`,
    summary: "SCIM: list or filter provisioned users",
    tags,
    middleware,
    query: ScimListQuery,
    response: ScimListResponse,
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { start, count } = paging(q);
    let where = PROVISIONED;
    const binds: string[] = [];
    if (q.filter) {
      const { attr, value } = parseFilter(q.filter, ["username", "externalid", "id"]);
      where +=
        attr === "username"
          ? " AND u.username = ? COLLATE NOCASE"
          : attr === "id"
            ? " AND u.id = ?"
            : " AND u.external_id = ?";
      binds.push(value);
    }
    const [total, page] = await c.env.DB.batch<UserRow & { n: number }>([
      c.env.DB.prepare(`SELECT count(*) AS n FROM users u WHERE ${where}`).bind(...binds),
      c.env.DB.prepare(
        `SELECT ${USER_COLUMNS} FROM users u WHERE ${where} ORDER BY u.created_at, u.id LIMIT ? OFFSET ?`,
      ).bind(...binds, count, start - 1),
    ]);
    const rows = page?.results ?? [];
    const groups = await groupsOfUsers(
      c.env.DB,
      rows.map((r) => r.id),
    );
    return scimJson(
      c,
      listOf(
        total?.results[0]?.n ?? 0,
        start,
        rows.map((r) => userResource(c, r, groups.get(r.id) ?? [])),
      ),
    );
  },
);

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/Users/{id}`,
    summary: "SCIM: one provisioned user",
    tags,
    middleware,
    params: IdParam,
    response: z.unknown(),
  }),
  async (c) => scimJson(c, await userOut(c, c.req.valid("param").id)),
);

scim.openapi(
  route({
    method: "post",
    path: `${BASE}/Users`,
    summary: "SCIM: provision a user (no password; they sign in through SSO)",
    tags,
    middleware,
    body: ScimUserBody,
    response: z.unknown(),
    status: 201,
  }),
  async (c) => {
    const s = stateFromBody(c.req.valid("json"), null);
    const db = c.env.DB;
    const now = Date.now();
    const existing = await db
      .prepare("SELECT id, source, deleted_at, password_hash FROM users WHERE username = ? COLLATE NOCASE")
      .bind(s.userName)
      .first<{ id: string; source: string | null; deleted_at: number | null; password_hash: string }>();
    // A user SCIM deleted comes back under its old row (its history stays one account); an account that SSO made
    // (no password) is taken over; a local account with a password is never.
    const reuse =
      existing &&
      ((existing.source === "scim" && existing.deleted_at !== null) ||
        (existing.source === null && existing.password_hash === NO_PASSWORD));
    if (existing && !reuse) throw new ScimFailure(409, "uniqueness", "userName is already in use");
    const id = existing?.id ?? crypto.randomUUID();
    await uniquely(() => (existing ? reprovisionUser(db, id, s, now) : insertProvisionedUser(db, id, s, now)));
    await adminChange(c, {
      target: { type: "user", id, name: s.userName },
      refs: { userId: id },
      data: { after: s, via: "scim", ...(existing ? { took: existing.source === "scim" ? "deleted" : "sso" } : {}) },
    });
    if (existing && !s.active) await takeAccess(c, id, "deactivated by SCIM");
    const out = await userOut(c, id);
    return scimJson(c, out, 201, out.meta.location);
  },
);

scim.openapi(
  route({
    method: "put",
    path: `${BASE}/Users/{id}`,
    summary: "SCIM: replace a provisioned user",
    tags,
    middleware,
    params: IdParam,
    body: ScimUserBody,
    response: z.unknown(),
  }),
  async (c) => {
    const before = await loadUser(c.env.DB, c.req.valid("param").id);
    await saveUser(c, before, stateFromBody(c.req.valid("json"), stateOf(before)));
    return scimJson(c, await userOut(c, before.id));
  },
);

scim.openapi(
  route({
    method: "patch",
    path: `${BASE}/Users/{id}`,
    summary: "SCIM: change a provisioned user (add, replace, remove; active false deactivates)",
    tags,
    middleware,
    params: IdParam,
    body: ScimPatchBody,
    response: z.unknown(),
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireSchema(body.schemas, "urn:ietf:params:scim:api:messages:2.0:PatchOp");
    const before = await loadUser(c.env.DB, c.req.valid("param").id);
    await saveUser(c, before, patchUser(stateOf(before), body.Operations));
    return scimJson(c, await userOut(c, before.id));
  },
);

scim.openapi(
  route({
    method: "delete",
    path: `${BASE}/Users/{id}`,
    summary: "SCIM: delete a provisioned user (kept disabled for the record; groups and zones removed)",
    tags,
    middleware,
    params: IdParam,
  }),
  async (c) => {
    const db = c.env.DB;
    const before = await loadUser(db, c.req.valid("param").id);
    await guardLastAdmin(db, before);
    const now = Date.now();
    await db.batch([
      markProvisionedDeleted(db, before.id, now),
      leaveAllGroups(db, before.id),
      dropZoneAdministration(db, before.id),
    ]);
    await adminChange(c, {
      target: { type: "user", id: before.id, name: before.username },
      refs: { userId: before.id },
      data: { before: stateOf(before), after: { deleted: true }, via: "scim" },
    });
    await takeAccess(c, before.id, "deleted by SCIM");
    return c.body(null, 204);
  },
);

// ---- Groups ---------------------------------------------------------------------------------------------

type GroupRow = {
  id: string;
  name: string;
  external_id: string | null;
  created_at: number;
  modified_at: number | null;
};
const GROUP_COLUMNS = "g.id, g.name, g.external_id, g.created_at, g.modified_at";

async function loadGroup(db: D1Database, id: string): Promise<GroupRow> {
  const row = await db
    .prepare(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.id = ? AND g.source = 'scim'`)
    .bind(id)
    .first<GroupRow>();
  if (!row) throw new ScimFailure(404, undefined, `no provisioned group ${id.slice(0, 64)}`);
  return row;
}

async function membersOf(db: D1Database, ids: string[]): Promise<Map<string, Array<{ id: string; name: string }>>> {
  const out = new Map<string, Array<{ id: string; name: string }>>();
  if (ids.length === 0) return out;
  const { results } = await db
    .prepare(
      `SELECT gm.group_id, u.id, u.username AS name FROM group_members gm JOIN users u ON u.id = gm.user_id
       WHERE gm.group_id IN (${ids.map(() => "?").join(",")}) ORDER BY u.username`,
    )
    .bind(...ids)
    .all<{ group_id: string; id: string; name: string }>();
  for (const r of results) out.set(r.group_id, [...(out.get(r.group_id) ?? []), { id: r.id, name: r.name }]);
  return out;
}

function groupResource(
  c: Context<AppContext>,
  g: GroupRow,
  members: Array<{ id: string; name: string }> | null,
): ScimGroup {
  return {
    schemas: [SCIM_GROUP_SCHEMA],
    id: g.id,
    ...(g.external_id ? { externalId: g.external_id } : {}),
    displayName: g.name,
    ...(members
      ? { members: members.map((m) => ({ value: m.id, display: m.name, $ref: `${origin(c)}${BASE}/Users/${m.id}` })) }
      : {}),
    meta: {
      resourceType: "Group",
      created: iso(g.created_at),
      lastModified: iso(g.modified_at ?? g.created_at),
      location: `${origin(c)}${BASE}/Groups/${g.id}`,
    },
  };
}

async function groupOut(c: Context<AppContext>, id: string): Promise<ScimGroup> {
  const g = await loadGroup(c.env.DB, id);
  return groupResource(c, g, (await membersOf(c.env.DB, [id])).get(id) ?? []);
}

/** Every member must be a user SCIM provisioned (the only ids an IdP knows). */
async function requireProvisioned(db: D1Database, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { results } = await db
    .prepare(`SELECT u.id FROM users u WHERE ${PROVISIONED} AND u.id IN (${ids.map(() => "?").join(",")})`)
    .bind(...ids)
    .all<{ id: string }>();
  const known = new Set(results.map((r) => r.id));
  const unknown = ids.find((id) => !known.has(id));
  if (unknown !== undefined)
    throw new ScimFailure(400, "invalidValue", `member ${unknown.slice(0, 64)} is not a provisioned user`);
}

/**
 * Writes a group's new name, externalId and members in one batch, audits it, and takes access away from
 * everyone it removed (their checkouts through this group's grants are revoked, their sessions end).
 */
async function saveGroup(c: Context<AppContext>, before: GroupRow, after: GroupState): Promise<void> {
  const db = c.env.DB;
  const was = (await membersOf(db, [before.id])).get(before.id) ?? [];
  const wasIds = new Set(was.map((m) => m.id));
  const next = new Set(after.members);
  const added = after.members.filter((id) => !wasIds.has(id));
  const removed = was.filter((m) => !next.has(m.id));
  await requireProvisioned(db, added);
  await uniquely(() =>
    db.batch([
      renameProvisionedGroup(db, before.id, { name: after.displayName, externalId: after.externalId, now: Date.now() }),
      ...removed.map((m) => removeMember(db, before.id, m.id)),
      ...added.map((id) => addMember(db, before.id, id)),
    ]),
  );
  await adminChange(c, {
    target: { type: "group", id: before.id, name: before.name },
    data: {
      before: { displayName: before.name, externalId: before.external_id, members: was.map((m) => m.name) },
      after: { displayName: after.displayName, externalId: after.externalId },
      added,
      removed: removed.map((m) => m.id),
      via: "scim",
    },
  });
  for (const gone of removed)
    await enforceAccess(
      c.env,
      { kind: "user", userId: gone.id },
      `removed from group ${before.name} by SCIM`,
      c.get("user"),
    );
}

const groupState = async (db: D1Database, g: GroupRow): Promise<GroupState> => ({
  displayName: g.name,
  externalId: g.external_id,
  members: ((await membersOf(db, [g.id])).get(g.id) ?? []).map((m) => m.id),
});

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/Groups`,
    summary: "SCIM: list or filter provisioned groups",
    tags,
    middleware,
    query: ScimListQuery,
    response: ScimListResponse,
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { start, count } = paging(q);
    let where = "g.source = 'scim'";
    const binds: string[] = [];
    if (q.filter) {
      const { attr, value } = parseFilter(q.filter, ["displayname", "externalid", "id"]);
      where +=
        attr === "displayname"
          ? " AND g.name = ? COLLATE NOCASE"
          : attr === "id"
            ? " AND g.id = ?"
            : " AND g.external_id = ?";
      binds.push(value);
    }
    const [total, page] = await c.env.DB.batch<GroupRow & { n: number }>([
      c.env.DB.prepare(`SELECT count(*) AS n FROM groups g WHERE ${where}`).bind(...binds),
      c.env.DB.prepare(
        `SELECT ${GROUP_COLUMNS} FROM groups g WHERE ${where} ORDER BY g.created_at, g.id LIMIT ? OFFSET ?`,
      ).bind(...binds, count, start - 1),
    ]);
    const rows = page?.results ?? [];
    // Entra ID asks with excludedAttributes=members; a group's members can be many.
    const withMembers = !/(^|,)\s*members\s*(,|$)/i.test(q.excludedAttributes ?? "");
    const members = withMembers
      ? await membersOf(
          c.env.DB,
          rows.map((r) => r.id),
        )
      : new Map();
    return scimJson(
      c,
      listOf(
        total?.results[0]?.n ?? 0,
        start,
        rows.map((g) => groupResource(c, g, withMembers ? (members.get(g.id) ?? []) : null)),
      ),
    );
  },
);

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/Groups/{id}`,
    summary: "SCIM: one provisioned group",
    tags,
    middleware,
    params: IdParam,
    query: ScimListQuery.pick({ attributes: true, excludedAttributes: true }),
    response: z.unknown(),
  }),
  async (c) => {
    const out = await groupOut(c, c.req.valid("param").id);
    if (/(^|,)\s*members\s*(,|$)/i.test(c.req.valid("query").excludedAttributes ?? "")) delete out.members;
    return scimJson(c, out);
  },
);

scim.openapi(
  route({
    method: "post",
    path: `${BASE}/Groups`,
    summary: "SCIM: provision a group (zones are granted to it by our admins)",
    tags,
    middleware,
    body: ScimGroupBody,
    response: z.unknown(),
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireSchema(body.schemas, SCIM_GROUP_SCHEMA);
    const members = [...new Set((body.members ?? []).map((m) => m.value))];
    const db = c.env.DB;
    await requireProvisioned(db, members);
    const id = crypto.randomUUID();
    const now = Date.now();
    await uniquely(() =>
      db.batch(
        insertProvisionedGroup(db, { id, name: body.displayName, externalId: body.externalId ?? null, now }, members),
      ),
    );
    await adminChange(c, {
      target: { type: "group", id, name: body.displayName },
      data: { after: { displayName: body.displayName, externalId: body.externalId ?? null, members }, via: "scim" },
    });
    const out = await groupOut(c, id);
    return scimJson(c, out, 201, out.meta.location);
  },
);

scim.openapi(
  route({
    method: "put",
    path: `${BASE}/Groups/{id}`,
    summary: "SCIM: replace a provisioned group, members included (Okta sends membership changes so)",
    tags,
    middleware,
    params: IdParam,
    body: ScimGroupBody,
    response: z.unknown(),
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireSchema(body.schemas, SCIM_GROUP_SCHEMA);
    const before = await loadGroup(c.env.DB, c.req.valid("param").id);
    await saveGroup(c, before, {
      displayName: body.displayName,
      externalId: body.externalId ?? null,
      members: [...new Set((body.members ?? []).map((m) => m.value))],
    });
    return scimJson(c, await groupOut(c, before.id));
  },
);

scim.openapi(
  route({
    method: "patch",
    path: `${BASE}/Groups/{id}`,
    summary: 'SCIM: change a provisioned group (members add/remove, members[value eq "id"], displayName)',
    tags,
    middleware,
    params: IdParam,
    body: ScimPatchBody,
    response: z.unknown(),
  }),
  async (c) => {
    const body = c.req.valid("json");
    requireSchema(body.schemas, "urn:ietf:params:scim:api:messages:2.0:PatchOp");
    const before = await loadGroup(c.env.DB, c.req.valid("param").id);
    await saveGroup(c, before, patchGroup(await groupState(c.env.DB, before), body.Operations));
    return scimJson(c, await groupOut(c, before.id));
  },
);

scim.openapi(
  route({
    method: "delete",
    path: `${BASE}/Groups/{id}`,
    summary: "SCIM: delete a provisioned group (its grants go with it; its members lose what it gave)",
    tags,
    middleware,
    params: IdParam,
  }),
  async (c) => {
    const db = c.env.DB;
    const before = await loadGroup(db, c.req.valid("param").id);
    const approving = await db
      .prepare("SELECT name FROM policies WHERE approver_group_id = ? LIMIT 1")
      .bind(before.id)
      .first<{ name: string }>();
    // The approvers of a policy: an admin picks other approvers first (deleting them would stall its requests).
    if (approving)
      throw new ScimFailure(
        409,
        undefined,
        "the group approves requests under a policy; an admin must change it first",
      );
    const members = (await membersOf(db, [before.id])).get(before.id) ?? [];
    await deleteGroup(db, before.id);
    await adminChange(c, {
      target: { type: "group", id: before.id, name: before.name },
      data: { before: { displayName: before.name, members: members.map((m) => m.name) }, after: null, via: "scim" },
    });
    for (const m of members)
      await enforceAccess(c.env, { kind: "user", userId: m.id }, `group ${before.name} deleted by SCIM`, c.get("user"));
    return c.body(null, 204);
  },
);

// ---- Discovery (RFC 7644 §4) ----------------------------------------------------------------------------

const attr = (name: string, type: string, extra: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: "readWrite",
  returned: "default",
  uniqueness: "none",
  ...extra,
});

const USER_SCHEMA_DOC = {
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
  id: SCIM_USER_SCHEMA,
  name: "User",
  description: "A person who signs in through SSO",
  attributes: [
    attr("userName", "string", { required: true, uniqueness: "server" }),
    attr("name", "complex", {
      subAttributes: [attr("givenName", "string"), attr("familyName", "string")],
    }),
    attr("displayName", "string"),
    attr("emails", "complex", {
      multiValued: true,
      subAttributes: [attr("value", "string"), attr("type", "string"), attr("primary", "boolean")],
    }),
    attr("active", "boolean"),
    attr("groups", "complex", {
      multiValued: true,
      mutability: "readOnly",
      subAttributes: [
        attr("value", "string", { mutability: "readOnly" }),
        attr("display", "string", { mutability: "readOnly" }),
      ],
    }),
  ],
  meta: { resourceType: "Schema", location: `${BASE}/Schemas/${SCIM_USER_SCHEMA}` },
};

const GROUP_SCHEMA_DOC = {
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
  id: SCIM_GROUP_SCHEMA,
  name: "Group",
  description: "A group zones are granted to",
  attributes: [
    attr("displayName", "string", { required: true, uniqueness: "server" }),
    attr("members", "complex", {
      multiValued: true,
      subAttributes: [
        attr("value", "string", { mutability: "immutable" }),
        attr("display", "string", { mutability: "readOnly" }),
      ],
    }),
  ],
  meta: { resourceType: "Schema", location: `${BASE}/Schemas/${SCIM_GROUP_SCHEMA}` },
};

const RESOURCE_TYPES = [
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "User",
    name: "User",
    endpoint: "/Users",
    schema: SCIM_USER_SCHEMA,
    schemaExtensions: [],
    meta: { resourceType: "ResourceType", location: `${BASE}/ResourceTypes/User` },
  },
  {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    schema: SCIM_GROUP_SCHEMA,
    schemaExtensions: [],
    meta: { resourceType: "ResourceType", location: `${BASE}/ResourceTypes/Group` },
  },
];

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/ServiceProviderConfig`,
    summary: "SCIM: what this service provider supports",
    tags,
    middleware,
    response: ScimDocument,
  }),
  (c) =>
    scimJson(c, {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
      documentationUri: `${origin(c)}/docs/auth.md`,
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: SCIM_MAX_RESULTS },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        {
          type: "oauthbearertoken",
          name: "Bearer token",
          description: `A SCIM token (psm-scim+…) made by a global admin; at most ${SCIM_MAX_OPERATIONS} PATCH operations a request`,
          primary: true,
        },
      ],
      meta: { resourceType: "ServiceProviderConfig", location: `${origin(c)}${BASE}/ServiceProviderConfig` },
    }),
);

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/ResourceTypes`,
    summary: "SCIM: resource types",
    tags,
    middleware,
    response: ScimListResponse,
  }),
  (c) => scimJson(c, listOf(RESOURCE_TYPES.length, 1, RESOURCE_TYPES)),
);

scim.openapi(
  route({
    method: "get",
    path: `${BASE}/Schemas`,
    summary: "SCIM: schemas",
    tags,
    middleware,
    response: ScimListResponse,
  }),
  (c) => scimJson(c, listOf(2, 1, [USER_SCHEMA_DOC, GROUP_SCHEMA_DOC])),
);
