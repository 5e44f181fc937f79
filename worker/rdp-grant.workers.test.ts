// RDP at the edge: a session on an "rdp" server gets a grant for the desktop channel carrying the
// certificate pin, the credential's domain, the RDP policy and the user's keyboard layout; its summary says rdp; an
// admin re-pins; a user chooses their layout, which only ever is a known one.
import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { expect, it } from "vitest";
import type { GrantClaims } from "../protocol/index.ts";
import { grantForSession } from "./grants.ts";
import { api, checkout, login, seedSite, seedUser } from "./test/harness.ts";

it("grants an RDP session the desktop channel, its pin, domain and clipboard policy", async () => {
  const site = await seedSite({
    rdp_require_nla: 1,
    rdp_clipboard_copy: 1,
    rdp_clipboard_paste: 0,
    rdp_clipboard_max_bytes: 1000,
  });
  const pin = `SHA256:${"R".repeat(43)}`;
  await env.DB.batch([
    env.DB.prepare("UPDATE servers SET protocol = 'rdp', port = 3389, host_key = ? WHERE id = ?").bind(
      pin,
      site.serverId,
    ),
    env.DB.prepare("UPDATE credentials SET domain = 'CORP' WHERE id = ?").bind(site.credentialId),
  ]);
  const name = `rdp-${crypto.randomUUID().slice(0, 6)}`;
  const userId = await seedUser(name, "user-password-1", ["requester"]);
  await site.entitle(userId);
  const cookie = await login(name, "user-password-1");
  const co = await checkout(cookie, site);
  // No connector is online: the session row exists, dispatch fails; the grant is what would have gone.
  await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co.id } });
  const session = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
    .bind(co.id)
    .first<{ id: string; deadline: number }>();
  const claims = decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
  expect(claims.tgt).toEqual({ host: "10.1.2.3", port: 3389, protocol: "rdp", hostKey: pin });
  expect(claims.cred.domain).toBe("CORP");
  expect(claims.ch).toEqual(["desktop"]);
  expect(claims.rdp).toEqual({ nla: true, clip: { copy: true, paste: false, max: 1000 }, kbd: "en-us" });
  const summary = (await (await api(`/api/sessions/${session!.id}`, { cookie })).json()) as { protocol: string };
  expect(summary.protocol).toBe("rdp");

  // An admin re-pins the certificate after a legitimate change; the next grant carries the new pin.
  const adminName = `adm-${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(adminName, "admin-password-1", ["admin"]);
  const admin = await login(adminName, "admin-password-1");
  const repin = `SHA256:${"S".repeat(43)}`;
  const res = await api(`/api/servers/${site.serverId}/host-key`, {
    method: "PUT",
    cookie: admin,
    body: { hostKey: repin },
  });
  expect(res.status).toBe(200);
  const again = decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
  expect(again.tgt.hostKey).toBe(repin);
  // A requester may not re-pin.
  const refused = await api(`/api/servers/${site.serverId}/host-key`, {
    method: "PUT",
    cookie,
    body: { hostKey: pin },
  });
  expect(refused.status).toBe(403);
});

it("carries the user's keyboard layout, and only a known one, into an RDP grant", async () => {
  const site = await seedSite();
  await env.DB.prepare("UPDATE servers SET protocol = 'rdp', port = 3389, host_key = ? WHERE id = ?")
    .bind(`SHA256:${"K".repeat(43)}`, site.serverId)
    .run();
  const name = `kbd-${crypto.randomUUID().slice(0, 6)}`;
  const userId = await seedUser(name, "user-password-1", ["requester"]);
  await site.entitle(userId);
  const cookie = await login(name, "user-password-1");
  const layout = async (who = cookie) =>
    ((await (await api("/api/me/keyboard-layout", { cookie: who })).json()) as { keyboardLayout: string })
      .keyboardLayout;
  const grantOf = async () => {
    const co = await checkout(cookie, site);
    await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co.id } });
    const session = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
      .bind(co.id)
      .first<{ id: string; deadline: number }>();
    await env.DB.prepare("UPDATE checkouts SET status = 'checked_in' WHERE id = ?").bind(co.id).run();
    return decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
  };

  // Nobody chose: US English.
  expect(await layout()).toBe("en-us");
  expect((await grantOf()).rdp?.kbd).toBe("en-us");

  const put = (body: unknown, who = cookie) => api("/api/me/keyboard-layout", { method: "PUT", cookie: who, body });
  const saved = await put({ keyboardLayout: "de-de" });
  expect(saved.status).toBe(200);
  expect(await saved.json()).toEqual({ keyboardLayout: "de-de" });
  expect(await layout()).toBe("de-de");
  expect((await grantOf()).rdp?.kbd).toBe("de-de");

  // Nothing but a known layout is stored: each of these is a 400 and the choice stays.
  for (const body of [
    { keyboardLayout: "de" },
    { keyboardLayout: "DE-DE" },
    { keyboardLayout: "fr-fr\n" },
    { keyboardLayout: "en-us,1.x" },
    { keyboardLayout: 0x407 },
    { keyboardLayout: "fr-fr", extra: 1 },
    {},
  ]) {
    const res = await put(body);
    expect(res.status, JSON.stringify(body)).toBe(400);
  }
  expect(await layout()).toBe("de-de");

  // The choice is the user's own: another user's stays the default.
  const other = `kbd-${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(other, "user-password-2", ["requester"]);
  const otherCookie = await login(other, "user-password-2");
  expect(await layout(otherCookie)).toBe("en-us");
  expect((await put({ keyboardLayout: "fr-fr" }, otherCookie)).status).toBe(200);
  expect(await layout()).toBe("de-de");

  // A value put into D1 by hand never reaches a grant: the default goes instead.
  await env.DB.prepare("UPDATE users SET keyboard_layout = 'xx-yy' WHERE id = ?").bind(userId).run();
  expect(await layout()).toBe("en-us");
  expect((await grantOf()).rdp?.kbd).toBe("en-us");
});
