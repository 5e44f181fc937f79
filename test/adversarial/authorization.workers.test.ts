// Attacks on authorization inside workerd: a zone admin stepping around the global admin's zone policy by
// attaching a policy of their choosing, an unknown policy id, and one person approving their own request from
// their other (SSO) account. Each test names the attack and the guarantee (docs/access-model.md).
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, generateKeyPair } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../../worker/index.ts";
import { api, checkout, login, seedSite, seedUser } from "../../worker/test/harness.ts";

type Site = Awaited<ReturnType<typeof seedSite>>;

const STRICT = { approval_required: 1, recording_required: 1, live_view_allowed: 1, mfa_required: 1 };

async function newPolicy(admin: string, fields: Record<string, unknown>): Promise<string> {
  const res = await api("/api/policies", {
    method: "POST",
    cookie: admin,
    body: { name: `p-${crypto.randomUUID().slice(0, 8)}`, ...fields },
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

function createCredential(cookie: string, site: Site, policyId: string | null) {
  return api("/api/credentials", {
    method: "POST",
    cookie,
    body: {
      name: `cred-${crypto.randomUUID().slice(0, 6)}`,
      username: "root",
      kind: "password",
      zoneId: site.zoneId,
      externalRef: "empowerid-ref-1",
      serverIds: [site.serverId],
      policyId,
    },
  });
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe("policy scope: a zone admin cannot step around the zone's policy", () => {
  let admin: string;
  let zoneAdmin: string;
  let site: Site;
  let open: string;
  let stricter: string;

  beforeAll(async () => {
    const suffix = crypto.randomUUID().slice(0, 6);
    await seedUser(`ps-admin-${suffix}`, "scope-password-1", ["admin", "auditor"]);
    const zoneAdminId = await seedUser(`ps-zadmin-${suffix}`, "scope-password-1", ["zone_admin"]);
    admin = await login(`ps-admin-${suffix}`, "scope-password-1");
    zoneAdmin = await login(`ps-zadmin-${suffix}`, "scope-password-1");
    site = await seedSite(STRICT);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)")
      .bind(site.zoneId, zoneAdminId)
      .run();
    // The attack's policy: no approval, no recording, no live view, no MFA. It exists globally.
    open = await newPolicy(admin, {
      approvalRequired: false,
      recordingRequired: false,
      liveViewAllowed: false,
      mfaRequired: false,
    });
    // As strict as the zone on every control, with shorter windows.
    stricter = await newPolicy(admin, {
      approvalRequired: true,
      recordingRequired: true,
      liveViewAllowed: true,
      mfaRequired: true,
      maxCheckoutMinutes: 60,
      maxSessionMinutes: 60,
    });
  });

  it("attack: attach an existing open policy the global admin never allowed here; guarantee: 403 policy_not_allowed", async () => {
    const res = await createCredential(zoneAdmin, site, open);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe("policy_not_allowed");
    const stored = await env.DB.prepare("SELECT count(*) AS n FROM credentials WHERE zone_id = ? AND policy_id = ?")
      .bind(site.zoneId, open)
      .first<{ n: number }>();
    expect(stored!.n).toBe(0);
  });

  it("attack: a weaker policy that is on the allow-list; guarantee: 403 policy_weaker_than_zone, the allowed stronger one works", async () => {
    // Only a global admin keeps the allow-list; a zone admin cannot widen it.
    const self = await api(`/api/zones/${site.zoneId}/allowed-policies`, {
      method: "PUT",
      cookie: zoneAdmin,
      body: { policyIds: [open] },
    });
    expect(self.status).toBe(403);
    const put = await api(`/api/zones/${site.zoneId}/allowed-policies`, {
      method: "PUT",
      cookie: admin,
      body: { policyIds: [open, stricter] },
    });
    expect(put.status).toBe(200);
    const view = (await put.json()) as { policyIds: string[]; weaker: Record<string, string[]> };
    expect(view.policyIds.sort()).toEqual([open, stricter].sort());
    expect(view.weaker[open]).toEqual(expect.arrayContaining(["approval", "recording", "live_view", "mfa"]));
    expect(view.weaker[stricter]).toBeUndefined();

    const weaker = await createCredential(zoneAdmin, site, open);
    expect(weaker.status).toBe(403);
    expect(await errorCode(weaker)).toBe("policy_weaker_than_zone");
    expect((await createCredential(zoneAdmin, site, stricter)).status).toBe(201);
    // Inheriting the zone's policy, and naming the zone's own policy, are always allowed.
    expect((await createCredential(zoneAdmin, site, null)).status).toBe(201);
    expect((await createCredential(zoneAdmin, site, site.policyId)).status).toBe(201);
    // The zone admin reads the list of their zone (for the credential form).
    const read = await api(`/api/zones/${site.zoneId}/allowed-policies`, { cookie: zoneAdmin });
    expect(read.status).toBe(200);
  });

  it("attack: an unknown policy id; guarantee: 400 unknown_policy (never a 500), for zone admins and admins alike", async () => {
    for (const cookie of [zoneAdmin, admin]) {
      const res = await createCredential(cookie, site, "no-such-policy");
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe("unknown_policy");
    }
    const zone = await api(`/api/zones/${site.zoneId}`, {
      method: "PATCH",
      cookie: admin,
      body: { policyId: "no-such-policy" },
    });
    expect(zone.status).toBe(400);
    const list = await api(`/api/zones/${site.zoneId}/allowed-policies`, {
      method: "PUT",
      cookie: admin,
      body: { policyIds: ["no-such-policy"] },
    });
    expect(list.status).toBe(400);
  });

  it("the allow-list change is audited with before and after", async () => {
    const audit = await api(`/api/audit?action=admin.change&limit=200`, { cookie: admin });
    expect(audit.status).toBe(200);
    const entries = (await audit.json()) as { entries?: unknown[] } | unknown[];
    const list = (Array.isArray(entries) ? entries : (entries.entries ?? [])) as {
      target: { type: string; id: string };
      data: { before?: { allowedPolicies?: string[] }; after?: { allowedPolicies?: string[] } };
    }[];
    const change = list.find((e) => e.target.id === site.zoneId && e.data.after?.allowedPolicies);
    expect(change?.data.before?.allowedPolicies).toEqual([]);
    expect(change?.data.after?.allowedPolicies?.sort()).toEqual([open, stricter].sort());
  });
});

// ---- one person, two accounts ---------------------------------------------------------------------

const CLIENT_ID = "psm-test-client";

/** Signs in through OIDC against a stand-in IdP (fetch answered in-process); returns the session cookie. */
async function ssoSignIn(claims: Record<string, unknown>): Promise<string> {
  const issuer = `http://idp-${crypto.randomUUID().slice(0, 8)}.test`;
  const oidcEnv = { ...env, OIDC_ISSUER: issuer, OIDC_CLIENT_ID: CLIENT_ID, OIDC_ALLOW_HTTP: "true" };
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
        .setAudience(CLIENT_ID)
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
      `http://psm.test${path}`,
      { headers: cookie ? { cookie } : {}, redirect: "manual" },
      oidcEnv,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  };
  const start = await call("/api/oidc/start");
  expect(start.status).toBe(302);
  const auth = new URL(start.headers.get("location")!);
  nonce = auth.searchParams.get("nonce")!;
  const flowCookie = start.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const back = await call(`/api/oidc/callback?code=code-1&state=${auth.searchParams.get("state")}`, flowCookie);
  expect(back.status).toBe(302);
  expect(back.headers.get("location")).toBe("/#/catalog");
  const session = back.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => /^(__Host-)?psm_session=./.test(c));
  expect(session).toBeDefined();
  return session!;
}

describe("separation of duties across a person's local and SSO accounts", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function gatedSite() {
    const site = await seedSite({ approval_required: 1 });
    await env.DB.prepare("UPDATE policies SET approver_group_id = ? WHERE id = ?")
      .bind(site.groupId, site.policyId)
      .run();
    const suffix = crypto.randomUUID().slice(0, 6);
    await seedUser(`sod-admin-${suffix}`, "sod-password-1", ["admin"]);
    const admin = await login(`sod-admin-${suffix}`, "sod-password-1");
    const bobId = await seedUser(`sod-bob-${suffix}`, "sod-password-1", ["requester", "approver"]);
    await env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(site.groupId, bobId).run();
    const bob = await login(`sod-bob-${suffix}`, "sod-password-1");
    return { site, admin, bob, suffix };
  }

  async function joinApprovers(site: Site, username: string) {
    await env.DB.prepare("INSERT INTO group_members (group_id, user_id) SELECT ?, id FROM users WHERE username = ?")
      .bind(site.groupId, username)
      .run();
  }

  it("attack: request from the local account, approve from the SSO account (same verified email); guarantee: 403, another person can approve", async () => {
    const { site, admin, bob, suffix } = await gatedSite();
    const email = `alice-${suffix}@example.com`;
    const aliceId = await seedUser(`sod-alice-${suffix}`, "sod-password-1", ["requester", "approver"]);
    await site.entitle(aliceId);
    // The admin records the local account's email (an admin-set email is trusted).
    const patched = await api(`/api/users/${aliceId}`, { method: "PATCH", cookie: admin, body: { email } });
    expect(patched.status).toBe(200);
    const alice = await login(`sod-alice-${suffix}`, "sod-password-1");
    // Her SSO account: a new account on first sign-in, with the email the IdP verified.
    const aliceSso = await ssoSignIn({
      sub: `alice-${suffix}`,
      preferred_username: `alice-sso-${suffix}`,
      email,
      email_verified: true,
    });
    await joinApprovers(site, `alice-sso-${suffix}`);

    const request = await checkout(alice, site);
    expect(request.status).toBe("pending_approval");
    const own = await api(`/api/checkouts/${request.id}/approve`, { method: "POST", cookie: aliceSso, body: {} });
    expect(own.status).toBe(403);
    const inbox = (await (await api("/api/approvals", { cookie: aliceSso })).json()) as { id: string }[];
    expect(inbox.map((c) => c.id)).not.toContain(request.id);
    const other = await api(`/api/checkouts/${request.id}/approve`, { method: "POST", cookie: bob, body: {} });
    expect(other.status).toBe(200);
    // The admin sees the link and how it was made.
    const users = (await (await api("/api/users", { cookie: admin })).json()) as {
      username: string;
      personId: string;
      personSource: string | null;
    }[];
    const sso = users.find((u) => u.username === `alice-sso-${suffix}`)!;
    expect(sso.personId).toBe(users.find((u) => u.username === `sod-alice-${suffix}`)!.personId);
    expect(sso.personSource).toBe("email");
  });

  it("attack: the SSO account signed in first and asked; the local account is given the email later and approves; guarantee: 403", async () => {
    const { site, admin, suffix } = await gatedSite();
    const email = `carol-${suffix}@example.com`;
    const carolSso = await ssoSignIn({
      sub: `carol-${suffix}`,
      preferred_username: `carol-sso-${suffix}`,
      email,
      email_verified: true,
    });
    await site.entitle(
      (await env.DB.prepare("SELECT id FROM users WHERE username = ?")
        .bind(`carol-sso-${suffix}`)
        .first<{ id: string }>())!.id,
    );
    const request = await checkout(carolSso, site);
    expect(request.status).toBe("pending_approval");
    const carolId = await seedUser(`sod-carol-${suffix}`, "sod-password-1", ["requester", "approver"]);
    await joinApprovers(site, `sod-carol-${suffix}`);
    expect((await api(`/api/users/${carolId}`, { method: "PATCH", cookie: admin, body: { email } })).status).toBe(200);
    const carol = await login(`sod-carol-${suffix}`, "sod-password-1");
    const own = await api(`/api/checkouts/${request.id}/approve`, { method: "POST", cookie: carol, body: {} });
    expect(own.status).toBe(403);
  });

  it("an email the IdP did not verify links nothing (the admin links by hand, and that link sticks)", async () => {
    const { admin, suffix } = await gatedSite();
    const email = `dave-${suffix}@example.com`;
    const daveId = await seedUser(`sod-dave-${suffix}`, "sod-password-1", ["requester"]);
    await api(`/api/users/${daveId}`, { method: "PATCH", cookie: admin, body: { email } });
    await ssoSignIn({ sub: `dave-${suffix}`, preferred_username: `dave-sso-${suffix}`, email, email_verified: false });
    const sso = (await env.DB.prepare("SELECT id, person_id, person_source FROM users WHERE username = ?")
      .bind(`dave-sso-${suffix}`)
      .first<{ id: string; person_id: string | null; person_source: string | null }>())!;
    expect(sso.person_id).toBeNull();
    const linked = await api(`/api/users/${sso.id}`, { method: "PATCH", cookie: admin, body: { personId: daveId } });
    expect(((await linked.json()) as { personSource: string }).personSource).toBe("admin");
  });
});
