// Killing a live session (POST /api/sessions/:id/kill): ending it alone would let the user reconnect at once,
// so the checkout is revoked by default; an admin may also lock the account; a zone admin may not.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, hasText, liveSession, login, seedUser } from "./test/harness.ts";

async function admin(roles: string[] = ["admin"]) {
  const name = `kill-${crypto.randomUUID().slice(0, 6)}`;
  const id = await seedUser(name, "kill-password-12", roles);
  return { id, cookie: await login(name, "kill-password-12") };
}

const checkoutStatus = async (sessionId: string) =>
  env.DB.prepare("SELECT ch.status FROM checkouts ch JOIN sessions se ON se.checkout_id = ch.id WHERE se.id = ?")
    .bind(sessionId)
    .first<string>("status");

describe("kill", () => {
  it("revokes the checkout by default: the user cannot start again on it", async () => {
    const live = await liveSession();
    const { cookie } = await admin();
    const res = await api(`/api/sessions/${live.id}/kill`, { method: "POST", cookie, body: { reason: "policy" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ checkoutRevoked: true, userLocked: false });
    await live.user.next(hasText("ended", { reason: "killed" }), "ended");
    expect(await checkoutStatus(live.id)).toBe("revoked");
    const checkoutId = await env.DB.prepare("SELECT checkout_id FROM sessions WHERE id = ?")
      .bind(live.id)
      .first<string>("checkout_id");
    const again = await api("/api/sessions", { method: "POST", cookie: live.cookie, body: { checkoutId } });
    expect(again.status).toBe(409);
  });

  it("can leave the checkout open when asked", async () => {
    const live = await liveSession();
    const { cookie } = await admin();
    const res = await api(`/api/sessions/${live.id}/kill`, {
      method: "POST",
      cookie,
      body: { reason: "restart it", revokeCheckout: false },
    });
    expect(await res.json()).toEqual({ checkoutRevoked: false, userLocked: false });
    expect(await checkoutStatus(live.id)).toBe("active");
  });

  it("an admin can lock the account: it is disabled, audited, and its sign-in stops working", async () => {
    const live = await liveSession();
    const { cookie } = await admin();
    const res = await api(`/api/sessions/${live.id}/kill`, {
      method: "POST",
      cookie,
      body: { reason: "compromised account", lockUser: true },
    });
    expect(await res.json()).toEqual({ checkoutRevoked: true, userLocked: true });
    expect(
      await env.DB.prepare("SELECT disabled FROM users WHERE username = ?").bind(live.username).first("disabled"),
    ).toBe(1);
    expect((await api("/api/me", { cookie: live.cookie })).status).toBe(401);
  });

  it("a zone admin may kill but not lock; nothing happens when they ask to", async () => {
    const live = await liveSession();
    const zoneAdmin = await admin(["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)")
      .bind(live.site.zoneId, zoneAdmin.id)
      .run();
    const locked = await api(`/api/sessions/${live.id}/kill`, {
      method: "POST",
      cookie: zoneAdmin.cookie,
      body: { reason: "lock them", lockUser: true },
    });
    expect(locked.status).toBe(403);
    expect(await checkoutStatus(live.id)).toBe("active");
    const killed = await api(`/api/sessions/${live.id}/kill`, {
      method: "POST",
      cookie: zoneAdmin.cookie,
      body: { reason: "end it" },
    });
    expect(await killed.json()).toEqual({ checkoutRevoked: true, userLocked: false });
  });
});
