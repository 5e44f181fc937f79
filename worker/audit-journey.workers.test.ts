// The audit trail of one access, end to end: request → approval → session → kill → check-in (and a kill that
// revokes). Every entry names an actor and a target of the kind its action is about, the names the page shows
// are there, and no event is written twice (no (action, target, refs) repeats).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditListEntry } from "../protocol/index.ts";
import { api, checkout, connectControl, hasText, login, seedSite, seedUser } from "./test/harness.ts";

const PASSWORD = "journey-password-1";

async function person(prefix: string, roles: string[]) {
  const name = `${prefix}${crypto.randomUUID().slice(0, 6)}`;
  const id = await seedUser(name, PASSWORD, roles);
  return { id, name, cookie: await login(name, PASSWORD) };
}

/** Everything the ledger holds about this checkout and its sessions, oldest first, as an auditor lists it. */
async function trail(auditor: string, checkoutId: string, sessionId: string): Promise<AuditListEntry[]> {
  const entries = (await (await api("/api/audit?limit=500", { cookie: auditor })).json()) as AuditListEntry[];
  const ours = (e: AuditListEntry) =>
    e.refs.checkoutId === checkoutId ||
    e.refs.sessionId === sessionId ||
    e.target.id === checkoutId ||
    e.target.id === sessionId;
  return entries.filter(ours).reverse();
}

/** An event's identity: the same action on the same target with the same refs is the same event written twice. */
const identity = (e: AuditListEntry) =>
  JSON.stringify([e.action, e.target.type, e.target.id, e.refs.sessionId ?? null, e.refs.checkoutId ?? null]);

/** A requester with an approved checkout in a zone whose policy wants an approver, and a started session. */
async function journeyToSession() {
  const site = await seedSite({ approval_required: 1 });
  const requester = await person("req", ["requester"]);
  const approver = await person("appr", ["requester", "approver"]);
  await site.entitle(requester.id);
  await site.entitle(approver.id);
  await env.DB.prepare("UPDATE policies SET approver_group_id = ? WHERE id = ?")
    .bind(site.groupId, site.policyId)
    .run();
  const control = await connectControl(site);
  const { id: checkoutId, status } = await checkout(requester.cookie, site);
  expect(status).toBe("pending_approval");
  const approved = await api(`/api/checkouts/${checkoutId}/approve`, {
    method: "POST",
    cookie: approver.cookie,
    body: { comment: "ok for the patch window" },
  });
  expect(approved.status).toBe(200);
  const started = await api("/api/sessions", { method: "POST", cookie: requester.cookie, body: { checkoutId } });
  expect(started.status).toBe(201);
  const { id: sessionId } = (await started.json()) as { id: string };
  await control.next(hasText("open", { sessionId }), "open");
  const server = await env.DB.prepare("SELECT name FROM servers WHERE id = ?")
    .bind(site.serverId)
    .first<{ name: string }>();
  return { site, requester, approver, checkoutId, sessionId, serverName: server!.name };
}

