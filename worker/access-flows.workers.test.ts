// The access model end to end inside workerd: approvals with quorum, self-approval refused (also
// through a second account of the same person), exclusive checkouts under concurrency, expiry by
// the scheduler, revocation ending live sessions, zone-admin limits, and the audit trail.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeMessage, PROTOCOL_VERSION } from "../protocol/index.ts";
import {
  api,
  checkout,
  connectControl,
  hasText,
  login,
  ORIGIN,
  openSocket,
  seedSite,
  seedUser,
} from "./test/harness.ts";
import { sweep } from "./scheduler.ts";

const json = async <T>(res: Response) => (await res.json()) as T;
type Summary = { id: string; status: string; approvals: unknown[] };
type Cart = { results: { ok: boolean; error?: string; checkout?: Summary }[] };

async function gatedSite(quorum: number, approvers: { name: string; person?: string }[]) {
  const site = await seedSite({ approval_required: 1, quorum });
  const requesterId = await seedUser(`req-${crypto.randomUUID().slice(0, 6)}`, "flow-password-1", ["requester"]);
  await site.entitle(requesterId);
  await env.DB.prepare("UPDATE policies SET approver_group_id = ? WHERE id = ?")
    .bind(site.groupId, site.policyId)
    .run();
  const cookies: string[] = [];
  for (const a of approvers) {
    const name = `${a.name}-${crypto.randomUUID().slice(0, 6)}`;
    const id = await seedUser(name, "flow-password-1", ["approver"]);
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?")
      .bind(a.person === "requester" ? requesterId : (a.person ?? null), id)
      .run();
    await env.DB.prepare("INSERT OR IGNORE INTO group_members (group_id, user_id) VALUES (?, ?)")
      .bind(site.groupId, id)
      .run();
    cookies.push(await login(name, "flow-password-1"));
  }
  const requesterName = (await env.DB.prepare("SELECT username FROM users WHERE id = ?")
    .bind(requesterId)
    .first<{ username: string }>())!.username;
  return { site, requesterId, requester: await login(requesterName, "flow-password-1"), approvers: cookies };
}

const decide = (cookie: string, id: string, verdict: "approve" | "deny") =>
  api(`/api/checkouts/${id}/${verdict}`, { method: "POST", cookie, body: { comment: verdict } });

describe("approvals", () => {
  it("honours a 2-of-3 quorum of distinct people", async () => {
    const { site, requester, approvers } = await gatedSite(2, [{ name: "a1" }, { name: "a2" }, { name: "a3" }]);
    const pending = await checkout(requester, site);
    expect(pending.status).toBe("pending_approval");
    const inbox = await json<Summary[]>(await api("/api/approvals", { cookie: approvers[0]! }));
    expect(inbox.map((c) => c.id)).toContain(pending.id);
    expect((await json<Summary>(await decide(approvers[0]!, pending.id, "approve"))).status).toBe("pending_approval");
    expect((await decide(approvers[0]!, pending.id, "approve")).status).toBe(409);
    const done = await json<Summary>(await decide(approvers[1]!, pending.id, "approve"));
    expect(done.status).toBe("active");
    expect(done.approvals).toHaveLength(2);
    expect((await decide(approvers[2]!, pending.id, "deny")).status).toBe(409);
  });

  it("refuses self-approval, also through a second account of the same person", async () => {
    const { site, requester, approvers } = await gatedSite(1, [
      { name: "alt", person: "requester" },
      { name: "other" },
    ]);
    const pending = await checkout(requester, site);
    expect((await decide(approvers[0]!, pending.id, "approve")).status).toBe(403);
    expect((await decide(requester, pending.id, "approve")).status).toBe(403);
    const inbox = await json<Summary[]>(await api("/api/approvals", { cookie: approvers[0]! }));
    expect(inbox.map((c) => c.id)).not.toContain(pending.id);
    expect((await json<Summary>(await decide(approvers[1]!, pending.id, "approve"))).status).toBe("active");
  });

  it("refuses a request nobody but the requester could approve", async () => {
    const { site, requester } = await gatedSite(1, [{ name: "me-again", person: "requester" }]);
    const res = await api("/api/checkouts", {
      method: "POST",
      cookie: requester,
      body: {
        items: [{ serverId: site.serverId, credentialId: site.credentialId, minutes: 5, justification: "x y z" }],
      },
    });
    expect((await json<Cart>(res)).results[0]).toEqual({ ok: false, error: "no_eligible_approver" });
  });

  it("refuses decisions on withdrawn and expired requests", async () => {
    const { site, requester, approvers } = await gatedSite(1, [{ name: "late" }]);
    const withdrawn = await checkout(requester, site);
    expect(
      (await json<Summary>(await api(`/api/checkouts/${withdrawn.id}/withdraw`, { method: "POST", cookie: requester })))
        .status,
    ).toBe("withdrawn");
    expect((await decide(approvers[0]!, withdrawn.id, "approve")).status).toBe(409);
    const stale = await checkout(requester, site);
    await env.DB.prepare("UPDATE checkouts SET requested_at = requested_at - 2 * 86400000 WHERE id = ?")
      .bind(stale.id)
      .run();
    expect((await decide(approvers[0]!, stale.id, "approve")).status).toBe(409);
  });
});

