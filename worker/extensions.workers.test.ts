// Session extensions through the API: pre-approved by policy, or decided by an approver; the new
// deadline reaches the checkout, the room's alarm, the browser and, as a fresh grant, the connector.
import { env, runInDurableObject } from "cloudflare:test";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { api, hasText, liveSession, login, seedUser } from "./test/harness.ts";

type Result = { id: string; status: string; deadline: number };

async function ask(id: string, cookie: string, minutes: number) {
  const res = await api(`/api/sessions/${id}/extensions`, {
    method: "POST",
    cookie,
    body: { minutes, reason: "migration overran" },
  });
  return { status: res.status, body: (await res.json()) as Result & { error?: { code: string } } };
}

describe("session extensions", () => {
  it("grants a pre-approved extension at once: checkout, room alarm, browser and connector all move", async () => {
    const { id, cookie, user, connector, room } = await liveSession({ extension_minutes: 30, max_extensions: 2 });
    const before = (await env.DB.prepare("SELECT deadline FROM sessions WHERE id = ?")
      .bind(id)
      .first<{ deadline: number }>())!.deadline;
    const { status, body } = await ask(id, cookie, 30);
    expect(status).toBe(201);
    expect(body).toMatchObject({ status: "granted", deadline: before + 30 * 60_000 });
    await user.next(hasText("extended", { deadline: body.deadline }), "browser told");
    await connector.next(hasText("extend"), "connector told");
    const { grant } = connector.texts.find((m) => (m as { type: string }).type === "extend") as { grant: string };
    const claims = decodeJwt(grant);
    expect(claims.sub).toBe(id);
    expect(claims.dl).toBe(Math.floor(body.deadline / 1000));
    await runInDurableObject(room, async (_instance, state) => {
      const timers = (await state.storage.get<Record<string, number>>("timers"))!;
      expect(timers.deadline).toBe(body.deadline);
      expect(timers.warn).toBe(body.deadline - 5 * 60_000);
    });
    const checkout = await env.DB.prepare(
      "SELECT ch.ends_at FROM checkouts ch JOIN sessions se ON se.checkout_id = ch.id WHERE se.id = ?",
    )
      .bind(id)
      .first<{ ends_at: number }>();
    expect(checkout!.ends_at).toBeGreaterThanOrEqual(body.deadline);
    // Policy bounds: 30 minutes at a time, twice per session.
    expect((await ask(id, cookie, 31)).status).toBe(400);
    expect((await ask(id, cookie, 10)).status).toBe(201);
    const third = await ask(id, cookie, 10);
    expect(third.status).toBe(409);
    const summary = (await (await api(`/api/sessions/${id}`, { cookie })).json()) as { extension: unknown };
    expect(summary.extension).toEqual({ minutes: 30, remaining: 0, approval: false, pending: false });
  });

  it("sends an extension to approvers when policy says so; the approver's yes moves the deadline", async () => {
    const { id, cookie, user, connector, site } = await liveSession({ extension_minutes: 60 });
    const approverId = await seedUser(`ap-${crypto.randomUUID().slice(0, 6)}`, "approver-password-1", [
      "requester",
      "approver",
    ]);
    const approverName = (await env.DB.prepare("SELECT username FROM users WHERE id = ?")
      .bind(approverId)
      .first<{ username: string }>())!.username;
    await env.DB.batch([
      env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(site.groupId, approverId),
      env.DB.prepare(
        `UPDATE checkouts SET policy = json_set(policy, '$.approverGroupId', ?, '$.extensionApprovalRequired', json('true'))
         WHERE id = (SELECT checkout_id FROM sessions WHERE id = ?)`,
      ).bind(site.groupId, id),
    ]);
    const asked = await ask(id, cookie, 45);
    expect(asked.status).toBe(201);
    expect(asked.body.status).toBe("pending");
    expect((await ask(id, cookie, 5)).status).toBe(409); // one pending at a time

    // The requester (a member of the approver group here) cannot approve their own request.
    const own = await api(`/api/extensions/${asked.body.id}/decision`, {
      method: "POST",
      cookie,
      body: { approve: true },
    });
    expect(own.status).toBe(403);
    const approver = await login(approverName, "approver-password-1");
    const inbox = (await (await api("/api/extensions", { cookie: approver })).json()) as {
      id: string;
      minutes: number;
    }[];
    expect(inbox).toEqual([expect.objectContaining({ id: asked.body.id, minutes: 45 })]);
    const decided = await api(`/api/extensions/${asked.body.id}/decision`, {
      method: "POST",
      cookie: approver,
      body: { approve: true, comment: "ok, finish it" },
    });
    expect(decided.status).toBe(200);
    const result = (await decided.json()) as Result;
    expect(result.status).toBe("granted");
    await user.next(hasText("extended", { deadline: result.deadline }), "browser told");
    await connector.next(hasText("extend"), "connector told");
    const again = await api(`/api/extensions/${asked.body.id}/decision`, {
      method: "POST",
      cookie: approver,
      body: { approve: false },
    });
    expect(again.status).toBe(409);
  });

  it("refuses extensions where policy turns them off, and on someone else's session", async () => {
    const { id, cookie } = await liveSession({ extension_minutes: null });
    expect((await ask(id, cookie, 5)).status).toBe(403);
    const other = await liveSession();
    expect((await ask(other.id, cookie, 5)).status).toBe(404);
  });
});