describe("the audit trail of a checkout", () => {
  it("checkout → approval → session → kill → check-in: one entry per event, each with its actor and target", async () => {
    const j = await journeyToSession();
    const admin = await person("adm", ["admin"]);
    const auditor = await person("aud", ["auditor"]);
    const kill = await api(`/api/sessions/${j.sessionId}/kill`, {
      method: "POST",
      cookie: admin.cookie,
      body: { reason: "ran rm in /etc", revokeCheckout: false },
    });
    expect(await kill.json()).toEqual({ checkoutRevoked: false, userLocked: false });
    const checkIn = await api(`/api/checkouts/${j.checkoutId}/check-in`, {
      method: "POST",
      cookie: j.requester.cookie,
      body: {},
    });
    expect(checkIn.status).toBe(200);

    const entries = await trail(auditor.cookie, j.checkoutId, j.sessionId);
    // Who did what to which kind of thing, in order. The step-up decision at connect is the requester's.
    const expected: [string, string, string][] = [
      ["checkout.requested", j.requester.name, "checkout"],
      ["checkout.approved", j.approver.name, "checkout"],
      ["auth.step_up", j.requester.name, "checkout"],
      ["session.started", j.requester.name, "session"],
      ["session.killed", admin.name, "session"],
      // No connector ever took this session, so its recording is sealed at once (empty, incomplete), by the edge.
      ["recording.sealed", "(none)", "recording"],
      ["checkout.checked_in", j.requester.name, "checkout"],
    ];
    const seen = entries.map((e) => [e.action, e.actor?.name ?? "(none)", e.target.type]);
    expect(seen.filter(([action]) => action !== "auth.step_up")).toEqual(
      expected.filter(([action]) => action !== "auth.step_up"),
    );
    // The step-up decision is recorded at most once per phase, and only as the requester's.
    for (const e of entries.filter((x) => x.action === "auth.step_up"))
      expect([e.actor?.name, e.target.type]).toEqual([j.requester.name, "checkout"]);
    expect(new Set(entries.map(identity)).size).toBe(entries.length);

    // Every entry carries its actor's id and name, and the names the page writes its sentence with.
    for (const e of entries) {
      // The edge's seal of the recording is nobody's act, and names the recording by its id.
      if (e.action === "recording.sealed") continue;
      expect(e.actor?.id, e.action).toBeTruthy();
      expect(e.refs.userId, e.action).toBe(j.requester.id);
      expect(e.refs.serverId, e.action).toBe(j.site.serverId);
      expect(e.context.user, e.action).toBe(j.requester.name);
      expect(e.context.server, e.action).toBe(j.serverName);
      expect(e.context.zone, e.action).toBe(`zone-${j.site.zoneId}`);
      expect(e.target.name ?? e.context.target, e.action).toBeTruthy();
    }
    const killed = entries.find((e) => e.action === "session.killed")!;
    expect(killed.data).toMatchObject({ reason: "killed", note: "ran rm in /etc" });
    // The session's end names the checkout it ran under, as its start does.
    expect(killed.refs.checkoutId).toBe(j.checkoutId);
    // The session's entries link to its recording.
    const recording = await env.DB.prepare("SELECT id FROM recordings WHERE session_id = ?")
      .bind(j.sessionId)
      .first<{ id: string }>();
    expect(recording).not.toBeNull();
    expect(killed.context.recordingId).toBe(recording!.id);
  });

  it("a kill that revokes the checkout and locks the user: kill, revocation and lock once each, all the admin's", async () => {
    const j = await journeyToSession();
    const admin = await person("adm", ["admin"]);
    const auditor = await person("aud", ["auditor"]);
    const kill = await api(`/api/sessions/${j.sessionId}/kill`, {
      method: "POST",
      cookie: admin.cookie,
      body: { reason: "credential leaked", lockUser: true },
    });
    expect(await kill.json()).toEqual({ checkoutRevoked: true, userLocked: true });
    const entries = await trail(auditor.cookie, j.checkoutId, j.sessionId);
    const after = entries.slice(entries.findIndex((e) => e.action === "session.killed"));
    expect(after.map((e) => [e.action, e.actor?.name, e.target.type])).toEqual([
      ["session.killed", admin.name, "session"],
      ["recording.sealed", undefined, "recording"],
      ["checkout.revoked", admin.name, "checkout"],
    ]);
    expect(new Set(entries.map(identity)).size).toBe(entries.length);
    // The lock: one admin change on the user, named, and nothing the kill already ended is revoked again.
    const about = (await (
      await api(`/api/audit?userId=${j.requester.id}&limit=500`, { cookie: auditor.cookie })
    ).json()) as AuditListEntry[];
    const locks = about.filter((e) => e.action === "admin.change" && e.target.id === j.requester.id);
    expect(locks.map((e) => [e.actor?.name, e.target.type, e.target.name])).toEqual([
      [admin.name, "user", j.requester.name],
    ]);
    const revocations = about.filter((e) => e.action === "checkout.revoked" && e.target.id === j.checkoutId);
    expect(revocations).toHaveLength(1);
    expect(new Set(about.map(identity)).size).toBe(about.length);

    // Signing out is the user's own entry, named like every other.
    const out = await person("out", ["requester"]);
    await api("/api/logout", { method: "POST", cookie: out.cookie });
    const mine = (await (
      await api(`/api/audit?userId=${out.id}&action=auth.logout`, { cookie: auditor.cookie })
    ).json()) as AuditListEntry[];
    expect(mine.map((e) => [e.actor?.name, e.target.type, e.target.name ?? e.context.target])).toEqual([
      [out.name, "user", out.name],
    ]);
  });
});
