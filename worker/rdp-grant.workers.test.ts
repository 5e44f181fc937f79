// RDP at the edge: a session on an "rdp" server gets a grant for the desktop channel carrying the
// certificate pin, the credential's domain and the RDP policy; its summary says rdp; an admin re-pins.
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
  expect(claims.rdp).toEqual({ nla: true, clip: { copy: true, paste: false, max: 1000 } });
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
