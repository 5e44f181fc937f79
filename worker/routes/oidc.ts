// OIDC single sign-on: authorization code flow with PKCE (S256), state and nonce, via oauth4webapi.
// /api/oidc/start redirects to the IdP; /api/oidc/callback checks state (bound to a cookie of this
// browser), exchanges the code, validates the ID token, links or creates the account, syncs mapped
// groups and roles, links the account to its person (worker/access/person-link.ts), then continues as a
// password sign-in would (second factor if one is enrolled).
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import * as oauth from "oauth4webapi";
import { OIDC_STATE_COOKIE, OidcConfig, type Role } from "../../protocol/index.ts";
import { addMember, removeMember } from "../access/group-store.ts";
import { linkAccount } from "../access/person-link-store.ts";
import { bindSsoSubject, insertSsoUser, setRoles, setSsoEmail } from "../access/user-store.ts";
import { record } from "../audit.ts";
import { startOidcFlow, takeOidcFlow } from "../auth/challenge-store.ts";
import { randomToken } from "../auth/hash.ts";
import { groupsClaim, mapIdpGroups, parseGroupMap, syncedRoles, usernameFrom } from "../auth/oidc-groups.ts";
import { tallyFailure } from "../auth/failure-tally-store.ts";
import { afterFirstFactor } from "../auth/sign-in.ts";
import { clientIp } from "../auth/throttle-store.ts";
import type { AppContext, Env } from "../env.ts";
import { newApi, route } from "../openapi.ts";
import { enforceAccess } from "../access/revocation.ts";

export const oidc = newApi();
const tags = ["auth"];
const STATE_COOKIE = OIDC_STATE_COOKIE;
/** Time to finish at the IdP, ms. */
const FLOW_TTL_MS = 10 * 60_000;
/** Discovery documents are kept this long per isolate, ms. */
const DISCOVERY_TTL_MS = 10 * 60_000;

const enabled = (env: Env) => !!(env.OIDC_ISSUER && env.OIDC_CLIENT_ID);
const insecure = (env: Env) => ({ [oauth.allowInsecureRequests]: env.OIDC_ALLOW_HTTP === "true" });
const redirectUri = (c: Context<AppContext>) => new URL("/api/oidc/callback", c.env.APP_URL ?? c.req.url).toString();
const clientOf = (env: Env): oauth.Client => ({ client_id: env.OIDC_CLIENT_ID! });
const clientAuth = (env: Env) =>
  env.OIDC_CLIENT_SECRET ? oauth.ClientSecretBasic(env.OIDC_CLIENT_SECRET) : oauth.None();

const discovered = new Map<string, { as: oauth.AuthorizationServer; at: number }>();
async function authorizationServer(env: Env): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(env.OIDC_ISSUER!);
  const cached = discovered.get(issuer.href);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.as;
  const res = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...insecure(env) });
  const as = await oauth.processDiscoveryResponse(issuer, res);
  discovered.set(issuer.href, { as, at: Date.now() });
  return as;
}

oidc.openapi(
  route({
    method: "get",
    path: "/oidc/config",
    summary: "Whether single sign-on is offered",
    tags,
    response: OidcConfig,
  }),
  (c) => c.json({ enabled: enabled(c.env), label: c.env.OIDC_LABEL ?? "single sign-on" }, 200),
);

oidc.get("/oidc/start", async (c) => {
  if (!enabled(c.env)) return c.redirect("/#/login?sso_error=off", 302);
  const as = await authorizationServer(c.env);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const flowId = randomToken(24);
  const now = Date.now();
  await startOidcFlow(c.env.DB, {
    id: flowId,
    state,
    data: JSON.stringify({ verifier, nonce }),
    createdAt: now,
    expiresAt: now + FLOW_TTL_MS,
  });
  // The IdP sends the browser back cross-site (a top-level GET): SameSite=Lax is sent, Strict is not.
  setCookie(c, STATE_COOKIE, flowId, {
    httpOnly: true,
    sameSite: "Lax",
    // `__Host-`: Secure and Path=/ (the prefix allows no narrower path).
    secure: true,
    path: "/",
    maxAge: FLOW_TTL_MS / 1000,
  });
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set("client_id", c.env.OIDC_CLIENT_ID!);
  url.searchParams.set("redirect_uri", redirectUri(c));
  url.searchParams.set("response_type", "code");
  url.searchParams.set("scope", c.env.OIDC_SCOPES ?? "openid profile email");
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  return c.redirect(url.toString(), 302);
});

