// SCIM 2.0 provisioning (/scim/v2) with the request shapes Entra ID and Okta send: filters and paging,
// PATCH dialects, deactivation and group removal taking access away at once, the token kind that opens
// only /scim, and SCIM errors for bad bodies.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { connectorEndpoint } from "../protocol/index.ts";
import { sha256Hex } from "./auth/hash.ts";
import { app } from "./index.ts";
import { api, auditLog, hasText, liveSession, login, ORIGIN, seedSite, seedUser } from "./test/harness.ts";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async function adminCookie(): Promise<string> {
  const name = `adm${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(name, "admin-password-1", ["admin"]);
  return login(name, "admin-password-1");
}

async function newToken(name = "Entra ID"): Promise<{ id: string; token: string }> {
  const res = await api("/api/scim-tokens", { method: "POST", cookie: await adminCookie(), body: { name } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; token: string };
}

type Json = Record<string, unknown> & { id: string };

function scim(token: string | null, path: string, init: { method?: string; body?: unknown; raw?: string } = {}) {
  return SELF.fetch(`${ORIGIN}/scim/v2${path}`, {
    method: init.method ?? "GET",
    headers: {
      "content-type": "application/scim+json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
}

async function ok(res: Response, status = 200): Promise<Json> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/scim+json");
  return JSON.parse(text) as Json;
}

async function scimError(res: Response, status: number, scimType?: string): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/scim+json");
  const body = JSON.parse(text) as { schemas: string[]; status: string; scimType?: string };
  expect(body.schemas).toEqual([ERROR]);
  expect(body.status).toBe(String(status));
  if (scimType) expect(body.scimType).toBe(scimType);
}

const uid = () => crypto.randomUUID().slice(0, 8);

/** What Entra ID sends to create a user (its default attribute mappings). */
const entraUser = (upn: string, objectId: string) => ({
  schemas: [USER, ENTERPRISE],
  externalId: objectId,
  userName: upn,
  active: true,
  displayName: "Ada Lovelace",
  title: "Engineer",
  emails: [{ primary: true, type: "work", value: upn }],
  name: { formatted: "Ada Lovelace", familyName: "Lovelace", givenName: "Ada" },
  [ENTERPRISE]: { department: "Platform", employeeNumber: "1815" },
});

/** What Okta sends to create a user. */
const oktaUser = (login: string) => ({
  schemas: [USER],
  userName: login,
  name: { givenName: "Grace", familyName: "Hopper" },
  emails: [{ primary: true, value: login, type: "work" }],
  displayName: "Grace Hopper",
  locale: "en-US",
  externalId: `00u${uid()}`,
  groups: [],
  active: true,
});

async function userIdOf(username: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(username).first<{ id: string }>();
  return row!.id;
}

/** A live session whose user the IdP provisioned (and the group granting it, when asked). */
async function provisionedLiveSession({ group = false } = {}) {
  const s = await liveSession();
  const userId = await userIdOf(s.username);
  await env.DB.prepare("UPDATE users SET source = 'scim', password_hash = '!' WHERE id = ?").bind(userId).run();
  if (group) await env.DB.prepare("UPDATE groups SET source = 'scim' WHERE id = ?").bind(s.site.groupId).run();
  return { ...s, userId };
}

async function endedForAccess(s: Awaited<ReturnType<typeof liveSession>>): Promise<void> {
  await s.user.next(hasText("ended", { reason: "access_revoked" }), "ended: access_revoked");
  await s.connector.next(hasText("end", { reason: "access_revoked" }), "connector told to end");
  const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE id = ?").bind(s.id).first();
  expect(row).toEqual({ status: "ended", end_reason: "access_revoked" });
  const ch = await env.DB.prepare(
    "SELECT ch.status FROM checkouts ch JOIN sessions se ON se.checkout_id = ch.id WHERE se.id = ?",
  )
    .bind(s.id)
    .first<{ status: string }>();
  expect(ch?.status).toBe("revoked");
}

describe("SCIM tokens", () => {
  it("are shown once, stored hashed, listed without their value, audited, and revocable", async () => {
    const cookie = await adminCookie();
    const created = await api("/api/scim-tokens", { method: "POST", cookie, body: { name: "Okta" } });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    expect(token).toMatch(/^psm-scim\+[A-Za-z0-9_-]{43}$/);
    const row = await env.DB.prepare("SELECT token_hash FROM scim_tokens WHERE id = ?").bind(id).first();
    expect(row).toEqual({ token_hash: await sha256Hex(token) });
    const listed = await (await api("/api/scim-tokens", { cookie })).text();
    expect(listed).toContain(id);
    expect(listed).not.toContain(token);
    await ok(await scim(token, "/Users"));
    const revoked = await api(`/api/scim-tokens/${id}/revoke`, { method: "POST", cookie });
    expect(((await revoked.json()) as { revokedAt: number | null }).revokedAt).not.toBeNull();
    await scimError(await scim(token, "/Users"), 401);
    const audit = (await auditLog()).filter((e) => e.target.type === "scim_token" && e.target.id === id);
    expect(audit).toHaveLength(2);
  });

  it("do not cross: no token, a cookie or a connector token is refused on /scim; a SCIM token opens nothing else", async () => {
    const { token } = await newToken();
    const none = await scim(null, "/Users");
    expect(none.headers.get("WWW-Authenticate")).toContain("Bearer");
    await scimError(none, 401);
    const cookie = await adminCookie();
    const withCookie = await SELF.fetch(`${ORIGIN}/scim/v2/Users`, { headers: { cookie } });
    await scimError(withCookie, 401);
    const site = await seedSite();
    const connector = await site.token(connectorEndpoint.inventory);
    await scimError(await scim(connector, "/Users"), 401);
    await scimError(await scim(`${token}x`, "/Users"), 401);
    // The SCIM token on the admin API and on a connector route.
    const onApi = await SELF.fetch(`${ORIGIN}/api/users`, { headers: { Authorization: `Bearer ${token}` } });
    expect(onApi.status).toBe(401);
    const onConnector = await SELF.fetch(`${ORIGIN}/connector/inventory`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ servers: [] }),
    });
    expect(onConnector.status).toBe(401);
  });
});

describe("SCIM users", () => {
  it("Entra ID: create, filter by userName and externalId, PATCH with capitalised ops and string booleans", async () => {
    const { token } = await newToken();
    const upn = `ada.${uid()}@contoso.com`;
    const objectId = crypto.randomUUID();
    const res = await scim(token, "/Users", { method: "POST", body: entraUser(upn, objectId) });
    const created = await ok(res, 201);
    expect(res.headers.get("Location")).toBe(`${ORIGIN}/scim/v2/Users/${created.id}`);
    expect(created).toMatchObject({
      schemas: [USER],
      userName: upn,
      externalId: objectId,
      active: true,
      displayName: "Ada Lovelace",
      name: { givenName: "Ada", familyName: "Lovelace" },
      emails: [{ value: upn, primary: true }],
      meta: { resourceType: "User" },
    });
    // Extension and unkept attributes are not stored anywhere.
    expect(JSON.stringify(created)).not.toContain("1815");
    const row = await env.DB.prepare("SELECT source, external_id, password_hash, roles FROM users WHERE id = ?")
      .bind(created.id)
      .first();
    expect(row).toEqual({ source: "scim", external_id: objectId, password_hash: "!", roles: '["requester"]' });

    // Entra ID's first question: does the user exist?
    const byName = await ok(
      await scim(token, `/Users?filter=${encodeURIComponent(`userName eq "${upn.toUpperCase()}"`)}`),
    );
    expect(byName).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 1 });
    expect((byName.Resources as Json[])[0]!.id).toBe(created.id);
    const byExternal = await ok(
      await scim(token, `/Users?filter=${encodeURIComponent(`externalId eq "${objectId}"`)}`),
    );
    expect(byExternal.totalResults).toBe(1);
    const none = await ok(await scim(token, `/Users?filter=${encodeURIComponent('userName eq "nobody@contoso.com"')}`));
    expect(none).toMatchObject({ totalResults: 0, Resources: [] });

    const patched = await ok(
      await scim(token, `/Users/${created.id}`, {
        method: "PATCH",
        body: {
          schemas: [PATCH],
          Operations: [
            { op: "Replace", path: "displayName", value: "Ada King" },
            { op: "Add", path: 'emails[type eq "work"].value', value: "ada.king@contoso.com" },
            { op: "Replace", path: `${ENTERPRISE}:department`, value: "Research" },
            { op: "Replace", path: "name.familyName", value: "King" },
            { op: "Replace", path: "active", value: "False" },
          ],
        },
      }),
    );
    expect(patched).toMatchObject({
      displayName: "Ada King",
      active: false,
      name: { familyName: "King" },
      emails: [{ value: "ada.king@contoso.com" }],
    });
    expect(await env.DB.prepare("SELECT disabled FROM users WHERE id = ?").bind(created.id).first()).toEqual({
      disabled: 1,
    });
    const reenabled = await ok(
      await scim(token, `/Users/${created.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "Replace", path: "active", value: "True" }] },
      }),
    );
    expect(reenabled.active).toBe(true);
  });

  it("Okta: create, replace with PUT, deactivate with a value object and no path", async () => {
    const { token } = await newToken("Okta");
    const login = `grace.${uid()}@example.com`;
    const created = await ok(await scim(token, "/Users", { method: "POST", body: oktaUser(login) }), 201);
    const replaced = await ok(
      await scim(token, `/Users/${created.id}`, {
        method: "PUT",
        body: { ...oktaUser(login), id: created.id, displayName: "Rear Admiral Hopper", externalId: "00u-okta" },
      }),
    );
    expect(replaced).toMatchObject({ displayName: "Rear Admiral Hopper", externalId: "00u-okta", active: true });
    const off = await ok(
      await scim(token, `/Users/${created.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "replace", value: { active: false } }] },
      }),
    );
    expect(off.active).toBe(false);
    // Admin › Users shows who is provisioned.
    const users = (await (await api("/api/users", { cookie: await adminCookie() })).json()) as Array<{
      id: string;
      provisioned: boolean;
    }>;
    expect(users.find((u) => u.id === created.id)?.provisioned).toBe(true);
  });

  it("pages with startIndex and count in a ListResponse", async () => {
    const { token } = await newToken();
    const tag = uid();
    for (let i = 0; i < 5; i++)
      await ok(
        await scim(token, "/Users", { method: "POST", body: { schemas: [USER], userName: `p${i}.${tag}` } }),
        201,
      );
    const all = await ok(await scim(token, "/Users?count=200"));
    const ids = (all.Resources as Json[]).map((r) => r.id);
    expect(all.totalResults).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    const page = await ok(await scim(token, "/Users?startIndex=2&count=2"));
    expect(page).toMatchObject({ totalResults: ids.length, startIndex: 2, itemsPerPage: 2 });
    expect((page.Resources as Json[]).map((r) => r.id)).toEqual(ids.slice(1, 3));
    const countOnly = await ok(await scim(token, "/Users?count=0"));
    expect(countOnly).toMatchObject({ totalResults: ids.length, itemsPerPage: 0, Resources: [] });
    const clamped = await ok(await scim(token, "/Users?startIndex=0&count=1"));
    expect(clamped).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
  });

  it("deactivation (Entra's string boolean) ends a live session, revokes the checkout and the sign-ins, audited as SCIM", async () => {
    const s = await provisionedLiveSession();
    const { token } = await newToken("Entra prod");
    await ok(
      await scim(token, `/Users/${s.userId}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "Replace", path: "active", value: "False" }] },
      }),
    );
    await endedForAccess(s);
    const live = await env.DB.prepare(
      "SELECT count(*) AS n FROM auth_sessions WHERE user_id = ? AND revoked_at IS NULL",
    )
      .bind(s.userId)
      .first<{ n: number }>();
    expect(live?.n).toBe(0);
    expect((await api("/api/me", { cookie: s.cookie })).status).toBe(401);
    const entries = (await auditLog()) as unknown as Array<{
      action: string;
      actor: { name: string } | null;
      refs: { userId?: string };
    }>;
    const revoked = entries.find((e) => e.action === "access.revoked" && e.refs.userId === s.userId);
    expect(revoked?.actor?.name).toBe("SCIM (Entra prod)");
  });

  it("DELETE ends the session and hides the user; the row stays, disabled, without groups", async () => {
    const s = await provisionedLiveSession();
    const { token } = await newToken();
    const res = await scim(token, `/Users/${s.userId}`, { method: "DELETE" });
    expect(res.status).toBe(204);
    await endedForAccess(s);
    await scimError(await scim(token, `/Users/${s.userId}`), 404);
    const row = await env.DB.prepare(
      "SELECT disabled, deleted_at IS NOT NULL AS deleted, (SELECT count(*) FROM group_members WHERE user_id = users.id) AS groups FROM users WHERE id = ?",
    )
      .bind(s.userId)
      .first();
    expect(row).toEqual({ disabled: 1, deleted: 1, groups: 0 });
  });

  it("a deleted user comes back under its old row; an account SSO made is taken over", async () => {
    const { token } = await newToken();
    const name = `back.${uid()}@contoso.com`;
    const first = await ok(
      await scim(token, "/Users", { method: "POST", body: entraUser(name, crypto.randomUUID()) }),
      201,
    );
    expect((await scim(token, `/Users/${first.id}`, { method: "DELETE" })).status).toBe(204);
    const again = await ok(
      await scim(token, "/Users", { method: "POST", body: entraUser(name, crypto.randomUUID()) }),
      201,
    );
    expect(again).toMatchObject({ id: first.id, active: true });
    const sso = `sso${uid()}`;
    await env.DB.prepare(
      "INSERT INTO users (id, username, password_hash, roles, oidc_subject, created_at) VALUES (?, ?, '!', '[\"requester\"]', ?, 0)",
    )
      .bind(`sso-${sso}`, sso, `https://idp|${sso}`)
      .run();
    const taken = await ok(
      await scim(token, "/Users", { method: "POST", body: { schemas: [USER], userName: sso } }),
      201,
    );
    expect(taken.id).toBe(`sso-${sso}`);
    const entries = (await auditLog()).filter((e) => e.target.id === `sso-${sso}`);
    expect(entries.some((e) => e.data.took === "sso" && e.data.via === "scim")).toBe(true);
  });

  it("never takes over a local account with a password", async () => {
    const { token } = await newToken();
    const name = `local${uid()}`;
    await seedUser(name, "local-password-1", ["admin"]);
    await scimError(
      await scim(token, "/Users", { method: "POST", body: { schemas: [USER], userName: name } }),
      409,
      "uniqueness",
    );
    // Nor can SCIM read or change it.
    await scimError(await scim(token, `/Users/${await userIdOf(name)}`), 404);
  });

  it("answers bad bodies, filters and paths with SCIM errors", async () => {
    const { token } = await newToken();
    await scimError(await scim(token, "/Users", { method: "POST", body: { schemas: [USER] } }), 400, "invalidValue");
    await scimError(await scim(token, "/Users", { method: "POST", raw: '{"userName": ' }), 400, "invalidSyntax");
    await scimError(
      await scim(token, "/Users", {
        method: "POST",
        body: { schemas: [USER], userName: `pw${uid()}`, password: "Secret-123" },
      }),
      400,
      "invalidValue",
    );
    await scimError(
      await scim(token, "/Users", { method: "POST", body: { schemas: [GROUP], userName: "x" } }),
      400,
      "invalidSyntax",
    );
    await scimError(await scim(token, "/Users", { method: "POST", body: { userName: "a b" } }), 400, "invalidValue");
    await scimError(await scim(token, `/Users?filter=${encodeURIComponent('userName co "a"')}`), 400, "invalidFilter");
    await scimError(await scim(token, `/Users?filter=${encodeURIComponent('password eq "a"')}`), 400, "invalidFilter");
    const u = await ok(
      await scim(token, "/Users", { method: "POST", body: { schemas: [USER], userName: `b${uid()}` } }),
      201,
    );
    await scimError(
      await scim(token, "/Users", { method: "POST", body: { schemas: [USER], userName: u.userName } }),
      409,
      "uniqueness",
    );
    const patch = (Operations: unknown[]) =>
      scim(token, `/Users/${u.id}`, { method: "PATCH", body: { schemas: [PATCH], Operations } });
    await scimError(await patch([{ op: "move", path: "active", value: false }]), 400, "invalidValue");
    await scimError(await patch([{ op: "replace", path: "isAdmin", value: true }]), 400, "invalidPath");
    await scimError(await patch([{ op: "add", path: "roles", value: [{ value: "admin" }] }]), 400, "mutability");
    await scimError(await patch([{ op: "replace", path: "active", value: "maybe" }]), 400, "invalidValue");
    await scimError(await patch([{ op: "remove" }]), 400, "noTarget");
    await scimError(await patch([]), 400, "invalidValue");
    // All or nothing: a bad operation after a good one changes nothing.
    await scimError(
      await patch([
        { op: "replace", path: "displayName", value: "Changed" },
        { op: "replace", path: "nope", value: 1 },
      ]),
      400,
    );
    expect((await ok(await scim(token, `/Users/${u.id}`))).displayName).toBeUndefined();
    await scimError(await scim(token, "/Users/not-a-user"), 404);
    await scimError(await scim(token, "/Nope"), 404);
  });
});

