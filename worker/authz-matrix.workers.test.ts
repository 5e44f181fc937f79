// The authorization matrix, generated from the router's own route list: every route is tried as
// anonymous, as an admin of another zone, as a requester, as an approver and as an admin. A route
// without an entry here fails the test, so a new route cannot ship without a decision on who may call it.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { app } from "./index.ts";
import { api, checkout, login, ORIGIN, seedSite, seedUser, sessionCookieOf } from "./test/harness.ts";

type Persona = "anonymous" | "otherZoneAdmin" | "requester" | "approver" | "admin";
const PERSONAS: Persona[] = ["anonymous", "otherZoneAdmin", "requester", "approver", "admin"];

/** Who may call a route: public (anyone), signedIn, anyAdmin (admin or zone admin), admin, zoneAdmin (of the object's zone), owner (the requester's own objects), approver, auditor, connector, socket. */
type Access =
  | "public"
  | "signedIn"
  | "anyAdmin"
  | "admin"
  | "zoneAdmin"
  | "owner"
  | "approver"
  | "auditor"
  | "connector"
  | "connectorHttp"
  | "socket"
  | "watchSocket"
  | "moderatorSocket"
  | "selfOnly"
  | "scim";

const ALLOWED: Record<Access, Persona[]> = {
  public: PERSONAS,
  signedIn: ["otherZoneAdmin", "requester", "approver", "admin"],
  anyAdmin: ["otherZoneAdmin", "admin"],
  admin: ["admin"],
  zoneAdmin: ["admin"],
  owner: ["requester"],
  approver: ["approver"],
  auditor: ["admin"],
  connector: [],
  connectorHttp: [], // plain HTTP with a connector's proof-of-key token: no user is ever let through
  socket: ["requester"],
  watchSocket: ["admin"],
  // Only a member of the session's moderator group who is not its requester; the fixture's policy is not
  // moderated, so nobody, not even an admin (worker/moderation.workers.test.ts has the rest).
  moderatorSocket: [],
  // One's own objects addressed by id (push requests): any signed-in user reaches the route, and an id
  // that is not theirs is a 404 there; anonymous is a 401.
  selfOnly: ["otherZoneAdmin", "requester", "approver", "admin"],
  // /scim/v2 takes only a SCIM bearer token (psm-scim+…): no cookie opens it, not even an admin's (401).
  scim: [],
};

type Fixture = Awaited<ReturnType<typeof fixture>>;
type Entry = {
  access: Access;
  body?: (f: Fixture) => unknown;
  id?: (f: Fixture) => string;
  connectorId?: (f: Fixture) => string;
};

