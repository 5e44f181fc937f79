// Editing and deleting servers and credentials (Admin › Servers, Admin › Credentials): edits are audited with
// before and after and held to the caller's zones; only what is turned off can be deleted, and a deleted one
// leaves every list, gives its name back, refuses every change, and stays in the history that names it.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AdminServer, CheckoutSummary } from "../protocol/index.ts";
import { api, auditLog, checkout, login, seedSite, seedUser } from "./test/harness.ts";

async function person(roles: string[]) {
  const name = `ie-${crypto.randomUUID().slice(0, 6)}`;
  const id = await seedUser(name, "inventory-password-1", roles);
  return { id, name, cookie: await login(name, "inventory-password-1") };
}

const servers = async (cookie: string) => (await (await api("/api/servers", { cookie })).json()) as AdminServer[];

describe("editing servers and credentials", () => {
  it("changes a server's name, host, port and tags, audited; refuses a taken name, bad values and other zones", async () => {
    const [site, other] = [await seedSite(), await seedSite()];
    const admin = await person(["admin"]);
    const zoneAdmin = await person(["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)")
      .bind(other.zoneId, zoneAdmin.id)
      .run();
    const name = `web-${crypto.randomUUID().slice(0, 6)}`;
    const edit = (cookie: string, body: unknown, id = site.serverId) =>
      api(`/api/servers/${id}`, { method: "PATCH", cookie, body });

    expect((await edit(admin.cookie, { name, host: "10.9.9.9", port: 2222, tags: ["prod"] })).status).toBe(200);
    const row = (await servers(admin.cookie)).find((s) => s.id === site.serverId);
    expect(row).toMatchObject({ name, host: "10.9.9.9", port: 2222, tags: ["prod"], enabled: true });
    // The pinned key is untouched by an edit: a moved host must still present it.
    expect(row?.hostKey).toBe(`SHA256:${"B".repeat(43)}`);
    const entry = (await auditLog()).find((e) => e.target.id === site.serverId && e.data.after !== undefined);
    expect(entry?.data).toMatchObject({
      before: { host: "10.1.2.3", port: 22, tags: [] },
      after: { name, host: "10.9.9.9", port: 2222, tags: ["prod"] },
    });

    const taken = (await servers(admin.cookie)).find((s) => s.id === other.serverId)!.name;
    expect((await edit(admin.cookie, { name: taken })).status).toBe(409);
    expect((await edit(admin.cookie, { port: 70000 })).status).toBe(400);
    expect((await edit(admin.cookie, { name: "has space" })).status).toBe(400);
    expect((await edit(admin.cookie, { hostKey: `SHA256:${"C".repeat(43)}` })).status).toBe(400);
    expect((await edit(admin.cookie, {})).status).toBe(400);
    expect((await edit(zoneAdmin.cookie, { host: "evil.example" })).status).toBe(403);
    expect((await edit(zoneAdmin.cookie, { host: "10.0.0.7" }, other.serverId)).status).toBe(200);
  });

  it("deletes only a server that is off; it leaves the lists, frees its name, refuses changes, and history keeps it", async () => {
    const site = await seedSite();
    const admin = await person(["admin"]);
    const requester = await person(["requester"]);
    await site.entitle(requester.id);
    const held = await checkout(requester.cookie, site);
    const name = (await servers(admin.cookie)).find((s) => s.id === site.serverId)!.name;
    const remove = () => api(`/api/servers/${site.serverId}`, { method: "DELETE", cookie: admin.cookie });

    const on = await remove();
    expect(on.status).toBe(409);
    expect(((await on.json()) as { error: { code: string } }).error.code).toBe("still_enabled");
    expect(
      (await api(`/api/servers/${site.serverId}`, { method: "PATCH", cookie: admin.cookie, body: { enabled: false } }))
        .status,
    ).toBe(200);
    expect((await remove()).status).toBe(200);

    expect((await servers(admin.cookie)).map((s) => s.id)).not.toContain(site.serverId);
    expect((await remove()).status).toBe(404);
    for (const body of [{ enabled: true }, { name: "back" }])
      expect((await api(`/api/servers/${site.serverId}`, { method: "PATCH", cookie: admin.cookie, body })).status).toBe(
        404,
      );
    expect(
      (
        await api(`/api/servers/${site.serverId}/host-key`, {
          method: "PUT",
          cookie: admin.cookie,
          body: { hostKey: `SHA256:${"E".repeat(43)}` },
        })
      ).status,
    ).toBe(404);
    // The name is free for a new server.
    const again = await api("/api/servers", {
      method: "POST",
      cookie: admin.cookie,
      body: { name, host: "10.1.2.4", zoneId: site.zoneId, hostKey: `SHA256:${"F".repeat(43)}` },
    });
    expect(again.status).toBe(201);
    // The requester's history still shows the checkout (ended when the server went off), under the retired name.
    const mine = (await (await api("/api/checkouts", { cookie: requester.cookie })).json()) as CheckoutSummary[];
    expect(mine.find((c) => c.id === held.id)).toMatchObject({
      status: "revoked",
      serverName: `${name}.deleted-${site.serverId.slice(0, 8)}`,
    });
    const deleted = (await auditLog()).find(
      (e) => e.target.id === site.serverId && (e.data.after as { deleted?: boolean } | undefined)?.deleted,
    );
    expect(deleted?.target.name).toBe(name);
  });

  it("renames a credential, and deletes it only once off; a deleted credential cannot be checked out", async () => {
    const site = await seedSite();
    const admin = await person(["admin"]);
    const requester = await person(["requester"]);
    await site.entitle(requester.id);
    const patch = (body: unknown) =>
      api(`/api/credentials/${site.credentialId}`, { method: "PATCH", cookie: admin.cookie, body });
    expect((await patch({ name: "root (break-glass)" })).status).toBe(200);
    expect((await patch({ username: "admin" })).status).toBe(400);
    const creds = (await servers(admin.cookie)).find((s) => s.id === site.serverId)!.credentials;
    expect(creds.map((c) => c.name)).toEqual(["root (break-glass)"]);

    const remove = () => api(`/api/credentials/${site.credentialId}`, { method: "DELETE", cookie: admin.cookie });
    expect((await remove()).status).toBe(409);
    expect((await patch({ enabled: false })).status).toBe(200);
    expect((await remove()).status).toBe(200);
    expect((await servers(admin.cookie)).find((s) => s.id === site.serverId)!.credentials).toEqual([]);
    expect((await patch({ enabled: true })).status).toBe(404);
    await expect(checkout(requester.cookie, site)).rejects.toThrow(/checkout refused/);
  });
});