describe("SCIM groups", () => {
  it("Entra ID: create, filter by displayName without members, Add and Remove members", async () => {
    const { token } = await newToken();
    const a = await ok(
      await scim(token, "/Users", { method: "POST", body: entraUser(`a.${uid()}@contoso.com`, crypto.randomUUID()) }),
      201,
    );
    const b = await ok(
      await scim(token, "/Users", { method: "POST", body: entraUser(`b.${uid()}@contoso.com`, crypto.randomUUID()) }),
      201,
    );
    const name = `DBAs ${uid()}`;
    const g = await ok(
      await scim(token, "/Groups", {
        method: "POST",
        body: { schemas: [GROUP], externalId: crypto.randomUUID(), displayName: name, members: [] },
      }),
      201,
    );
    const found = await ok(
      await scim(token, `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${name}"`)}`),
    );
    expect(found.totalResults).toBe(1);
    expect((found.Resources as Json[])[0]).not.toHaveProperty("members");
    const added = await ok(
      await scim(token, `/Groups/${g.id}`, {
        method: "PATCH",
        body: {
          schemas: [PATCH],
          Operations: [{ op: "Add", path: "members", value: [{ value: a.id }, { value: b.id }] }],
        },
      }),
    );
    expect((added.members as Json[]).map((m) => m.value).sort()).toEqual([a.id, b.id].sort());
    const removed = await ok(
      await scim(token, `/Groups/${g.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "Remove", path: "members", value: [{ value: a.id }] }] },
      }),
    );
    expect((removed.members as Json[]).map((m) => m.value)).toEqual([b.id]);
    const user = await ok(await scim(token, `/Users/${b.id}`));
    expect(user.groups).toEqual([{ value: g.id, display: name, $ref: `${ORIGIN}/scim/v2/Groups/${g.id}` }]);
    // A member must be a provisioned user.
    const local = await seedUser(`l${uid()}`, "local-password-1", ["requester"]);
    await scimError(
      await scim(token, `/Groups/${g.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "Add", path: "members", value: [{ value: local }] }] },
      }),
      400,
      "invalidValue",
    );
  });

  it("Okta: membership by PUT, rename by replace with a value object, removal by members[value eq]", async () => {
    const { token } = await newToken("Okta");
    const a = await ok(await scim(token, "/Users", { method: "POST", body: oktaUser(`a.${uid()}@example.com`) }), 201);
    const b = await ok(await scim(token, "/Users", { method: "POST", body: oktaUser(`b.${uid()}@example.com`) }), 201);
    const g = await ok(
      await scim(token, "/Groups", {
        method: "POST",
        body: { schemas: [GROUP], displayName: `Ops ${uid()}`, members: [] },
      }),
      201,
    );
    const put = await ok(
      await scim(token, `/Groups/${g.id}`, {
        method: "PUT",
        body: {
          schemas: [GROUP],
          id: g.id,
          displayName: g.displayName,
          members: [{ value: a.id, display: a.userName }, { value: b.id }],
        },
      }),
    );
    expect((put.members as Json[]).length).toBe(2);
    const renamed = await ok(
      await scim(token, `/Groups/${g.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "replace", value: { id: g.id, displayName: "Operations" } }] },
      }),
    );
    expect(renamed.displayName).toBe("Operations");
    const less = await ok(
      await scim(token, `/Groups/${g.id}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "remove", path: `members[value eq "${a.id}"]` }] },
      }),
    );
    expect((less.members as Json[]).map((m) => m.value)).toEqual([b.id]);
    expect((await scim(token, `/Groups/${g.id}`, { method: "DELETE" })).status).toBe(204);
    await scimError(await scim(token, `/Groups/${g.id}`), 404);
  });

  it("removal from the granting group (Okta's members[value eq]) ends the live session and revokes the checkout", async () => {
    const s = await provisionedLiveSession({ group: true });
    const { token } = await newToken("Okta");
    await ok(
      await scim(token, `/Groups/${s.site.groupId}`, {
        method: "PATCH",
        body: { schemas: [PATCH], Operations: [{ op: "remove", path: `members[value eq "${s.userId}"]` }] },
      }),
    );
    await endedForAccess(s);
    const reason = await env.DB.prepare("SELECT revoke_reason FROM checkouts WHERE user_id = ?")
      .bind(s.userId)
      .first<{ revoke_reason: string }>();
    expect(reason?.revoke_reason).toContain("removed from group");
  });

  it("removal by Okta's PUT with the member left out does the same", async () => {
    const s = await provisionedLiveSession({ group: true });
    const { token } = await newToken("Okta");
    const g = await ok(await scim(token, `/Groups/${s.site.groupId}`));
    await ok(
      await scim(token, `/Groups/${s.site.groupId}`, {
        method: "PUT",
        body: { schemas: [GROUP], id: g.id, displayName: g.displayName, members: [] },
      }),
    );
    await endedForAccess(s);
  });
});

describe("SCIM discovery", () => {
  it("ServiceProviderConfig, ResourceTypes and Schemas", async () => {
    const { token } = await newToken();
    const config = await ok(await scim(token, "/ServiceProviderConfig"));
    expect(config).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true },
    });
    const types = await ok(await scim(token, "/ResourceTypes"));
    expect((types.Resources as Json[]).map((t) => t.endpoint)).toEqual(["/Users", "/Groups"]);
    const schemas = await ok(await scim(token, "/Schemas"));
    expect((schemas.Resources as Json[]).map((t) => t.id)).toEqual([USER, GROUP]);
  });
});

/** Signs in through OIDC against a stand-in IdP (fetch answered in-process); the callback's response. */
async function ssoCallback(claims: Record<string, unknown>): Promise<Response> {
  const issuer = `http://idp-${uid()}.test`;
  const oidcEnv = { ...env, OIDC_ISSUER: issuer, OIDC_CLIENT_ID: "psm-scim-client", OIDC_ALLOW_HTTP: "true" };
  const { privateKey } = await generateKeyPair("ES256");
  let nonce = "";
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== issuer) return real(input, init);
    if (url.pathname === "/.well-known/openid-configuration")
      return Response.json({
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        id_token_signing_alg_values_supported: ["ES256"],
      });
    if (url.pathname === "/token") {
      const idToken = await new SignJWT({ nonce, groups: [], ...claims })
        .setProtectedHeader({ alg: "ES256" })
        .setIssuer(issuer)
        .setAudience("psm-scim-client")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
      return Response.json({ access_token: "at", token_type: "Bearer", id_token: idToken });
    }
    return new Response("not found", { status: 404 });
  });
  const call = async (path: string, cookie?: string) => {
    const ctx = createExecutionContext();
    const res = await app.request(
      `${ORIGIN}${path}`,
      { headers: cookie ? { cookie } : {}, redirect: "manual" },
      oidcEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  };
  const start = await call("/api/oidc/start");
  const auth = new URL(start.headers.get("location")!);
  nonce = auth.searchParams.get("nonce")!;
  const flow = start.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  return call(`/api/oidc/callback?code=code-1&state=${auth.searchParams.get("state")}`, flow);
}