const MATRIX: Record<string, Entry> = {
  "POST /api/login": { access: "public", body: () => ({ username: "nobody", password: "x" }) },
  "POST /api/logout": { access: "public" },
  "GET /api/me": { access: "signedIn" },
  "POST /api/bootstrap": {
    access: "public",
    body: () => ({ token: "wrong-token-0123456789", username: "x", password: "long-enough-password" }),
  },
  "GET /api/sites": { access: "anyAdmin" },
  "POST /api/sites": { access: "admin", body: () => ({ name: `s-${crypto.randomUUID()}` }) },
  "POST /api/sites/:id/enrollment-tokens": { access: "admin", id: (f) => f.site.siteId },
  "GET /api/sites/:id/connectors": { access: "admin", id: (f) => f.site.siteId },
  "GET /api/sites/:id/seal-key": { access: "admin", id: (f) => f.site.siteId },
  "POST /api/sites/:id/seal-key/rotate": { access: "admin", id: (f) => f.site.siteId },
  // The gated site's connector: nothing later in the matrix dials with it.
  "POST /api/sites/:id/connectors/:connectorId/revoke": {
    access: "admin",
    id: (f) => f.gated.siteId,
    connectorId: (f) => f.gated.connectorId,
  },
  "GET /api/users": { access: "admin" },
  "GET /api/users/search": { access: "admin" },
  "POST /api/users": {
    access: "admin",
    body: () => ({
      username: `u${crypto.randomUUID().slice(0, 8)}`,
      password: "long-enough-password",
      roles: ["requester"],
    }),
  },
  "PATCH /api/users/:id": { access: "admin", id: (f) => f.requesterId, body: () => ({ email: "req@example.com" }) },
  "GET /api/groups": { access: "admin" },
  "POST /api/groups": { access: "admin", body: () => ({ name: `g-${crypto.randomUUID()}` }) },
  "PUT /api/groups/:id/members": {
    access: "admin",
    id: (f) => f.site.groupId,
    body: (f) => ({ userIds: [f.requesterId] }),
  },
  "GET /api/zones": { access: "anyAdmin" },
  "POST /api/zones": { access: "admin", body: (f) => ({ name: `z-${crypto.randomUUID()}`, siteId: f.site.siteId }) },
  "PATCH /api/zones/:id": { access: "admin", id: (f) => f.site.zoneId, body: () => ({ description: "changed" }) },
  "GET /api/policies": { access: "anyAdmin" },
  "POST /api/policies": { access: "admin", body: () => ({ name: `p-${crypto.randomUUID()}` }) },
  "PATCH /api/policies/:id": { access: "admin", id: (f) => f.site.policyId, body: () => ({ maxSessionMinutes: 120 }) },
  "GET /api/servers": { access: "anyAdmin" },
  "POST /api/servers": {
    access: "zoneAdmin",
    body: (f) => ({
      name: `srv-${crypto.randomUUID().slice(0, 8)}`,
      host: "10.0.0.9",
      zoneId: f.site.zoneId,
      hostKey: `SHA256:${"C".repeat(43)}`,
    }),
  },
  "PUT /api/servers/:id/host-key": {
    access: "zoneAdmin",
    id: (f) => f.site.serverId,
    body: () => ({ hostKey: `SHA256:${"D".repeat(43)}` }),
  },
  // No connector is live for the fixture's site: an allowed caller gets { ok: false, error: "offline" }.
  "POST /api/servers/:id/host-key/probe": { access: "zoneAdmin", id: (f) => f.site.serverId },
  "PATCH /api/servers/:id": {
    access: "zoneAdmin",
    id: (f) => f.site.serverId,
    body: () => ({ enabled: true }),
  },
  // The fixture's server and credential are on: an allowed caller gets 409 still_enabled, nothing is deleted.
  "DELETE /api/servers/:id": { access: "zoneAdmin", id: (f) => f.site.serverId },
  "DELETE /api/credentials/:id": { access: "zoneAdmin", id: (f) => f.site.credentialId },
  "PATCH /api/credentials/:id": {
    access: "zoneAdmin",
    id: (f) => f.site.credentialId,
    body: () => ({ enabled: true }),
  },
  "PUT /api/credentials/:id/secret": {
    access: "zoneAdmin",
    id: (f) => f.site.credentialId,
    body: () => ({ sealed: "eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.a2V5.aXY.Y2lwaGVy.dGFn" }),
  },
  "GET /api/credentials/:id/rotation": { access: "zoneAdmin", id: (f) => f.site.credentialId },
  "PUT /api/credentials/:id/rotation": {
    access: "zoneAdmin",
    id: (f) => f.site.credentialId,
    body: () => ({ account: { type: "ssh" }, rotateWith: null }),
  },
  // Verify changes no state; a rotation waits for the open checkout (and no connector is online).
  "POST /api/credentials/:id/verify": { access: "zoneAdmin", id: (f) => f.site.credentialId },
  "POST /api/credentials/:id/rotate": { access: "zoneAdmin", id: (f) => f.site.credentialId },
  "POST /api/servers/import": {
    access: "zoneAdmin",
    body: (f) => ({ zoneId: f.site.zoneId, csv: "name,host,port,host_key\n" }),
  },
  "POST /api/credentials": {
    access: "zoneAdmin",
    body: (f) => ({
      name: "c",
      username: "root",
      kind: "password",
      zoneId: f.site.zoneId,
      sealed: "a.b.c.d.e",
      serverIds: [f.site.serverId],
    }),
  },
  "GET /api/grants": { access: "anyAdmin" },
  "POST /api/grants": { access: "zoneAdmin", body: (f) => ({ groupId: f.site.groupId, zoneId: f.site.zoneId }) },
  "DELETE /api/grants/:id": { access: "zoneAdmin", id: (f) => f.spareGrantId },
  "GET /api/catalog": { access: "signedIn" },
  "POST /api/checkouts": {
    access: "signedIn",
    body: (f) => ({
      items: [{ serverId: f.site.serverId, credentialId: f.site.credentialId, minutes: 5, justification: "matrix" }],
    }),
  },
  "GET /api/checkouts": { access: "signedIn" },
  "GET /api/approvals": { access: "signedIn" },
  "POST /api/checkouts/:id/approve": { access: "approver", id: (f) => f.pendingId, body: () => ({ comment: "ok" }) },
  "POST /api/checkouts/:id/deny": { access: "approver", id: (f) => f.pendingId, body: () => ({ comment: "no" }) },
  "POST /api/checkouts/:id/withdraw": { access: "owner", id: (f) => f.pendingId },
  "POST /api/checkouts/:id/check-in": { access: "owner", id: (f) => f.activeId },
  "POST /api/checkouts/:id/revoke": {
    access: "zoneAdmin",
    id: (f) => f.activeId,
    body: () => ({ reason: "matrix revoke" }),
  },
  "POST /api/sessions": { access: "owner", body: (f) => ({ checkoutId: f.activeId }) },
  "GET /api/sessions/:id": { access: "owner", id: (f) => f.sessionId },
  "GET /api/sessions/live": { access: "anyAdmin" },
  "GET /api/admin/checkouts": { access: "anyAdmin" },
  "POST /api/sessions/:id/kill": {
    access: "zoneAdmin",
    id: (f) => f.sessionId,
    body: () => ({ reason: "matrix kill" }),
  },
  "GET /api/sessions/:id/ws": { access: "socket", id: (f) => f.sessionId },
  "POST /api/sessions/:id/extensions": { access: "owner", id: (f) => f.sessionId, body: () => ({ minutes: 5 }) },
  "GET /api/extensions": { access: "signedIn" },
  "POST /api/extensions/:id/decision": {
    access: "approver",
    id: (f) => f.extensionId,
    body: () => ({ approve: true }),
  },
  "GET /api/sessions/:id/watch": { access: "watchSocket", id: (f) => f.sessionId },
  "GET /api/sessions/:id/moderate": { access: "moderatorSocket", id: (f) => f.sessionId },
  // Anyone signed in may ask; the list holds only sessions the caller may moderate (empty for the fixture).
  "GET /api/moderation": { access: "signedIn" },
  // Held commands (command review): the list is empty for whoever reviews nothing; a review the caller may not
  // answer is a 404 (worker/command-reviews.workers.test.ts has who may).
  "GET /api/command-reviews": { access: "signedIn" },
  "POST /api/command-reviews/:sessionId/:id": {
    access: "selfOnly",
    id: () => "0123456789abcdef",
    body: () => ({ allow: true }),
  },
  // Shared sessions: the session's user manages its invitations (anyone else: 404); an invitation to the caller
  // is found only by its invitee (a 404 for everyone else; worker/sharing.workers.test.ts has who may join).
  "GET /api/sessions/:id/invitations": { access: "owner", id: (f) => f.sessionId },
  "POST /api/sessions/:id/invitations": {
    access: "owner",
    id: (f) => f.sessionId,
    body: () => ({ username: "nobody-at-all" }),
  },
  // An invitation that is not the caller's (the fixture has none): 404, for the session's user too.
  "DELETE /api/sessions/:id/invitations/:invitationId": { access: "selfOnly", id: (f) => f.sessionId },
  "GET /api/invitations": { access: "signedIn" },
  "GET /api/invitations/:id/step-up": { access: "selfOnly" },
  "POST /api/invitations/:id/accept": { access: "selfOnly" },
  // The invitee's input socket: only on an accepted invitation; the fixture has none, so nobody.
  "GET /api/sessions/:id/join": { access: "moderatorSocket", id: (f) => f.sessionId },
  "GET /api/audit": { access: "auditor" },
  "GET /api/audit/export": { access: "auditor" },
  "GET /api/audit/names": { access: "auditor" },
  "GET /api/audit/verify": { access: "auditor" },
  "GET /api/commands": { access: "auditor" },
  "POST /api/connectors/enroll": {
    access: "public",
    body: () => ({ token: "not-a-real-token-0123", name: "c", identityKey: { kty: "OKP", crv: "Ed25519", x: "AAAA" } }),
  },
  "GET /connector/control": { access: "connector" },
  "GET /connector/sessions/:id": { access: "connector", id: (f) => f.sessionId },
  "POST /connector/inventory": { access: "connectorHttp", body: () => ({ servers: [] }) },
  "POST /connector/rotations/:id": {
    access: "connectorHttp",
    id: () => crypto.randomUUID(),
    body: () => ({ outcome: "in_sync" }),
  },
  "GET /connector/seal-rotations/:id": { access: "connectorHttp", id: () => crypto.randomUUID() },
  "POST /connector/seal-rotations/:id": {
    access: "connectorHttp",
    id: () => crypto.randomUUID(),
    body: () => ({ outcome: "failed", error: "connector_error" }),
  },
  // A chunk upload: only a connector's token for exactly this chunk's path (recording.workers.test.ts tries the rest).
  "PUT /connector/recordings/:id/chunks/:seq": { access: "connectorHttp", id: () => crypto.randomUUID() },
  "POST /connector/identity": {
    access: "connectorHttp",
    body: () => ({ publicKey: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) } }),
  },
  // Offline: 409 for the admin (allowed), refused for everyone else.
  "POST /api/sites/:id/connectors/:connectorId/rotate-key": {
    access: "admin",
    id: (f) => f.site.siteId,
    connectorId: (f) => f.site.connectorId,
  },
  "GET /api/sites/:id/discovered": { access: "admin", id: (f) => f.site.siteId },
  "GET /api/sites/:id/discovery-lifecycle": { access: "admin", id: (f) => f.site.siteId },
  "PUT /api/sites/:id/discovery-lifecycle": {
    access: "admin",
    id: (f) => f.site.siteId,
    body: () => ({ staleAfterDays: 7, retireAfterDays: 30 }),
  },
  "POST /api/discovered/:id/enable": {
    access: "zoneAdmin",
    id: () => "found-1",
    body: (f) => ({ zoneId: f.site.zoneId, hostKey: `SHA256:${"A".repeat(43)}` }),
  },
  "GET /api/openapi.json": { access: "public" },
  // Recordings: the session's own user only where the zone allows it (not here); see recordings.workers.test.ts.
  "GET /api/recordings": { access: "signedIn" },
  // Names only from the recordings the caller may see (worker/filter-names.ts).
  "GET /api/recordings/names": { access: "signedIn" },
  "GET /api/recordings/:id": { access: "auditor", id: (f) => f.recordingId },
  "POST /api/recordings/:id/verify": { access: "auditor", id: (f) => f.recordingId },
  "DELETE /api/recordings/:id": { access: "admin", id: (f) => f.recordingId },
  "GET /api/recordings/:id/cast": { access: "auditor", id: (f) => f.recordingId },
  "GET /api/recordings/:id/manifest": { access: "auditor", id: (f) => f.recordingId },
  // The edge's public keys (offline verification): auditors, admins and zone admins.
  "GET /api/edge-keys": { access: "anyAdmin" },
  "GET /api/zones/:id/allowed-policies": { access: "zoneAdmin", id: (f) => f.site.zoneId },
  "PUT /api/zones/:id/allowed-policies": {
    access: "admin",
    id: (f) => f.site.zoneId,
    body: () => ({ policyIds: [] }),
  },
  "GET /api/zones/:id/recording-policy": { access: "zoneAdmin", id: (f) => f.site.zoneId },
  "PUT /api/zones/:id/recording-policy": {
    access: "admin",
    id: (f) => f.site.zoneId,
    body: () => ({ retentionDays: 90, ownerReplay: false }),
  },
  // Strong authentication (worker/routes/mfa.ts, webauthn.ts, tickets.ts). Bodies that fail validation
  // answer 400 once the caller is known: enough to tell allowed from denied without changing a factor.
  "POST /api/me/password": { access: "signedIn", body: () => ({ current: "x", next: "short" }) },
  "GET /api/mfa": { access: "signedIn" },
  "POST /api/mfa/totp/enrol": { access: "signedIn" },
  "POST /api/mfa/totp/confirm": { access: "signedIn", body: () => ({ code: "x" }) },
  "POST /api/mfa/totp/verify": { access: "signedIn", body: () => ({ code: "x" }) },
  "DELETE /api/mfa/totp": { access: "signedIn" },
  "POST /api/mfa/recovery": { access: "signedIn", body: () => ({ code: "x" }) },
  "POST /api/mfa/recovery/regenerate": { access: "signedIn" },
  "POST /api/mfa/webauthn/register/options": { access: "signedIn" },
  "POST /api/mfa/webauthn/register": { access: "signedIn", body: () => ({}) },
  "POST /api/mfa/webauthn/authenticate/options": { access: "signedIn" },
  "POST /api/mfa/webauthn/authenticate": { access: "signedIn", body: () => ({}) },
  "DELETE /api/mfa/webauthn/:id": { access: "signedIn" },
  "POST /api/sessions/:id/ticket": { access: "signedIn", id: (f) => f.sessionId, body: () => ({ socket: "ws" }) },
  "POST /api/mfa/push": { access: "signedIn" },
  "GET /api/mfa/push/pending": { access: "signedIn" },
  "POST /api/mfa/push/:id/approve": { access: "selfOnly", body: () => ({ number: 42 }) },
  "POST /api/mfa/push/:id/deny": { access: "selfOnly" },
  "POST /api/mfa/push/:id/complete": { access: "selfOnly" },
  // Web Push: one's own notified devices (an id that is not one's own is a no-op or a 404 there).
  "GET /api/push/config": { access: "signedIn" },
  "GET /api/push/devices": { access: "signedIn" },
  "POST /api/push/devices": {
    access: "signedIn",
    body: () => ({
      endpoint: `https://push.psm.test/${crypto.randomUUID()}`,
      keys: { p256dh: `B${"A".repeat(86)}`, auth: "A".repeat(22) },
      label: "Matrix device",
    }),
  },
  "DELETE /api/push/devices/:id": { access: "selfOnly" },
  "POST /api/push/devices/:id/test": { access: "selfOnly" },
  "GET /api/checkouts/:id/step-up": { access: "owner", id: (f) => f.activeId },
  "POST /api/me/master-password": { access: "signedIn", body: () => ({ next: "short" }) },
  "POST /api/users/:id/reset-mfa": { access: "admin", id: (f) => f.spareUserId, body: () => ({}) },
  "GET /api/admin/duo": { access: "admin" },
  "GET /api/admin/mail-relay": { access: "admin" },
  // Turned off; the fixture's site has a seal key. No password: nothing is sealed.
  "PUT /api/admin/mail-relay": {
    access: "admin",
    body: (f) => ({
      enabled: false,
      siteId: f.site.siteId,
      host: "smtp.matrix.test",
      port: 587,
      tls: "required",
      user: null,
      from: "psm@matrix.test",
    }),
  },
  "GET /api/admin/notifications": { access: "admin" },
  "GET /api/audit/sinks": { access: "admin" },
  // Off, so nothing is delivered while the matrix runs; its name is new each call.
  "POST /api/audit/sinks": {
    access: "admin",
    body: () => ({
      kind: "hec",
      name: `matrix-${crypto.randomUUID().slice(0, 8)}`,
      enabled: false,
      url: "https://hec.matrix.test/services/collector/event",
      token: "matrix-hec-token",
    }),
  },
  "PUT /api/audit/sinks/:id": {
    access: "admin",
    id: (f) => f.auditSinkId,
    body: () => ({ kind: "hec", name: "matrix sink", enabled: false, url: "https://hec.matrix.test/x" }),
  },
  "DELETE /api/audit/sinks/:id": { access: "admin", id: (f) => f.spareAuditSinkId },
  // The fixture's dead outbox row: made due again (admin only).
  "POST /api/admin/notifications/:id/retry": { access: "admin", id: () => "matrix-dead-notification" },
  "GET /api/me/notifications": { access: "signedIn" },
  "PUT /api/me/notifications": { access: "signedIn", body: () => ({ topics: { kills: "email" } }) },
  "GET /api/me/keyboard-layout": { access: "signedIn" },
  "PUT /api/me/keyboard-layout": { access: "signedIn", body: () => ({ keyboardLayout: "de-de" }) },
  // Turned off, so no call to Duo is made; the admin's save is harmless to the other routes.
  "PUT /api/admin/duo": {
    access: "admin",
    body: () => ({
      enabled: false,
      apiHost: "api-matrix.duo.test",
      clientId: "DIMATRIXMATRIXMATRIX",
      clientSecret: "m".repeat(40),
      failMode: "closed",
    }),
  },
  // Duo is off here: a signed-in caller gets 409 (start) or 400 (a state too short to be one, finish), which
  // costs the sign-in nothing; Duo's callback is public (it only passes what Duo sent on to the page).
  "POST /api/mfa/duo/start": { access: "signedIn", body: () => ({}) },
  "GET /api/mfa/duo/callback": { access: "public" },
  "POST /api/mfa/duo/finish": { access: "signedIn", body: () => ({ state: "short", code: "c" }) },
  "GET /api/oidc/config": { access: "public" },
  "GET /api/oidc/start": { access: "public" },
  "GET /api/oidc/callback": { access: "public" },
  // SCIM tokens (global admins) and SCIM 2.0 itself (worker/routes/scim.ts; scim.workers.test.ts has the token side).
  "GET /api/scim-tokens": { access: "admin" },
  "POST /api/scim-tokens": { access: "admin", body: () => ({ name: "matrix idp" }) },
  "POST /api/scim-tokens/:id/revoke": { access: "admin", id: () => "matrix-scim-token" },
  "GET /scim/v2/Users": { access: "scim" },
  "POST /scim/v2/Users": { access: "scim", body: () => ({ userName: "matrix-scim-user" }) },
  "GET /scim/v2/Users/:id": { access: "scim", id: (f) => f.requesterId },
  "PUT /scim/v2/Users/:id": { access: "scim", id: (f) => f.requesterId, body: () => ({ userName: "m-requester" }) },
  "PATCH /scim/v2/Users/:id": {
    access: "scim",
    id: (f) => f.requesterId,
    body: () => ({ Operations: [{ op: "replace", path: "active", value: false }] }),
  },
  "DELETE /scim/v2/Users/:id": { access: "scim", id: (f) => f.requesterId },
  "GET /scim/v2/Groups": { access: "scim" },
  "POST /scim/v2/Groups": { access: "scim", body: () => ({ displayName: "matrix-scim-group" }) },
  "GET /scim/v2/Groups/:id": { access: "scim", id: (f) => f.site.groupId },
  "PUT /scim/v2/Groups/:id": { access: "scim", id: (f) => f.site.groupId, body: () => ({ displayName: "g" }) },
  "PATCH /scim/v2/Groups/:id": {
    access: "scim",
    id: (f) => f.site.groupId,
    body: () => ({ Operations: [{ op: "remove", path: "members" }] }),
  },
  "DELETE /scim/v2/Groups/:id": { access: "scim", id: (f) => f.site.groupId },
  "GET /scim/v2/ServiceProviderConfig": { access: "scim" },
  "GET /scim/v2/ResourceTypes": { access: "scim" },
  "GET /scim/v2/Schemas": { access: "scim" },
};