describe("what an approver and a requester are told", () => {
  it("the card shows the zone, what the policy will do, and the requester's record across their accounts", async () => {
    const { site, requesterId, requester, approvers } = await gatedSite(1, [{ name: "ctx" }]);
    await env.DB.batch([
      env.DB.prepare("UPDATE zones SET description = 'Payment HSM hosts', sensitivity = 'high' WHERE id = ?").bind(
        site.zoneId,
      ),
      env.DB.prepare(
        "UPDATE policies SET recording_required = 1, mfa_required = 1, exclusive = 1, max_session_minutes = 90 WHERE id = ?",
      ).bind(site.policyId),
    ]);
    // History: one request denied; one approved then revoked with a reason, its session killed; both by a
    // second account of the same person, which must not hide them.
    const altName = `alt-${crypto.randomUUID().slice(0, 6)}`;
    const altId = await seedUser(altName, "flow-password-1", ["requester"]);
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?").bind(requesterId, altId).run();
    await site.entitle(altId);
    const alt = await login(altName, "flow-password-1");
    const denied = await checkout(alt, site);
    await api(`/api/checkouts/${denied.id}/deny`, {
      method: "POST",
      cookie: approvers[0]!,
      body: { comment: "no ticket" },
    });
    const revoked = await checkout(alt, site);
    await decide(approvers[0]!, revoked.id, "approve");
    await env.DB.prepare(
      "INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline, ended_at, end_reason, checkout_id) VALUES (?, ?, ?, ?, ?, 'ended', ?, ?, ?, 'killed', ?)",
    )
      .bind(
        crypto.randomUUID(),
        altId,
        site.serverId,
        site.credentialId,
        site.siteId,
        Date.now(),
        Date.now(),
        Date.now(),
        revoked.id,
      )
      .run();
    const adminName = `adm-${crypto.randomUUID().slice(0, 6)}`;
    await seedUser(adminName, "flow-password-1", ["admin"]);
    const admin = await login(adminName, "flow-password-1");
    expect(
      (
        await api(`/api/checkouts/${revoked.id}/revoke`, {
          method: "POST",
          cookie: admin,
          body: { reason: "left the team" },
        })
      ).status,
    ).toBe(200);

    const pending = await checkout(requester, site);
    const mine = (
      await json<Array<{ id: string; approverGroup: string | null }>>(
        await api("/api/checkouts", { cookie: requester }),
      )
    ).find((c) => c.id === pending.id);
    expect(mine?.approverGroup).toBe(`group-${site.groupId}`);

    const inbox = await json<Array<{ id: string; context: unknown }>>(
      await api("/api/approvals", { cookie: approvers[0]! }),
    );
    const card = inbox.find((c) => c.id === pending.id);
    expect(card?.context).toEqual({
      zone: { name: `zone-${site.zoneId}`, sensitivity: "high", description: "Payment HSM hosts" },
      policy: expect.objectContaining({
        maxSessionMinutes: 90,
        recordingRequired: true,
        mfaRequired: true,
        exclusive: true,
      }),
      requester: {
        checkouts: 2,
        kills: 1,
        revocations: 1,
        denials: 1,
        recent: [
          expect.objectContaining({ status: "revoked", note: "session killed" }),
          expect.objectContaining({ status: "denied", note: null }),
        ],
      },
    });
  });
});