describe("SCIM and single sign-on", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("a provisioned user's first SSO sign-in lands on the provisioned account; a deactivated one is refused", async () => {
    const { token } = await newToken();
    const upn = `sso.${uid()}@contoso.com`;
    await ok(await scim(token, "/Users", { method: "POST", body: entraUser(upn, crypto.randomUUID()) }), 201);
    const back = await ssoCallback({ sub: `sub-${uid()}`, preferred_username: upn, email: upn });
    expect(back.headers.get("location")).toBe("/#/catalog");
    const same = await env.DB.prepare(
      "SELECT count(*) AS n, max(oidc_subject IS NOT NULL) AS bound FROM users WHERE username LIKE ?",
    )
      .bind(`${upn}%`)
      .first();
    expect(same).toEqual({ n: 1, bound: 1 });

    const off = `off.${uid()}@contoso.com`;
    await ok(
      await scim(token, "/Users", {
        method: "POST",
        body: { ...entraUser(off, crypto.randomUUID()), active: "False" },
      }),
      201,
    );
    const refused = await ssoCallback({ sub: `sub-${uid()}`, preferred_username: off });
    expect(refused.headers.get("location")).not.toBe("/#/catalog");
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM users WHERE username LIKE ?").bind(`${off}%`).first(),
    ).toEqual({
      n: 1,
    });
  });
});
