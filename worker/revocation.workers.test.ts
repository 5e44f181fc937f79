// Access ends when authority ends (worker/access/revocation.ts), attacked as a user who keeps what
// they were given: each change that removes a person's right ends their live session with
// `access_revoked`, cancels their open checkouts, and leaves no way back in: a reconnect or a new
// session on the checkout they hold is refused, even when the right was removed past the API.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CloseCode, encodeMessage, PROTOCOL_VERSION } from "../protocol/index.ts";
import { sweep } from "./scheduler.ts";
import {
  api,
  auditLog,
  checkout,
  hasText,
  liveSession,
  login,
  ORIGIN,
  openSocket,
  openViewer,
  seedUser,
} from "./test/harness.ts";

type Live = Awaited<ReturnType<typeof liveSession>>;

async function adminCookie(): Promise<string> {
  const name = `adm${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(name, "admin-password-1", ["admin"]);
  return login(name, "admin-password-1");
}

async function userIdOf(s: Live): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(s.username).first<{ id: string }>();
  return row!.id;
}

async function checkoutStatus(s: Live): Promise<{ status: string; revoke_reason: string | null }> {
  return (await env.DB.prepare(
    "SELECT ch.status, ch.revoke_reason FROM checkouts ch JOIN sessions se ON se.checkout_id = ch.id WHERE se.id = ?",
  )
    .bind(s.id)
    .first())!;
}

/** The session ended for the right reason, on every side: the browser, the connector, D1. */
async function endedForAccess(s: Live): Promise<void> {
  await s.user.next(hasText("ended", { reason: "access_revoked" }), "ended: access_revoked");
  await s.connector.next(hasText("end", { reason: "access_revoked" }), "connector told to end");
  const row = await env.DB.prepare("SELECT status, end_reason FROM sessions WHERE id = ?").bind(s.id).first();
  expect(row).toEqual({ status: "ended", end_reason: "access_revoked" });
}

async function auditedRevocations(userId: string) {
  return (await auditLog()).filter(
    (e) => (e.action === "access.revoked" || e.action === "checkout.revoked") && e.refs.userId === userId,
  );
}

/**
 * The user's way back in: a new socket on the session (refused at the upgrade, or let in only to hear
 * that the session ended), and a new session on the checkout (its status).
 */
async function wayBackIn(s: Live): Promise<{ socket: number | "ended"; session: number }> {
  let socket: number | "ended";
  try {
    const again = await openSocket(`/api/sessions/${s.id}/ws`, { Origin: ORIGIN, cookie: s.cookie });
    again.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    await again.next(hasText("ended", { reason: "access_revoked" }), "told it ended");
    socket = "ended";
  } catch (err) {
    socket = Number(/upgrade refused: (\d+)/.exec(String(err))?.[1] ?? 0);
  }
  const { checkout_id: checkoutId } = (await env.DB.prepare("SELECT checkout_id FROM sessions WHERE id = ?")
    .bind(s.id)
    .first<{ checkout_id: string }>())!;
  const session = await api("/api/sessions", { method: "POST", cookie: s.cookie, body: { checkoutId } });
  return { socket, session: session.status };
}

describe("revocation: a removed right ends what depended on it", () => {
  it("removal from the granting group ends the live session and the checkout, audited", async () => {
    const s = await liveSession();
    const admin = await adminCookie();
    const userId = await userIdOf(s);
    const group = (await env.DB.prepare("SELECT group_id FROM group_members WHERE user_id = ?")
      .bind(userId)
      .first<{ group_id: string }>())!;
    const res = await api(`/api/groups/${group.group_id}/members`, {
      method: "PUT",
      cookie: admin,
      body: { userIds: [] },
    });
    expect(res.status).toBe(200);
    await endedForAccess(s);
    expect(await checkoutStatus(s)).toMatchObject({ status: "revoked" });
    expect((await checkoutStatus(s)).revoke_reason).toContain("entitlement removed");
    const entries = await auditedRevocations(userId);
    expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(["access.revoked", "checkout.revoked"]));
    expect(await wayBackIn(s)).toEqual({ socket: "ended", session: 409 });
  });

  it("a disabled account's session ends", async () => {
    const s = await liveSession();
    const admin = await adminCookie();
    const res = await api(`/api/users/${await userIdOf(s)}`, {
      method: "PATCH",
      cookie: admin,
      body: { disabled: true },
    });
    expect(res.status).toBe(200);
    await endedForAccess(s);
    expect((await checkoutStatus(s)).status).toBe("revoked");
  });

  it("revoking the person's sign-ins ends the sessions they opened and spends their socket tickets", async () => {
    const s = await liveSession();
    const admin = await adminCookie();
    const ticket = await api(`/api/sessions/${s.id}/ticket`, {
      method: "POST",
      cookie: s.cookie,
      body: { socket: "ws" },
    });
    const { ticket: t } = (await ticket.json()) as { ticket: string };
    const res = await api(`/api/users/${await userIdOf(s)}/reset-mfa`, { method: "POST", cookie: admin, body: {} });
    expect(res.status).toBe(200);
    await endedForAccess(s);
    const used = await env.DB.prepare("SELECT count(*) AS n FROM socket_tickets WHERE user_id = ?")
      .bind(await userIdOf(s))
      .first<{ n: number }>();
    expect(used!.n).toBe(0);
    const upgrade = await SELF.fetch(`${ORIGIN}/api/sessions/${s.id}/ws?ticket=${t}`, {
      headers: { Upgrade: "websocket", Origin: ORIGIN },
    });
    expect(upgrade.status).toBe(401);
    // The checkout itself stands: the person may sign in again and open a new session on it.
    expect((await checkoutStatus(s)).status).toBe("active");
  });

  it("a removed zone grant, a disabled server and a disabled credential each end the session", async () => {
    const admin = await adminCookie();
    const grant = await liveSession();
    const grantId = (await env.DB.prepare(
      "SELECT g.id FROM access_grants g JOIN servers s ON s.zone_id = g.zone_id JOIN sessions se ON se.server_id = s.id WHERE se.id = ?",
    )
      .bind(grant.id)
      .first<{ id: string }>())!.id;
    expect((await api(`/api/grants/${grantId}`, { method: "DELETE", cookie: admin })).status).toBe(200);
    await endedForAccess(grant);

    const server = await liveSession();
    const serverId = (await env.DB.prepare("SELECT server_id FROM sessions WHERE id = ?").bind(server.id).first<{
      server_id: string;
    }>())!.server_id;
    expect(
      (await api(`/api/servers/${serverId}`, { method: "PATCH", cookie: admin, body: { enabled: false } })).status,
    ).toBe(200);
    await endedForAccess(server);

    const credential = await liveSession();
    const credentialId = (await env.DB.prepare("SELECT credential_id FROM sessions WHERE id = ?")
      .bind(credential.id)
      .first<{ credential_id: string }>())!.credential_id;
    expect(
      (await api(`/api/credentials/${credentialId}`, { method: "PATCH", cookie: admin, body: { enabled: false } }))
        .status,
    ).toBe(200);
    await endedForAccess(credential);
  });

  it("a policy tightened past an open checkout ends it; one loosened ends nothing", async () => {
    const admin = await adminCookie();
    const s = await liveSession();
    const policyId = (await env.DB.prepare(
      "SELECT z.policy_id FROM sessions se JOIN servers sv ON sv.id = se.server_id JOIN zones z ON z.id = sv.zone_id WHERE se.id = ?",
    )
      .bind(s.id)
      .first<{ policy_id: string }>())!.policy_id;
    const loosen = await api(`/api/policies/${policyId}`, {
      method: "PATCH",
      cookie: admin,
      body: { maxSessionMinutes: 400 },
    });
    expect(loosen.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(s.user.texts).not.toContainEqual(expect.objectContaining({ type: "ended" }));
    const tighten = await api(`/api/policies/${policyId}`, {
      method: "PATCH",
      cookie: admin,
      body: { recordingRequired: true },
    });
    expect(tighten.status).toBe(200);
    await endedForAccess(s);
    expect((await checkoutStatus(s)).revoke_reason).toContain("recording");
  });

  it("a right removed past the API: the next reconnect is refused and ends the session; so is a new session", async () => {
    const s = await liveSession();
    await env.DB.prepare("DELETE FROM group_members WHERE user_id = ?")
      .bind(await userIdOf(s))
      .run();
    // Nothing has noticed yet; the upgrade asks again.
    expect(await wayBackIn(s)).toEqual({ socket: 403, session: 409 });
    await endedForAccess(s);
  });

  it("a session left running on a closed checkout (its start raced the revocation) ends at the next upgrade or sweep", async () => {
    // The race's outcome: the checkout closed while the session was being created, so the ending found no session.
    const closeCheckout = (s: Live, status: string) =>
      env.DB.prepare("UPDATE checkouts SET status = ? WHERE id = (SELECT checkout_id FROM sessions WHERE id = ?)")
        .bind(status, s.id)
        .run();
    const a = await liveSession();
    await closeCheckout(a, "revoked");
    expect((await wayBackIn(a)).socket).toBe(403);
    await a.user.next(hasText("ended", { reason: "checkout_revoked" }), "ended at the upgrade");
    const b = await liveSession();
    await closeCheckout(b, "expired");
    await sweep(env, Date.now());
    await b.user.next(hasText("ended", { reason: "checkout_ended" }), "ended by the sweep");
  });

  it("the minute sweep catches a right removed past the API", async () => {
    const s = await liveSession();
    await env.DB.prepare("UPDATE users SET disabled = 1 WHERE username = ?").bind(s.username).run();
    await sweep(env, Date.now());
    await endedForAccess(s);
  });

  it("a pending request is cancelled when its right goes", async () => {
    const s = await liveSession({ approval_required: 0 });
    const userId = await userIdOf(s);
    // A second request, pending approval under a policy that now wants it (from someone else's group).
    const approvers = crypto.randomUUID();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)").bind(
        approvers,
        approvers,
        Date.now(),
      ),
      env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(
        approvers,
        await seedUser(`ap${approvers.slice(0, 6)}`, "approver-password-1", ["requester"]),
      ),
    ]);
    await env.DB.prepare(
      "UPDATE policies SET approver_group_id = ? WHERE id = (SELECT policy_id FROM zones WHERE id = (SELECT zone_id FROM checkouts WHERE user_id = ? LIMIT 1))",
    )
      .bind(approvers, userId)
      .run();
    await env.DB.prepare(
      "UPDATE policies SET approval_required = 1 WHERE id = (SELECT policy_id FROM zones WHERE id = (SELECT zone_id FROM checkouts WHERE user_id = ? LIMIT 1))",
    )
      .bind(userId)
      .run();
    const site = (await env.DB.prepare(
      "SELECT server_id AS serverId, credential_id AS credentialId FROM checkouts WHERE user_id = ?",
    )
      .bind(userId)
      .first<{ serverId: string; credentialId: string }>())!;
    const pending = await checkout(s.cookie, site);
    expect(pending.status).toBe("pending_approval");
    const admin = await adminCookie();
    const res = await api(`/api/users/${userId}`, { method: "PATCH", cookie: admin, body: { disabled: true } });
    expect(res.status).toBe(200);
    const row = await env.DB.prepare("SELECT status FROM checkouts WHERE id = ?").bind(pending.id).first();
    expect(row).toEqual({ status: "revoked" });
  });

  it("a revoked connector's control socket closes at once, its session ends, and its tokens open nothing", async () => {
    const s = await liveSession();
    const admin = await adminCookie();
    const res = await api(`/api/sites/${s.site.siteId}/connectors/${s.site.connectorId}/revoke`, {
      method: "POST",
      cookie: admin,
    });
    expect(res.status).toBe(200);
    await s.user.next(hasText("ended", { reason: "connector_revoked" }), "ended: connector_revoked");
    await s.control.next((c) => c.closed !== undefined, "control socket closed");
    expect(s.control.closed!.code).toBe(CloseCode.Forbidden);
    const again = await SELF.fetch(`${ORIGIN}/connector/control`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${await s.site.token()}` },
    });
    expect(again.status).toBe(401);
    const listed = (await (await api(`/api/sites/${s.site.siteId}/connectors`, { cookie: admin })).json()) as Array<{
      id: string;
      revoked: boolean;
    }>;
    expect(listed.find((c) => c.id === s.site.connectorId)?.revoked).toBe(true);
  });

  it("a zone admin who loses the zone stops watching its sessions at once", async () => {
    const s = await liveSession();
    const admin = await adminCookie();
    const zoneId = (await env.DB.prepare(
      "SELECT sv.zone_id FROM sessions se JOIN servers sv ON sv.id = se.server_id WHERE se.id = ?",
    )
      .bind(s.id)
      .first<{ zone_id: string }>())!.zone_id;
    const name = `za${crypto.randomUUID().slice(0, 6)}`;
    const watcherId = await seedUser(name, "zone-password-1", ["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(zoneId, watcherId).run();
    const cookie = await login(name, "zone-password-1");
    const viewer = await openSocket(`/api/sessions/${s.id}/watch`, { Origin: ORIGIN, cookie });
    viewer.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    await viewer.next(hasText("status"), "watching");
    // Another admin watching is untouched.
    const other = await openViewer(s.id);
    await other.next(hasText("status"), "other watching");
    const res = await api(`/api/users/${watcherId}`, { method: "PATCH", cookie: admin, body: { zoneAdminOf: [] } });
    expect(res.status).toBe(200);
    await viewer.next((c) => c.closed !== undefined, "view closed");
    expect(viewer.closed!.code).toBe(CloseCode.Forbidden);
    expect(other.closed).toBeUndefined();
    // The session itself goes on.
    expect(s.user.texts).not.toContainEqual(expect.objectContaining({ type: "ended" }));
  });
});
