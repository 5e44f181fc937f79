// The admin console's server side (issue 18): policies that contradict themselves are refused with a stable
// code, the user search behind the group picker, and the live sessions list's fields.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type AccessGrant, encodeData, type LiveSession, type Policy, type UserMatch } from "../protocol/index.ts";
import { api, liveSession, login, openViewer, seedSite, seedUser } from "./test/harness.ts";

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

let admin: string;
beforeAll(async () => {
  await seedUser("console-admin", "console-password-1", ["admin"]);
  admin = await login("console-admin", "console-password-1");
});

describe("policy rules at the API", () => {
  const create = (fields: Record<string, unknown>) =>
    api("/api/policies", { method: "POST", cookie: admin, body: { name: `p-${crypto.randomUUID()}`, ...fields } });

  it("refuses an extension, idle timeout or away limit longer than the session, or a checkout shorter than it (400 policy_inconsistent)", async () => {
    for (const fields of [
      { maxSessionMinutes: 60, extensionMinutes: 120 },
      { maxSessionMinutes: 240, maxCheckoutMinutes: 60 },
      { maxSessionMinutes: 60, idleTimeoutMinutes: 90 },
      { maxSessionMinutes: 60, extensionMinutes: 30, disconnectGraceMinutes: 61 },
    ]) {
      const res = await create(fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(await errorCode(res)).toBe("policy_inconsistent");
    }
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM policies WHERE name LIKE 'p-%'").first<{
      n: number;
    }>())!;
    expect(n).toBe(0);
  });

  it("refuses zero or negative durations and zero approvals with approval on (400)", async () => {
    for (const fields of [
      { maxSessionMinutes: 0 },
      { extensionMinutes: -5 },
      { idleTimeoutMinutes: 0 },
      { approvalRequired: true, quorum: 0 },
    ]) {
      const res = await create(fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(await errorCode(res)).toBe("policy_inconsistent");
    }
  });

  it("takes a policy whose limits agree, and refuses a change that makes them contradict", async () => {
    const res = await create({ maxSessionMinutes: 120, maxCheckoutMinutes: 120, extensionMinutes: 120 });
    expect(res.status).toBe(201);
    const policy = (await res.json()) as Policy;
    // Only the session is sent: the route checks it against the stored extension and checkout.
    const shorter = await api(`/api/policies/${policy.id}`, {
      method: "PATCH",
      cookie: admin,
      body: { maxSessionMinutes: 60 },
    });
    expect(shorter.status).toBe(400);
    expect(await errorCode(shorter)).toBe("policy_inconsistent");
    const longer = await api(`/api/policies/${policy.id}`, {
      method: "PATCH",
      cookie: admin,
      body: { maxSessionMinutes: 240 },
    });
    expect(longer.status).toBe(400);
    const stored = await env.DB.prepare("SELECT max_session_minutes FROM policies WHERE id = ?")
      .bind(policy.id)
      .first<{ max_session_minutes: number }>();
    expect(stored!.max_session_minutes).toBe(120);
    const both = await api(`/api/policies/${policy.id}`, {
      method: "PATCH",
      cookie: admin,
      body: { maxSessionMinutes: 60, extensionMinutes: 30 },
    });
    expect(both.status).toBe(200);
    // A PATCH changes what it names and nothing else (no field falls back to its default).
    expect(await both.json()).toMatchObject({ maxSessionMinutes: 60, extensionMinutes: 30, maxCheckoutMinutes: 120 });
  });

  it("lets a policy stored with a contradiction be tightened without fixing it first", async () => {
    const site = await seedSite({ max_checkout_minutes: 30, max_session_minutes: 240 });
    const res = await api(`/api/policies/${site.policyId}`, {
      method: "PATCH",
      cookie: admin,
      body: { recordingRequired: true },
    });
    expect(res.status).toBe(200);
  });
});

