// Moderated sessions through the Worker and the room (docs/governance.md): a policy that requires a moderator
// holds the user's input until a member of its moderator group watches; the moderator can end the session.
// Who may moderate: a member of the group named by the policy snapshotted into the checkout, never the
// requester, counted by person (a second account of the requester is refused too), and only for a moderated
// session.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CloseCode, encodeData, encodeMessage, PROTOCOL_VERSION } from "../protocol/index.ts";
import {
  auditLog,
  type Client,
  hasText,
  liveSession,
  login,
  ORIGIN,
  openSocket,
  seedUser,
  seedGroup,
} from "./test/harness.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/** A `moderation` message naming exactly these moderators has arrived. */
const moderatedBy =
  (...names: string[]) =>
  (c: Client) =>
    c.texts.some((m) => {
      const msg = m as { type: string; moderators?: string[] };
      return msg.type === "moderation" && JSON.stringify(msg.moderators) === JSON.stringify(names);
    });

const moderatorGroup = (...members: string[]) => seedGroup("moderators", ...members);

async function person(name: string, roles: string[] = ["requester"]) {
  const id = await seedUser(name, "moderate-password-1", roles);
  return { id, name, cookie: () => login(name, "moderate-password-1") };
}

async function upgrade(sessionId: string, cookie: string): Promise<number> {
  const res = await SELF.fetch(`${ORIGIN}/api/sessions/${sessionId}/moderate`, {
    headers: { Upgrade: "websocket", Origin: ORIGIN, cookie },
  });
  res.webSocket?.accept();
  res.webSocket?.close(1000);
  return res.status;
}