const USERNAMES: Record<Exclude<Persona, "anonymous">, string> = {
  requester: "m-requester",
  approver: "m-approver",
  otherZoneAdmin: "m-zoneadmin",
  admin: "m-admin",
};

async function fixture() {
  // Zone A holds everything; the other zone admin administers zone B only.
  // Sharing on: the session's user may invite (POST /api/sessions/:id/invitations gets past the policy).
  const site = await seedSite({ approval_required: 0, session_sharing: 1 });
  const gated = await seedSite({ approval_required: 1 });
  const requesterId = await seedUser("m-requester", "matrix-password-1", ["requester"]);
  const approverId = await seedUser("m-approver", "matrix-password-1", ["requester", "approver"]);
  const zoneAdminId = await seedUser("m-zoneadmin", "matrix-password-1", ["zone_admin"]);
  await seedUser("m-admin", "matrix-password-1", ["admin", "auditor"]);
  const spareUserId = await seedUser("m-spare", "matrix-password-1", ["requester"]);
  await site.entitle(requesterId);
  await gated.entitle(requesterId);
  await env.DB.batch([
    env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(gated.zoneId, zoneAdminId),
    env.DB.prepare("UPDATE policies SET approver_group_id = ? WHERE id = ?").bind(gated.groupId, gated.policyId),
    env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(gated.groupId, approverId),
    env.DB.prepare(
      "INSERT INTO access_grants (id, group_id, zone_id, created_at) VALUES ('spare-grant', ?, ?, 0)",
    ).bind(site.groupId, site.zoneId),
    env.DB.prepare(
      "INSERT INTO scim_tokens (id, name, token_hash, created_by, created_at) VALUES ('matrix-scim-token', 'm', 'not-a-hash', ?, 0)",
    ).bind(requesterId),
    env.DB.prepare(
      "INSERT INTO notifications (id, channel, target, event, subject, body, created_at, attempts, next_attempt_at, dead_at, last_error) VALUES ('matrix-dead-notification', 'email', 'a@matrix.test', 'checkout.requested', 's', 'b', 0, 10, 0, 0, 'smtp 550')",
    ),
    ...["matrix-sink", "matrix-spare-sink"].map((id) =>
      env.DB.prepare(
        "INSERT INTO audit_sinks (id, name, kind, enabled, url, token_enc, created_at, updated_at) VALUES (?, ?, 'hec', 0, 'https://hec.matrix.test/x', 'not.sealed', 0, 0)",
      ).bind(id, id),
    ),
    env.DB.prepare(
      "INSERT INTO discovered_servers (id, site_id, source, source_id, name, host, port, connector_id, first_seen, last_seen) VALUES ('found-1', ?, 'ldap', 'CN=found', 'found', '10.0.0.9', 22, ?, 0, 0)",
    ).bind(site.siteId, site.connectorId),
  ]);
  const cookies = {
    anonymous: "",
    requester: await login("m-requester", "matrix-password-1"),
    approver: await login("m-approver", "matrix-password-1"),
    otherZoneAdmin: await login("m-zoneadmin", "matrix-password-1"),
    admin: await login("m-admin", "matrix-password-1"),
  } satisfies Record<Persona, string>;
  const active = await checkout(cookies.requester, site);
  const pending = await checkout(cookies.requester, gated);
  const sessionRes = await api("/api/sessions", {
    method: "POST",
    cookie: cookies.requester,
    body: { checkoutId: active.id },
  });
  expect(sessionRes.status).toBe(503); // no connector: the session row exists, ended
  const session = await env.DB.prepare("SELECT id FROM sessions WHERE checkout_id = ?")
    .bind(active.id)
    .first<{ id: string }>();
  // A pending extension in the gated zone, whose approver group holds the approver.
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, checkout_id, status, created_at, deadline)
       VALUES ('gated-session', ?, ?, ?, ?, ?, 'ended', 0, 1)`,
    ).bind(requesterId, gated.serverId, gated.credentialId, gated.siteId, pending.id),
    env.DB.prepare(
      `INSERT INTO session_extensions (id, session_id, user_id, person_id, minutes, status, requested_at)
       VALUES ('matrix-extension', 'gated-session', ?, ?, 5, 'pending', 0)`,
    ).bind(requesterId, requesterId),
  ]);
  const recording = await env.DB.prepare("SELECT id FROM recordings WHERE session_id = ?")
    .bind(session!.id)
    .first<{ id: string }>();
  return {
    recordingId: recording!.id,
    site,
    gated,
    requesterId,
    extensionId: "matrix-extension",
    cookies,
    activeId: active.id,
    pendingId: pending.id,
    sessionId: session!.id,
    spareGrantId: "spare-grant",
    spareUserId,
    auditSinkId: "matrix-sink",
    spareAuditSinkId: "matrix-spare-sink",
  };
}

/** The JSON schema each route declares for its success answer, by "METHOD /path/:param" as the router names it. */
function declaredAnswers(): Map<string, z.ZodType> {
  const answers = new Map<string, z.ZodType>();
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type !== "route") continue;
    const [, success] = Object.entries(d.route.responses).find(([status]) => status !== "default") ?? [];
    const schema = (success as { content?: Record<string, { schema?: z.ZodType }> } | undefined)?.content?.[
      "application/json"
    ]?.schema;
    if (schema) answers.set(`${d.route.method.toUpperCase()} ${d.route.path.replace(/\{(\w+)\}/g, ":$1")}`, schema);
  }
  return answers;
}

function routeKeys(): string[] {
  const keys = new Set<string>();
  for (const r of app.routes) if (r.method !== "ALL") keys.add(`${r.method} ${r.path}`);
  return [...keys].sort();
}

describe("authorization matrix", () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
  }, 30_000);

  it("has exactly one entry per route the router serves", () => {
    expect(routeKeys()).toEqual(Object.keys(MATRIX).sort());
  });

  it("lets exactly the right personas through every route", async () => {
    const failures: string[] = [];
    const bodies: string[] = [];
    const answers = declaredAnswers();
    const checked = new Set<string>();
    let tried = 0;
    for (const key of routeKeys()) {
      const entry = MATRIX[key]!;
      const [method, pattern] = key.split(" ") as [string, string];
      for (const persona of PERSONAS) {
        const path = pattern
          .replace(":id", entry.id ? entry.id(f) : "x")
          .replace(":connectorId", entry.connectorId ? entry.connectorId(f) : "x")
          .replace(":sessionId", "x")
          .replace(":invitationId", "x")
          .replace(":seq", "0");
        const headers: Record<string, string> = { "content-type": "application/json", origin: ORIGIN };
        if (f.cookies[persona]) headers.cookie = f.cookies[persona];
        if (["socket", "watchSocket", "moderatorSocket", "connector"].includes(entry.access))
          headers.Upgrade = "websocket";
        const res = await SELF.fetch(`${ORIGIN}${path}`, {
          method,
          headers,
          body: entry.body ? JSON.stringify(entry.body(f)) : method === "GET" ? undefined : "{}",
        });
        // Factor changes rotate the sign-in: follow the new cookie, as a browser would.
        // Logout revokes the sign-in: sign the persona in again for the routes after it.
        const rotated = sessionCookieOf(res);
        if (persona !== "anonymous") {
          if (rotated) f.cookies[persona] = rotated;
          else if (res.headers.getSetCookie().some((l) => l.startsWith("__Host-psm_session=;")))
            f.cookies[persona] = await login(USERNAMES[persona], "matrix-password-1");
        }
        if (res.webSocket) {
          res.webSocket.accept();
          res.webSocket.close(1000);
        } else {
          const text = await res.text();
          bodies.push(text);
          // A success answers exactly what its route declares (the browser checks it against the same schema).
          const schema = answers.get(key);
          if (res.ok && schema) {
            checked.add(key);
            if (!schema.safeParse(JSON.parse(text)).success)
              failures.push(
                `${key} as ${persona}: HTTP ${res.status} answer is not its declared schema: ${text.slice(0, 200)}`,
              );
          }
        }
        tried++;
        if (res.status >= 500 && res.status !== 503) failures.push(`${key} as ${persona}: HTTP ${res.status}`);
        // Public routes authenticate by what they are sent (a password, a token): any 4xx is theirs to give.
        if (entry.access === "public") continue;
        const allowed = ALLOWED[entry.access].includes(persona);
        const denied = res.status === 401 || res.status === 403 || (res.status === 404 && entry.access !== "selfOnly");
        const anonymousOk = persona !== "anonymous" || res.status === 401;
        if (allowed === denied || !anonymousOk)
          failures.push(`${key} as ${persona}: HTTP ${res.status} (expected ${allowed ? "allowed" : "denied"})`);
      }
    }
    expect(failures).toEqual([]);
    // No route, for any persona, ever returns a credential's sealed blob.
    expect(bodies.join("\n")).not.toContain("SEALED.BLOB");
    expect(bodies.some((b) => b.includes('"openapi":"3.1.0"') && b.includes("/api/checkouts/{id}/approve"))).toBe(true);
    expect(tried).toBe(routeKeys().length * PERSONAS.length);
    console.log(`authorization matrix: ${routeKeys().length} routes x ${PERSONAS.length} personas = ${tried} requests`);
    console.log(`authorization matrix: ${checked.size} routes' successes checked against their declared answers`);
  }, 240_000);
});