describe("user search", () => {
  beforeAll(async () => {
    for (const name of ["carol-ops", "Caroline", "mcarolson", "dave_x", "davex"])
      await seedUser(name, "search-password-1", ["requester"]);
  });
  const search = async (query: string, cookie = admin) => api(`/api/users/search?${query}`, { cookie });
  const names = async (query: string) => ((await (await search(query)).json()) as UserMatch[]).map((u) => u.username);

  it("matches part of a name in any case, names that start with it first", async () => {
    expect(await names("q=carol")).toEqual(["carol-ops", "Caroline", "mcarolson"]);
    expect(await names("q=ROL")).toEqual(["carol-ops", "Caroline", "mcarolson"]);
    expect(await names("q=olson")).toEqual(["mcarolson"]);
  });

  it("takes the text literally (% and _ are not wildcards) and caps the answer at the limit", async () => {
    expect(await names("q=dave_")).toEqual(["dave_x"]);
    expect(await names("q=%25")).toEqual([]);
    expect(await names("q=carol&limit=1")).toEqual(["carol-ops"]);
    expect((await search("q=carol&limit=500")).status).toBe(400);
    expect((await search("q=")).status).toBe(400);
  });

  it("is for admins only", async () => {
    await seedUser("search-requester", "search-password-1", ["requester"]);
    await seedUser("search-zone-admin", "search-password-1", ["zone_admin"]);
    expect((await search("q=carol", await login("search-requester", "search-password-1"))).status).toBe(403);
    expect((await search("q=carol", await login("search-zone-admin", "search-password-1"))).status).toBe(403);
    expect((await search("q=carol", "")).status).toBe(401);
  });
});

describe("live sessions list", () => {
  it("shows the zone, justification, source IP, recording state, idle time and who is watching", async () => {
    const s = await liveSession({}, { sourceIp: "203.0.113.7" });
    const list = async () =>
      ((await (await api("/api/sessions/live", { cookie: admin })).json()) as LiveSession[]).find(
        (x) => x.id === s.id,
      )!;
    const first = await list();
    expect(first).toMatchObject({
      user: s.username,
      justification: "testing",
      sourceIp: "203.0.113.7",
      recording: "recorded",
      watchers: [],
      viewers: 0,
    });
    const zone = await env.DB.prepare("SELECT name FROM zones WHERE id = ?")
      .bind(s.site.zoneId)
      .first<{ name: string }>();
    expect(first.zone).toBe(zone!.name);
    // Connecting counts as input: idle is measured from there until the user types.
    expect(first.lastInputAt).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 20));
    const typedAt = Date.now();
    s.user.ws.send(encodeData(new TextEncoder().encode("id\r")));
    await expect.poll(async () => (await list()).lastInputAt!).toBeGreaterThanOrEqual(typedAt);

    const viewer = await openViewer(s.id);
    await expect.poll(async () => (await list()).watchers).toHaveLength(1);
    const [watcher] = (await list()).watchers;
    expect(watcher).toMatch(/^watch-/);
    expect((await list()).viewers).toBe(1);
    viewer.ws.close(1000);
    await expect.poll(async () => (await list()).watchers).toEqual([]);
  });

  it("says when a session is not recorded, has had no input yet, or came from an unknown address", async () => {
    const site = await seedSite();
    const userId = await seedUser(`u${crypto.randomUUID().slice(0, 8)}`, "user-password-1", ["requester"]);
    const id = crypto.randomUUID();
    const deadline = Date.now() + 600_000;
    await env.DB.prepare(
      `INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    )
      .bind(id, userId, site.serverId, site.credentialId, site.siteId, Date.now(), deadline)
      .run();
    // A room told nothing about recording records nothing.
    const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(id));
    await room.init({ sessionId: id, userId, username: "x", serverId: site.serverId, siteId: site.siteId, deadline });
    const row = ((await (await api("/api/sessions/live", { cookie: admin })).json()) as LiveSession[]).find(
      (x) => x.id === id,
    )!;
    expect(row).toMatchObject({
      recording: "not_recorded",
      lastInputAt: null,
      sourceIp: null,
      justification: null,
      watchers: [],
    });
    await room.end("killed");
  });
});

describe("access grants list", () => {
  it("shows a zone admin only the grants of the zones they administer, an admin all of them", async () => {
    const mine = await seedSite();
    const theirs = await seedSite();
    const zid = await seedUser("grants-zone-admin", "grants-password-1", ["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(mine.zoneId, zid).run();
    const zones = async (cookie: string) =>
      new Set(((await (await api("/api/grants", { cookie })).json()) as AccessGrant[]).map((g) => g.zoneId));
    const seen = await zones(await login("grants-zone-admin", "grants-password-1"));
    expect(seen).toEqual(new Set([mine.zoneId]));
    const all = await zones(admin);
    expect(all.has(mine.zoneId) && all.has(theirs.zoneId)).toBe(true);
  });
});