describe("moderated sessions", { timeout: 30_000 }, () => {
  it("holds input until a moderator watches; the moderator can end the session", async () => {
    const mona = await person(`mona-${crypto.randomUUID().slice(0, 6)}`);
    const group = await moderatorGroup(mona.id);
    const { id, user, connector } = await liveSession({ moderators_required: 1, moderator_group_id: group });
    await user.next(moderatedBy(), "waiting for a moderator");
    user.ws.send(encodeData(bytes("early\r")));
    await new Promise((r) => setTimeout(r, 100));
    expect(connector.binaries).toHaveLength(0);

    const moderator = await openSocket(`/api/sessions/${id}/moderate`, { Origin: ORIGIN, cookie: await mona.cookie() });
    moderator.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    await user.next(moderatedBy(mona.name), "moderator joined");
    await moderator.next(moderatedBy(mona.name), "the moderator sees it too");
    user.ws.send(encodeData(bytes("ls\r")));
    await connector.next((c) => c.binaries.length === 1, "input relayed once moderated");

    moderator.ws.send(encodeMessage({ type: "moderate", action: "end" }));
    await user.next(hasText("ended", { reason: "killed", note: "ended by a moderator" }), "ended by the moderator");
    const log = await auditLog();
    // The ledger's entries name their actor (auditLog's type leaves it out).
    const mine = log.filter((e) => e.refs.sessionId === id) as ((typeof log)[number] & { actor?: { name: string } })[];
    expect(mine.some((e) => e.action === "session.moderator_joined" && e.actor?.name === mona.name)).toBe(true);
    expect(mine.some((e) => e.action === "session.killed" && e.actor?.name === mona.name)).toBe(true);
  });

  it("attack: one moderator watches from two linked accounts — guarantee: moderators are counted by person", async () => {
    const mona = await person(`mona-${crypto.randomUUID().slice(0, 6)}`);
    const monaAdmin = await person(`mona-adm-${crypto.randomUUID().slice(0, 6)}`);
    const max = await person(`max-${crypto.randomUUID().slice(0, 6)}`);
    // mona's second account: another user row of the same person, in the same moderator group.
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?").bind(mona.id, monaAdmin.id).run();
    const group = await moderatorGroup(mona.id, monaAdmin.id, max.id);
    const { id, user, connector } = await liveSession({ moderators_required: 2, moderator_group_id: group });
    const watch = async (who: { cookie: () => Promise<string> }) => {
      const socket = await openSocket(`/api/sessions/${id}/moderate`, { Origin: ORIGIN, cookie: await who.cookie() });
      socket.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
      return socket;
    };
    await watch(mona);
    await user.next(moderatedBy(mona.name), "mona watches");
    await watch(monaAdmin);
    // Her second account's arrival is no new moderator: still one of two, and typing is held.
    await new Promise((r) => setTimeout(r, 200));
    user.ws.send(encodeData(bytes("rm -rf /srv\r")));
    await new Promise((r) => setTimeout(r, 100));
    expect(connector.binaries).toHaveLength(0);
    expect(user.texts.filter((m) => (m as { type: string }).type === "moderation").at(-1)).toMatchObject({
      moderators: [mona.name],
    });
    await watch(max);
    await user.next(moderatedBy(...[mona.name, max.name].sort()), "a second person watches");
    user.ws.send(encodeData(bytes("id\r")));
    await connector.next((c) => c.binaries.length === 1, "input relayed once two people watch");
  });

  it("refuses the requester (any account of theirs), non-members, and sessions that are not moderated", async () => {
    const outsider = await person(`olly-${crypto.randomUUID().slice(0, 6)}`, ["admin"]);
    const member = await person(`mo-${crypto.randomUUID().slice(0, 6)}`);
    // The requester's second account: another user row of the same person, in the moderator group.
    const alt = await person(`alt-${crypto.randomUUID().slice(0, 6)}`);
    const group = await moderatorGroup(member.id, alt.id);
    const live = await liveSession({ moderators_required: 1, moderator_group_id: group });
    const requester = await env.DB.prepare("SELECT id FROM users WHERE username = ?")
      .bind(live.username)
      .first<{ id: string }>();
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?").bind(requester!.id, alt.id).run();
    await env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)")
      .bind(group, requester!.id)
      .run();

    expect(await upgrade(live.id, live.cookie)).toBe(403);
    expect(await upgrade(live.id, await alt.cookie())).toBe(403);
    expect(await upgrade(live.id, await outsider.cookie())).toBe(403);
    expect(await upgrade(live.id, await member.cookie())).toBe(101);
    const plain = await liveSession();
    expect(await upgrade(plain.id, await member.cookie())).toBe(403);
  });

  it("a policy that requires moderators without a group, or without live view, is refused", async () => {
    const admin = await person(`pol-${crypto.randomUUID().slice(0, 6)}`, ["admin"]);
    const cookie = await admin.cookie();
    const create = (body: Record<string, unknown>) =>
      SELF.fetch(`${ORIGIN}/api/policies`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: ORIGIN, cookie },
        body: JSON.stringify({ name: `p-${crypto.randomUUID().slice(0, 6)}`, ...body }),
      });
    const noGroup = await create({ moderatorsRequired: 1 });
    expect(noGroup.status).toBe(400);
    expect(await noGroup.text()).toContain("policy_inconsistent");
    const group = await moderatorGroup();
    expect((await create({ moderatorsRequired: 1, moderatorGroupId: group, liveViewAllowed: false })).status).toBe(400);
    const ok = await create({ moderatorsRequired: 2, moderatorGroupId: group });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ moderatorsRequired: 2, moderatorGroupId: group });
  });

  it("lists a live moderated session to a member of its moderator group, not to its requester or a non-member", async () => {
    const member = await person(`mem-${crypto.randomUUID().slice(0, 6)}`);
    const outsider = await person(`out-${crypto.randomUUID().slice(0, 6)}`, ["admin"]);
    const group = await moderatorGroup(member.id);
    const live = await liveSession({ moderators_required: 2, moderator_group_id: group });
    const requester = await env.DB.prepare("SELECT id FROM users WHERE username = ?")
      .bind(live.username)
      .first<{ id: string }>();
    // The requester is in the group too: still never offered their own session.
    await env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)")
      .bind(group, requester!.id)
      .run();
    const list = async (cookie: string) => {
      const res = await SELF.fetch(`${ORIGIN}/api/moderation`, { headers: { origin: ORIGIN, cookie } });
      expect(res.status).toBe(200);
      return (await res.json()) as { id: string; user: string; server: string; required: number }[];
    };
    const seen = await list(await member.cookie());
    expect(seen.filter((s) => s.id === live.id)).toEqual([
      expect.objectContaining({ id: live.id, user: live.username, required: 2 }),
    ]);
    expect((await list(live.cookie)).some((s) => s.id === live.id)).toBe(false);
    expect((await list(await outsider.cookie())).some((s) => s.id === live.id)).toBe(false);
    // Once it ends, it is no longer offered.
    await env.DB.prepare("UPDATE sessions SET status = 'ended' WHERE id = ?").bind(live.id).run();
    expect((await list(await member.cookie())).some((s) => s.id === live.id)).toBe(false);
  });

  it("a moderator taken out of the moderator group loses the open socket; a change that keeps the right does not", async () => {
    const mona = await person(`mona-${crypto.randomUUID().slice(0, 6)}`);
    const group = await moderatorGroup(mona.id);
    const other = await moderatorGroup();
    const { id } = await liveSession({ moderators_required: 1, moderator_group_id: group });
    const moderator = await openSocket(`/api/sessions/${id}/moderate`, { Origin: ORIGIN, cookie: await mona.cookie() });
    moderator.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    await moderator.next(moderatedBy(mona.name), "moderating");
    const admin = await person(`adm-${crypto.randomUUID().slice(0, 6)}`, ["admin"]);
    const cookie = await admin.cookie();
    const setMembers = (groupId: string, userIds: string[]) =>
      SELF.fetch(`${ORIGIN}/api/groups/${groupId}/members`, {
        method: "PUT",
        headers: { "content-type": "application/json", origin: ORIGIN, cookie },
        body: JSON.stringify({ userIds }),
      });
    // Another group changes for her: her account is re-checked, and she still moderates this session.
    expect((await setMembers(other, [mona.id])).status).toBe(200);
    expect((await setMembers(other, [])).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(moderator.closed).toBeUndefined();
    // Out of the moderator group: the right is gone, and so is the socket.
    expect((await setMembers(group, [])).status).toBe(200);
    await moderator.next((c) => c.closed !== undefined, "moderator socket closed");
    expect(moderator.closed!.code).toBe(CloseCode.Forbidden);
  });
});
