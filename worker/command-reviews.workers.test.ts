// Command review through the Worker and the room (docs/governance.md): the connector holds a line and asks the
// room; the session's reviewers (the approver or moderator group snapshotted into its checkout) list it and answer,
// and the room carries the answer to the connector. Attacks: the requester (any account of theirs) and an admin
// outside the groups neither see nor answer it; a second answer, a late answer and an answer for a line nobody
// holds change nothing; a review rule nobody could answer is refused at the policy.
import { env, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeMessage, REVIEW_SECONDS } from "../protocol/index.ts";
import {
  auditLog,
  type Client,
  expireTimer,
  hasText,
  liveSession,
  login,
  ORIGIN,
  seedUser,
  seedGroup,
} from "./test/harness.ts";

const group = (...members: string[]) => seedGroup("reviewers", ...members);

async function person(prefix: string, roles: string[] = ["approver"]) {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 6)}`;
  const id = await seedUser(name, "review-password-1", roles);
  return { id, name, cookie: await login(name, "review-password-1") };
}

const list = async (cookie: string) => {
  const res = await SELF.fetch(`${ORIGIN}/api/command-reviews`, { headers: { origin: ORIGIN, cookie } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { reviews: { sessionId: string; id: string; line: string; user: string }[] }).reviews;
};
const answer = (cookie: string, sessionId: string, id: string, allow: boolean) =>
  SELF.fetch(`${ORIGIN}/api/command-reviews/${sessionId}/${id}`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN, cookie },
    body: JSON.stringify({ allow }),
  }).then((res) => res.status);

let n = 0;
/** The connector holds a line: a `command_review` on its data socket, as connector/session.ts sends it. */
function hold(connector: Client, seconds = 60): string {
  const id = (++n).toString(16).padStart(16, "0");
  connector.ws.send(
    encodeMessage({
      type: "command_review",
      id,
      line: `systemctl stop nginx #${n}`,
      rule: 0,
      message: "Change control.",
      seconds,
      at: 0,
    }),
  );
  return id;
}
const answered = (id: string, allowed: boolean) => hasText("command_review_answer", { id, allowed });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("command review", { timeout: 30_000 }, () => {
  it("a reviewer lists the held line and allows it; the connector hears so, once; it is audited", async () => {
    const rita = await person("rita");
    const live = await liveSession({ approver_group_id: await group(rita.id) });
    const id = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "the user is told it waits");
    const [review] = (await list(rita.cookie)).filter((r) => r.sessionId === live.id);
    expect(review).toMatchObject({ id, line: `systemctl stop nginx #${Number.parseInt(id, 16)}`, user: live.username });

    expect(await answer(rita.cookie, live.id, id, true)).toBe(200);
    await live.connector.next(answered(id, true), "the connector lets the Enter through");
    await live.user.next(hasText("notice", { code: "command_approved" }), "the user is told");
    // Answered: a second answer, either way, is a conflict, and nothing more reaches the connector.
    expect(await answer(rita.cookie, live.id, id, false)).toBe(409);
    expect(live.connector.texts.filter((m) => (m as { type: string }).type === "command_review_answer")).toHaveLength(
      1,
    );
    expect((await list(rita.cookie)).some((r) => r.sessionId === live.id)).toBe(false);

    const log = (await auditLog()).filter((e) => e.refs.sessionId === live.id) as {
      action: string;
      actor?: { name: string };
      data: Record<string, unknown>;
    }[];
    expect(log.find((e) => e.action === "session.command_review")?.data).toMatchObject({ review: id, rule: 0 });
    expect(log.find((e) => e.action === "session.command_approved")).toMatchObject({
      actor: { name: rita.name },
      data: { review: id, decision: "approved" },
    });
  });

  it("attack: the requester, their second account and an admin outside the groups neither see nor answer it", async () => {
    const rita = await person("rita");
    const alt = await person("alt", ["requester"]);
    const outsider = await person("olly", ["admin"]);
    const reviewers = await group(rita.id, alt.id);
    const live = await liveSession({ approver_group_id: reviewers });
    const requester = await env.DB.prepare("SELECT id FROM users WHERE username = ?")
      .bind(live.username)
      .first<{ id: string }>();
    // The requester is in the group, and so is another account of the same person.
    await env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)")
      .bind(reviewers, requester!.id)
      .run();
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?").bind(requester!.id, alt.id).run();
    const id = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    for (const cookie of [live.cookie, alt.cookie, outsider.cookie]) {
      expect((await list(cookie)).some((r) => r.sessionId === live.id)).toBe(false);
      expect(await answer(cookie, live.id, id, true)).toBe(404);
    }
    // A made-up id in the same session is not found either, for the reviewer too.
    expect(await answer(rita.cookie, live.id, "ffffffffffffffff", true)).toBe(404);
    expect(live.connector.texts.some((m) => (m as { type: string }).type === "command_review_answer")).toBe(false);
    expect(await answer(rita.cookie, live.id, id, false)).toBe(200);
    await live.connector.next(answered(id, false), "refused");
  });

  it("a moderator of the session may review; the user's withdrawal and the rule's time limit close it", async () => {
    const mona = await person("mona", ["requester"]);
    const live = await liveSession({ moderator_group_id: await group(mona.id) });
    const withdrawn = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    expect((await list(mona.cookie)).map((r) => r.id)).toContain(withdrawn);
    live.connector.ws.send(encodeMessage({ type: "command_review_withdrawn", id: withdrawn }));
    await new Promise((r) => setTimeout(r, 200));
    expect((await list(mona.cookie)).some((r) => r.sessionId === live.id)).toBe(false);
    expect(await answer(mona.cookie, live.id, withdrawn, true)).toBe(409);

    const late = hold(live.connector, 10);
    await new Promise((r) => setTimeout(r, 200));
    expect(await expireTimer(live.room, "review")).toBeGreaterThan(Date.now());
    expect(await runDurableObjectAlarm(live.room)).toBe(true);
    await live.connector.next(answered(late, false), "refused at the time limit");
    const message = live.connector.texts.find(
      (m) => (m as { type: string; id?: string }).type === "command_review_answer" && (m as { id: string }).id === late,
    ) as { message: string };
    expect(message.message).toContain("in time");
    expect(await answer(mona.cookie, live.id, late, true)).toBe(409);
  });

  it("a second line while one is held is refused at once; the session's end closes what is open", async () => {
    const rita = await person("rita");
    const live = await liveSession({ approver_group_id: await group(rita.id) });
    const first = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    const second = hold(live.connector);
    await live.connector.next(answered(second, false), "the second is refused");
    await live.room.end("killed", {});
    const row = await env.DB.prepare("SELECT decision FROM command_reviews WHERE session_id = ? AND id = ?")
      .bind(live.id, first)
      .first<{ decision: string }>();
    expect(row?.decision).toBe("ended");
    expect(await answer(rita.cookie, live.id, first, true)).toBe(409);
  });

  it("attack: two reviewers answer at once; exactly one answer counts and the connector hears one", async () => {
    const rita = await person("rita");
    const ray = await person("ray");
    const live = await liveSession({ approver_group_id: await group(rita.id, ray.id) });
    const id = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    const statuses = await Promise.all([
      answer(rita.cookie, live.id, id, true),
      answer(ray.cookie, live.id, id, false),
    ]);
    expect([...statuses].sort()).toEqual([200, 409]);
    // Rita allows, Ray refuses: whoever got the 200 decided.
    const decision = statuses[0] === 200 ? "approved" : "refused";
    await live.connector.next(hasText("command_review_answer", { id }), "one answer");
    await new Promise((r) => setTimeout(r, 200));
    const answers = live.connector.texts.filter((m) => (m as { type: string }).type === "command_review_answer");
    expect(answers).toHaveLength(1);
    const row = await env.DB.prepare("SELECT decision, decided_by FROM command_reviews WHERE session_id = ? AND id = ?")
      .bind(live.id, id)
      .first<{ decision: string; decided_by: string }>();
    // The row, the connector and the winner agree on the one decision.
    expect(row?.decision).toBe(decision);
    expect((answers[0] as { allowed: boolean }).allowed).toBe(decision === "approved");
  });

  it("attack: a reviewer taken out of the group while a line is held can no longer answer it", async () => {
    const rita = await person("rita");
    const reviewers = await group(rita.id);
    const live = await liveSession({ approver_group_id: reviewers });
    const id = hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    expect((await list(rita.cookie)).map((r) => r.id)).toContain(id);
    await env.DB.prepare("DELETE FROM group_members WHERE group_id = ? AND user_id = ?").bind(reviewers, rita.id).run();
    expect((await list(rita.cookie)).some((r) => r.sessionId === live.id)).toBe(false);
    expect(await answer(rita.cookie, live.id, id, true)).toBe(404);
    expect(live.connector.texts.some((m) => (m as { type: string }).type === "command_review_answer")).toBe(false);
  });

  it("attack: a connector asking for a longer wait than any rule allows breaks the protocol: nothing is held", async () => {
    const rita = await person("rita");
    const live = await liveSession({ approver_group_id: await group(rita.id) });
    hold(live.connector, REVIEW_SECONDS.max + 1);
    await live.user.next(hasText("ended", { reason: "protocol_error" }), "the session ends");
    expect((await list(rita.cookie)).some((r) => r.sessionId === live.id)).toBe(false);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM command_reviews WHERE session_id = ?")
      .bind(live.id)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("tells the reviewers' notified devices that a line waits, without the line", async () => {
    const rita = await person("rita");
    // A browser's push subscription (the keys' private halves are not needed: the outbox row is what is checked).
    const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
      "deriveBits",
    ])) as CryptoKeyPair;
    const b64url = (b: ArrayBuffer | Uint8Array) =>
      btoa(String.fromCharCode(...new Uint8Array(b)))
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, "");
    const subscribed = await SELF.fetch(`${ORIGIN}/api/push/devices`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ORIGIN, cookie: rita.cookie },
      body: JSON.stringify({
        endpoint: `https://push.psm.test/wpush/v2/${crypto.randomUUID()}`,
        keys: {
          p256dh: b64url(await crypto.subtle.exportKey("raw", pair.publicKey)),
          auth: b64url(crypto.getRandomValues(new Uint8Array(16))),
        },
        label: "Rita's phone",
      }),
    });
    expect(subscribed.status).toBe(200);
    const { id: device } = (await subscribed.json()) as { id: string };
    const live = await liveSession({ approver_group_id: await group(rita.id) });
    // The push service answers from here (the room delivers at once, in the background).
    const pushed: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
      pushed.push(new Request(input).url);
      return new Response(null, { status: 201 });
    });
    hold(live.connector);
    await live.user.next(hasText("notice", { code: "command_review" }), "held");
    let row: { event: string; body: string } | null = null;
    for (let i = 0; i < 50 && !row; i++) {
      row = await env.DB.prepare("SELECT event, body FROM notifications WHERE channel = 'push' AND target = ?")
        .bind(device)
        .first<{ event: string; body: string }>();
      if (!row) await new Promise((r) => setTimeout(r, 50));
    }
    expect(row?.event).toBe("session.command_review");
    const { notice } = JSON.parse(row!.body) as { notice: { kind: string; body: string; url: string } };
    expect(notice).toMatchObject({ kind: "command_review", url: "/#/approvals" });
    expect(notice.body).toContain(live.username);
    // A lock screen may show it: the line (which may carry a secret) is not in it.
    expect(row!.body).not.toContain("systemctl");
    for (let i = 0; i < 50 && pushed.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pushed).toEqual([expect.stringMatching(/^https:\/\/push\.psm\.test\/wpush\/v2\//)]);
  });

  it("refuses a review rule in a policy that names neither an approver group nor a moderator group", async () => {
    const admin = await person("pol", ["admin"]);
    const create = (body: Record<string, unknown>) =>
      SELF.fetch(`${ORIGIN}/api/policies`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: ORIGIN, cookie: admin.cookie },
        body: JSON.stringify({ name: `p-${crypto.randomUUID().slice(0, 6)}`, ...body }),
      });
    const rules = [{ kind: "commands", names: ["reboot"], action: "review", message: "", reviewSeconds: 60 }];
    const refused = await create({ commandRules: rules });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("policy_inconsistent");
    const ok = await create({ commandRules: rules, approverGroupId: await group() });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { commandRules: unknown[] }).commandRules).toEqual(rules);
    // A PATCH that adds a review rule to a policy nobody could review for is refused too.
    const plain = (await (await create({})).json()) as { id: string };
    const patched = await SELF.fetch(`${ORIGIN}/api/policies/${plain.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", origin: ORIGIN, cookie: admin.cookie },
      body: JSON.stringify({ commandRules: rules }),
    });
    expect(patched.status).toBe(400);
    // The reviewer's time is bounded.
    expect(
      (await create({ commandRules: [{ ...rules[0], reviewSeconds: 5 }], approverGroupId: await group() })).status,
    ).toBe(400);
  });
});
