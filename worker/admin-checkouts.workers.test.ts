// Admin › Checkouts (GET /api/admin/checkouts): everyone's checkouts, but only in the caller's zones, by state
// and by part of a name, with LIKE's wildcards taken literally.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { CheckoutSummary } from "../protocol/index.ts";
import { api, checkout, login, seedSite, seedUser } from "./test/harness.ts";

async function person(roles: string[], name = `ac-${crypto.randomUUID().slice(0, 6)}`) {
  const id = await seedUser(name, "checkouts-password-1", roles);
  return { id, name, cookie: await login(name, "checkouts-password-1") };
}

const list = async (cookie: string, query: string) => {
  const res = await api(`/api/admin/checkouts${query}`, { cookie });
  expect(res.status).toBe(200);
  return (await res.json()) as CheckoutSummary[];
};

describe("Admin › Checkouts", () => {
  it("lists open checkouts by partial name, only in the caller's zones, and ended ones apart", async () => {
    const [mine, theirs] = [await seedSite(), await seedSite()];
    const alice = await person(["requester"], `alice_${crypto.randomUUID().slice(0, 6)}`);
    await mine.entitle(alice.id);
    await theirs.entitle(alice.id);
    const [a, b] = [await checkout(alice.cookie, mine), await checkout(alice.cookie, theirs)];
    const admin = await person(["admin"]);
    const zoneAdmin = await person(["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)")
      .bind(mine.zoneId, zoneAdmin.id)
      .run();

    const byName = `?q=${encodeURIComponent(alice.name.slice(2, 9))}`;
    expect((await list(admin.cookie, byName)).map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
    expect((await list(zoneAdmin.cookie, byName)).map((c) => c.id)).toEqual([a.id]);
    // "_" and "%" are letters here, not wildcards: "alice_" matches, "alice%" and "alic_" do not.
    expect((await list(admin.cookie, `?q=${encodeURIComponent(alice.name.slice(0, 6))}`)).length).toBe(2);
    expect(await list(admin.cookie, "?q=alice%25")).toEqual([]);
    expect(await list(admin.cookie, "?q=alic_")).toEqual([]);

    const revoked = await api(`/api/checkouts/${a.id}/revoke`, {
      method: "POST",
      cookie: admin.cookie,
      body: { reason: "no longer needed" },
    });
    expect(revoked.status).toBe(200);
    expect((await list(admin.cookie, byName)).map((c) => c.id)).toEqual([b.id]);
    expect(await list(admin.cookie, `${byName}&state=ended`)).toMatchObject([{ id: a.id, status: "revoked" }]);
    expect((await list(admin.cookie, `?state=all&id=${a.id}`)).map((c) => c.id)).toEqual([a.id]);
    // A requester sees none of it.
    expect((await api("/api/admin/checkouts", { cookie: alice.cookie })).status).toBe(403);
  });
});