describe("exclusive checkouts", () => {
  it("never overlap, even when requested concurrently", async () => {
    const site = await seedSite({ exclusive: 1 });
    const cookies = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const name = `ex${i}-${crypto.randomUUID().slice(0, 6)}`;
        await site.entitle(await seedUser(name, "flow-password-1", ["requester"]));
        return login(name, "flow-password-1");
      }),
    );
    const results = await Promise.all(
      cookies.map(async (cookie) =>
        json<Cart>(
          await api("/api/checkouts", {
            method: "POST",
            cookie,
            body: {
              items: [{ serverId: site.serverId, credentialId: site.credentialId, minutes: 30, justification: "race" }],
            },
          }),
        ),
      ),
    );
    const outcomes = results.map((r) => (r.results[0]!.ok ? "ok" : r.results[0]!.error));
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "conflict")).toHaveLength(7);
    // After the holder checks in, the credential is free again.
    const winner = results.find((r) => r.results[0]!.ok)!.results[0]!.checkout!;
    const holder = cookies[outcomes.indexOf("ok")]!;
    await api(`/api/checkouts/${winner.id}/check-in`, { method: "POST", cookie: holder });
    expect((await checkout(cookies[outcomes.indexOf("ok") === 0 ? 1 : 0]!, site)).status).toBe("active");
  });
});

describe("time and revocation", () => {
  it("expires pending and active checkouts from the scheduler, audits and queues notifications", async () => {
    const { site, requester } = await gatedSite(1, [{ name: "sleepy" }]);
    const pending = await checkout(requester, site);
    const open = await seedSite();
    const uid = await seedUser(`act-${crypto.randomUUID().slice(0, 6)}`, "flow-password-1", ["requester"]);
    await open.entitle(uid);
    const name = (await env.DB.prepare("SELECT username FROM users WHERE id = ?")
      .bind(uid)
      .first<{ username: string }>())!.username;
    const active = await checkout(await login(name, "flow-password-1"), open, 5);
    await sweep(env, Date.now() + 2 * 86_400_000);
    const rows = await env.DB.prepare("SELECT id, status FROM checkouts WHERE id IN (?, ?)")
      .bind(pending.id, active.id)
      .all<{ id: string; status: string }>();
    expect(Object.fromEntries(rows.results.map((r) => [r.id, r.status]))).toEqual({
      [pending.id]: "expired",
      [active.id]: "expired",
    });
    const queued = await env.DB.prepare("SELECT event, channel FROM notifications WHERE body LIKE ?")
      .bind(`%${pending.id.slice(0, 8)}%`)
      .all();
    expect(queued.results.map((r) => r.event)).toEqual(
      expect.arrayContaining(["checkout.requested", "checkout.expired"]),
    );
  });

  it("ends the live session at once on a revocation", async () => {
    const site = await seedSite();
    const uid = await seedUser(`rv-${crypto.randomUUID().slice(0, 6)}`, "flow-password-1", ["requester"]);
    await site.entitle(uid);
    const name = (await env.DB.prepare("SELECT username FROM users WHERE id = ?")
      .bind(uid)
      .first<{ username: string }>())!.username;
    const cookie = await login(name, "flow-password-1");
    const control = await connectControl(site);
    const active = await checkout(cookie, site);
    const { id } = await json<{ id: string }>(
      await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: active.id } }),
    );
    await control.next(hasText("open", { sessionId: id }), "open");
    const user = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
    user.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    const connector = await openSocket(`/connector/sessions/${id}`, {
      Authorization: `Bearer ${await site.token(`/connector/sessions/${id}`)}`,
    });
    connector.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: id }));
    connector.ws.send(encodeMessage({ type: "status", state: "connected" }));
    await user.next(hasText("status", { state: "connected" }), "connected");
    await seedUser(`boss-${id.slice(0, 6)}`, "flow-password-1", ["admin"]);
    const admin = await login(`boss-${id.slice(0, 6)}`, "flow-password-1");
    // At once, not at the scheduler's next minute (the cron never runs here): both sides are told.
    const res = await api(`/api/checkouts/${active.id}/revoke`, {
      method: "POST",
      cookie: admin,
      body: { reason: "suspicious activity" },
    });
    expect((await json<Summary>(res)).status).toBe("revoked");
    await user.next(hasText("ended", { reason: "checkout_revoked" }), "revoked");
    await connector.next(hasText("end", { reason: "checkout_revoked" }), "connector told");
    expect((await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: active.id } })).status).toBe(409);
  });
});