/** A refused callback: logged in full, counted per minute, account and address (failure-tally.ts). */
async function failed(c: Context<AppContext>, reason: string, detail: string, userId?: string) {
  console.warn(`oidc callback refused: ${detail}`);
  await tallyFailure(c.env, {
    action: "auth.login_failed",
    via: "oidc",
    account: userId ?? "unknown",
    userId: userId ?? null,
    name: null,
    address: clientIp(c),
    reason,
  });
  return c.redirect("/#/login?sso_error=1", 302);
}

oidc.get("/oidc/callback", async (c) => {
  if (!enabled(c.env)) return c.redirect("/#/login?sso_error=off", 302);
  const flowId = getCookie(c, STATE_COOKIE);
  deleteCookie(c, STATE_COOKIE, { path: "/", secure: true });
  if (!flowId) return failed(c, "no_state", "no state cookie (another browser, or expired)");
  // One use: the flow row is spent before anything else is checked.
  const flow = await takeOidcFlow(c.env.DB, flowId, Date.now());
  if (!flow) return failed(c, "flow", "unknown, used or expired flow");
  const { verifier, nonce } = JSON.parse(flow.data) as { verifier: string; nonce: string };
  let claims: oauth.IDToken;
  let idpGroups: string[];
  try {
    const as = await authorizationServer(c.env);
    const client = clientOf(c.env);
    const params = oauth.validateAuthResponse(as, client, new URL(c.req.url), flow.challenge);
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      clientAuth(c.env),
      params,
      redirectUri(c),
      verifier,
      insecure(c.env),
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    });
    claims = oauth.getValidatedIdTokenClaims(result)!;
    const claimName = c.env.OIDC_GROUPS_CLAIM ?? "groups";
    idpGroups = groupsClaim(claims[claimName]);
    if (!(claimName in claims) && as.userinfo_endpoint) {
      // Some IdPs put groups only in userinfo.
      const info = await oauth.processUserInfoResponse(
        as,
        client,
        claims.sub,
        await oauth.userInfoRequest(as, client, result.access_token, insecure(c.env)),
      );
      idpGroups = groupsClaim(info[claimName]);
      claims = { ...info, ...claims };
    }
  } catch (err) {
    return failed(c, "idp", `${(err as Error).name}: ${(err as Error).message}`);
  }

  const subject = `${claims.iss}|${claims.sub}`;
  const mapped = mapIdpGroups(parseGroupMap(c.env.OIDC_GROUP_MAP), idpGroups);
  let user = await c.env.DB.prepare("SELECT id, username, roles, disabled FROM users WHERE oidc_subject = ?")
    .bind(subject)
    .first<{ id: string; username: string; roles: string; disabled: number }>();
  if (user?.disabled) return failed(c, "disabled", "account disabled", user.id);
  const base = usernameFrom(claims as { preferred_username?: unknown; email?: unknown; sub: string });
  if (!user) {
    // An account the IdP provisioned through SCIM (no password, no SSO subject yet) under this username is this
    // person's: it is bound to the subject at the first sign-in (docs/auth.md, "SCIM provisioning").
    const provisioned = await c.env.DB.prepare(
      "SELECT id, username, roles, disabled FROM users WHERE username = ? AND source = 'scim' AND oidc_subject IS NULL AND deleted_at IS NULL",
    )
      .bind(base)
      .first<{ id: string; username: string; roles: string; disabled: number }>();
    if (provisioned?.disabled) return failed(c, "disabled", "account disabled", provisioned.id);
    if (provisioned) {
      await bindSsoSubject(c.env.DB, provisioned.id, subject);
      await record(c.env, {
        actor: { id: "oidc", name: "single sign-on" },
        action: "admin.change",
        target: { type: "user", id: provisioned.id, name: provisioned.username },
        refs: { userId: provisioned.id },
        data: { after: { via: "oidc", linked: "scim" } },
      });
      user = provisioned;
    }
  }
  if (!user) {
    // First sign-in: a new account. An existing local account of the same name is never taken over.
    const taken = await c.env.DB.prepare("SELECT 1 AS t FROM users WHERE username = ?").bind(base).first();
    const username = taken ? `${base.slice(0, 55)}.${randomToken(6).replace(/[^A-Za-z0-9]/g, "x")}` : base;
    const id = crypto.randomUUID();
    const roles = syncedRoles([], mapped);
    await insertSsoUser(c.env.DB, {
      id,
      username,
      roles,
      email: typeof claims.email === "string" ? claims.email : null,
      subject,
    });
    await record(c.env, {
      actor: { id: "oidc", name: "single sign-on" },
      action: "admin.change",
      target: { type: "user", id, name: username },
      refs: { userId: id },
      data: { after: { roles, via: "oidc" } },
    });
    user = { id, username, roles: JSON.stringify(roles), disabled: 0 };
  }
  // The IdP is authoritative for an SSO account's email; only a verified one can link it to a person.
  if (typeof claims.email === "string")
    await setSsoEmail(c.env.DB, user.id, claims.email, claims.email_verified === true);
  await linkAccount(c.env, user.id, c.env.OIDC_PERSON_CLAIM ? claims[c.env.OIDC_PERSON_CLAIM] : undefined);
  await syncMemberships(c, user.id, user.username, JSON.parse(user.roles) as Role[], mapped);
  const fresh = await c.env.DB.prepare("SELECT roles FROM users WHERE id = ?").bind(user.id).first<{ roles: string }>();
  const result = await afterFirstFactor(
    c,
    { id: user.id, username: user.username, roles: JSON.parse(fresh!.roles) },
    "oidc",
  );
  return c.redirect(result.stage === "full" ? "/#/catalog" : `/#/login?mfa=${result.methods.join(",")}`, 302);
});

