// File transfer policy at the edge (issue 19): a policy's SFTP rules are stored (off by default), changed by PATCH
// only when named, refused when a root is not absolute, snapshotted into the checkout and carried to the connector in
// the SSH session grant (`ft`), absent from the grant when both directions are off.
import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FILE_TRANSFER_POLICY, type GrantClaims, type Policy } from "../protocol/index.ts";
import { grantForSession } from "./grants.ts";
import { api, checkout, login, seedSite, seedUser } from "./test/harness.ts";

const ON = {
  upload: true,
  download: true,
  maxBytes: 8 * 1024 * 1024,
  allowPaths: ["/srv/data"],
  denyPaths: ["/srv/data/keys"],
};

let admin: string;
beforeAll(async () => {
  await seedUser("ft-admin", "ft-admin-password-1", ["admin"]);
  admin = await login("ft-admin", "ft-admin-password-1");
});

const create = (fields: Record<string, unknown>) =>
  api("/api/policies", { method: "POST", cookie: admin, body: { name: `ft-${crypto.randomUUID()}`, ...fields } });

async function grantOf(cookie: string, site: Awaited<ReturnType<typeof seedSite>>): Promise<GrantClaims> {
  const co = await checkout(cookie, site);
  await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co.id } });
  const session = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
    .bind(co.id)
    .first<{ id: string; deadline: number }>();
  return decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
}

describe("file transfer in policies", () => {
  it("is off by default, stored as given, and changed by a PATCH only when named", async () => {
    const plain = (await (await create({})).json()) as Policy;
    expect(plain.fileTransfer).toEqual(DEFAULT_FILE_TRANSFER_POLICY);
    const res = await create({ fileTransfer: ON });
    expect(res.status).toBe(201);
    const policy = (await res.json()) as Policy;
    expect(policy.fileTransfer).toEqual(ON);
    await api(`/api/policies/${policy.id}`, { method: "PATCH", cookie: admin, body: { maxSessionMinutes: 60 } });
    const listed = (await (await api("/api/policies", { cookie: admin })).json()) as Policy[];
    expect(listed.find((p) => p.id === policy.id)?.fileTransfer).toEqual(ON);
    const patched = await api(`/api/policies/${policy.id}`, {
      method: "PATCH",
      cookie: admin,
      body: { fileTransfer: { ...ON, download: false } },
    });
    expect(((await patched.json()) as Policy).fileTransfer.download).toBe(false);
  });

  it("refuses a relative root, a .. segment and an unknown field (400), storing nothing", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM policies").first<{ n: number }>();
    for (const fileTransfer of [
      { ...ON, allowPaths: ["srv/data"] },
      { ...ON, denyPaths: ["/srv/../etc"] },
      { ...ON, maxBytes: -1 },
      { ...ON, everything: true },
    ]) {
      const res = await create({ fileTransfer });
      expect(res.status, JSON.stringify(fileTransfer)).toBe(400);
    }
    const after = await env.DB.prepare("SELECT count(*) AS n FROM policies").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("carries the checkout's snapshot to the connector in the SSH grant; none when both directions are off", async () => {
    const site = await seedSite({ file_transfer: JSON.stringify(ON) });
    const name = `ft-${crypto.randomUUID().slice(0, 6)}`;
    const userId = await seedUser(name, "user-password-1", ["requester"]);
    await site.entitle(userId);
    const cookie = await login(name, "user-password-1");
    const co = await checkout(cookie, site);
    // Changed after the checkout was taken: the grant still carries the snapshot.
    await api(`/api/policies/${site.policyId}`, {
      method: "PATCH",
      cookie: admin,
      body: { fileTransfer: DEFAULT_FILE_TRANSFER_POLICY },
    });
    await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co.id } });
    const session = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
      .bind(co.id)
      .first<{ id: string; deadline: number }>();
    const claims = decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
    expect(claims.ft).toEqual(ON);
    // A checkout under the changed policy: both directions off, so the grant names no file transfer.
    expect((await grantOf(cookie, site)).ft).toBeUndefined();
  });
});