describe("administration limits and audit", () => {
  it("keeps zone admins inside their zones and the last admin an admin", async () => {
    const mine = await seedSite();
    const theirs = await seedSite();
    const zid = await seedUser("zadmin", "flow-password-1", ["zone_admin"]);
    await env.DB.prepare("INSERT INTO zone_admins (zone_id, user_id) VALUES (?, ?)").bind(mine.zoneId, zid).run();
    const za = await login("zadmin", "flow-password-1");
    const server = (zoneId: string) => ({
      name: `s-${crypto.randomUUID().slice(0, 6)}`,
      host: "h",
      zoneId,
      hostKey: `SHA256:${"D".repeat(43)}`,
    });
    expect((await api("/api/servers", { method: "POST", cookie: za, body: server(mine.zoneId) })).status).toBe(201);
    expect((await api("/api/servers", { method: "POST", cookie: za, body: server(theirs.zoneId) })).status).toBe(403);
    expect(
      (
        await api(`/api/users/${zid}`, {
          method: "PATCH",
          cookie: za,
          body: { zoneAdminOf: [mine.zoneId, theirs.zoneId] },
        })
      ).status,
    ).toBe(403);
    expect(
      (await api(`/api/policies/${mine.policyId}`, { method: "PATCH", cookie: za, body: { approvalRequired: false } }))
        .status,
    ).toBe(403);
    expect(
      (await api(`/api/zones/${mine.zoneId}`, { method: "PATCH", cookie: za, body: { policyId: null } })).status,
    ).toBe(403);
    const zones = await json<{ id: string }[]>(await api("/api/zones", { cookie: za }));
    expect(zones.map((z) => z.id)).toEqual([mine.zoneId]);
    // The server list holds the zone's servers only, each with its own credentials.
    const listed = await json<{ id: string; zoneId: string; credentials: { id: string }[] }[]>(
      await api("/api/servers", { cookie: za }),
    );
    expect(new Set(listed.map((s) => s.zoneId))).toEqual(new Set([mine.zoneId]));
    expect(listed.find((s) => s.id === mine.serverId)?.credentials.map((c) => c.id)).toEqual([mine.credentialId]);
    expect(listed.some((s) => s.id === theirs.serverId)).toBe(false);

    const soleAdmin = await seedUser("only-admin", "flow-password-1", ["admin"]);
    const admin = await login("only-admin", "flow-password-1");
    await env.DB.prepare(`UPDATE users SET disabled = 1 WHERE roles LIKE '%"admin"%' AND id != ?`)
      .bind(soleAdmin)
      .run();
    expect(
      (await api(`/api/users/${soleAdmin}`, { method: "PATCH", cookie: admin, body: { roles: ["requester"] } })).status,
    ).toBe(409);
    expect(
      (await api(`/api/users/${soleAdmin}`, { method: "PATCH", cookie: za, body: { roles: ["requester"] } })).status,
    ).toBe(403);
  });

  it("records logins, requests, decisions and admin changes with before and after, in a verifiable chain", async () => {
    const { site, requester, approvers } = await gatedSite(1, [{ name: "auditee" }]);
    const pending = await checkout(requester, site);
    await decide(approvers[0]!, pending.id, "deny");
    await seedUser("auditor1", "flow-password-1", ["auditor"]);
    const auditor = await login("auditor1", "flow-password-1");
    await seedUser("admin9", "flow-password-1", ["admin"]);
    const admin = await login("admin9", "flow-password-1");
    await api(`/api/zones/${site.zoneId}`, {
      method: "PATCH",
      cookie: admin,
      body: { description: "domain controllers" },
    });
    const entries = await json<{ action: string; data: Record<string, unknown>; refs: { checkoutId?: string } }[]>(
      await api("/api/audit?limit=200", { cookie: auditor }),
    );
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["auth.login", "checkout.requested", "checkout.denied", "admin.change"]),
    );
    const change = entries.find(
      (e) =>
        e.action === "admin.change" && (e.data.after as { description?: string })?.description === "domain controllers",
    )!;
    expect(change.data.before).toMatchObject({ description: "" });
    expect(entries.filter((e) => e.refs.checkoutId === pending.id).map((e) => e.action)).toEqual([
      "checkout.denied",
      "checkout.requested",
    ]);
    expect(await json(await api("/api/audit/verify", { cookie: auditor }))).toMatchObject({ ok: true });
    const ndjson = await (await api("/api/audit/export", { cookie: auditor })).text();
    expect(ndjson.trim().split("\n").length).toBeGreaterThanOrEqual(entries.length);
    expect((await api("/api/audit", { cookie: requester })).status).toBe(403);
  });
});