/** Sets managed groups and roles to what the IdP says; audits a change. */
async function syncMemberships(
  c: Context<AppContext>,
  userId: string,
  username: string,
  currentRoles: Role[],
  mapped: ReturnType<typeof mapIdpGroups>,
): Promise<void> {
  const roles = syncedRoles(currentRoles, mapped);
  if (!mapped.managedGroups.length && !mapped.managedRoles.length) return;
  const { results: known } = await c.env.DB.prepare(
    `SELECT g.id, g.name, EXISTS(SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = ?) AS member
     FROM groups g WHERE g.name IN (${mapped.managedGroups.map(() => "?").join(",") || "''"})`,
  )
    .bind(userId, ...mapped.managedGroups)
    .all<{ id: string; name: string; member: number }>();
  const stmts: D1PreparedStatement[] = [];
  const before = known.filter((g) => g.member).map((g) => g.name);
  for (const g of known) {
    const should = mapped.groups.some((n) => n.toLowerCase() === g.name.toLowerCase());
    if (should && !g.member) stmts.push(addMember(c.env.DB, g.id, userId));
    if (!should && g.member) stmts.push(removeMember(c.env.DB, g.id, userId));
  }
  const rolesChanged = JSON.stringify([...roles].sort()) !== JSON.stringify([...currentRoles].sort());
  if (rolesChanged) stmts.push(setRoles(c.env.DB, userId, roles));
  if (!stmts.length) return;
  await c.env.DB.batch(stmts);
  await record(c.env, {
    actor: { id: "oidc", name: "single sign-on" },
    action: "admin.change",
    target: { type: "user", id: userId, name: username },
    refs: { userId },
    data: { before: { groups: before, roles: currentRoles }, after: { groups: mapped.groups, roles }, via: "oidc" },
  });
  // The identity provider took a group or role away: what depended on it ends.
  await enforceAccess(c.env, { kind: "user", userId }, "single sign-on groups changed", null);
}
