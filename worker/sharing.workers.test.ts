// Shared sessions through the Worker and the room (docs/governance.md "Shared sessions"): the session's user invites
// a person entitled to the same credential (or a helper named by the policy); they accept after their own step-up and
// join with input, which reaches the connector attributed (a `typing:` marker first) while everyone is told who
// writes and who types. Attacks: inviting into another's session, inviting oneself (any account of the person), the
// unentitled, accepting another's invitation, joining without accepting or under another sign-in, after expiry,
// after the invitation was taken back, and after losing the entitlement; a policy without sharing invites nobody.
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeData, encodeMessage, PROTOCOL_VERSION } from "../protocol/index.ts";
import { totpAt } from "./auth/totp.ts";
import { browser } from "./test/auth-client.ts";
import {
  api,
  auditLog,
  type Client,
  hasText,
  liveSession,
  login,
  ORIGIN,
  openSocket,
  seedGroup,
  seedUser,
} from "./test/harness.ts";

async function person(prefix: string, roles: string[] = ["requester"]) {
  const name = `${prefix}-${crypto.randomUUID().slice(0, 6)}`;
  const id = await seedUser(name, "share-password-1", roles);
  return { id, name, cookie: await login(name, "share-password-1") };
}

const group = (...members: string[]) => seedGroup("helpers", ...members);

const invite = (cookie: string, sessionId: string, username: string, minutes?: number) =>
  api(`/api/sessions/${sessionId}/invitations`, {
    method: "POST",
    cookie,
    body: { username, ...(minutes ? { minutes } : {}) },
  });
const accept = (cookie: string, id: string) => api(`/api/invitations/${id}/accept`, { method: "POST", cookie });
const idOf = async (username: string) =>
  (await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(username).first<{ id: string }>())!.id;
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/** The invitee's join socket, opened with the cookie (the same sign-in that accepted, unless said otherwise). */
async function join(cookie: string, sessionId: string): Promise<Client> {
  const socket = await openSocket(`/api/sessions/${sessionId}/join`, { Origin: ORIGIN, cookie });
  socket.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
  return socket;
}
const refusedJoin = async (cookie: string, sessionId: string) =>
  (
    await SELF.fetch(`${ORIGIN}/api/sessions/${sessionId}/join`, {
      headers: { Upgrade: "websocket", Origin: ORIGIN, cookie },
    })
  ).status;

/** A shared live session and an entitled colleague invited and accepted. */
async function shared(policy: Record<string, unknown> = {}) {
  const live = await liveSession({ session_sharing: 1, ...policy });
  const bob = await person("bob");
  await live.site.entitle(bob.id);
  return { live, bob };
}

describe("shared sessions", { timeout: 30_000 }, () => {
  it("an entitled colleague is invited, accepts and types; the connector gets it attributed, everyone sees who", async () => {
    const { live, bob } = await shared();
    const res = await invite(live.cookie, live.id, bob.name);
    expect(res.status).toBe(201);
    const invitation = (await res.json()) as { id: string; state: string; basis: string };
    expect(invitation).toMatchObject({ state: "pending", basis: "entitled" });

    const mine = (await (await api("/api/invitations", { cookie: bob.cookie })).json()) as { id: string }[];
    expect(mine).toMatchObject([{ id: invitation.id, sessionId: live.id, from: live.username, state: "pending" }]);
    expect(await refusedJoin(bob.cookie, live.id)).toBe(403); // not accepted yet
    expect((await accept(bob.cookie, invitation.id)).status).toBe(200);

    const socket = await join(bob.cookie, live.id);
    await live.user.next(hasText("participants"), "the user is told bob joined");
    expect(live.user.texts.filter((m) => (m as { type: string }).type === "participants").at(-1)).toEqual({
      type: "participants",
      user: live.username,
      writers: [bob.name],
    });
    socket.ws.send(encodeData(new TextEncoder().encode("whoami\r")));
    await live.connector.next(hasText("marker", { label: `typing: ${bob.name}` }), "the authorship marker");
    await live.user.next(hasText("typing", { name: bob.name }), "the user sees bob typing");
    for (let i = 0; i < 100 && live.connector.binaries.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(new TextDecoder().decode(live.connector.binaries.at(-1)!.subarray(1))).toBe("whoami\r");

    const sharing = (await (await api(`/api/sessions/${live.id}/invitations`, { cookie: live.cookie })).json()) as {
      allowed: boolean;
      invitations: { state: string }[];
    };
    expect(sharing).toMatchObject({ allowed: true, invitations: [{ state: "joined" }] });
    const log = (await auditLog()).filter((e) => e.refs.sessionId === live.id);
    for (const action of ["session.invited", "session.invitation_accepted", "session.participant_joined"])
      expect(log.some((e) => e.action === action)).toBe(true);
    expect(
      (log.find((e) => e.action === "session.participant_joined") as { actor?: { name: string } })?.actor?.name,
    ).toBe(bob.name);
  });

  it("attack: nobody but the session's user invites; the user, their second account and the unentitled cannot be invited", async () => {
    const { live, bob } = await shared();
    const carol = await person("carol");
    const alt = await person("alt");
    const userId = await idOf(live.username);
    await live.site.entitle(alt.id);
    await env.DB.prepare("UPDATE users SET person_id = ? WHERE id = ?").bind(userId, alt.id).run();
    // Bob is entitled but it is not his session: not found, whoever he names.
    expect((await invite(bob.cookie, live.id, carol.name)).status).toBe(404);
    // One answer for the user, their other account, the unentitled, an unknown name and a disabled account.
    const disabled = await person("dis");
    await live.site.entitle(disabled.id);
    await env.DB.prepare("UPDATE users SET disabled = 1 WHERE id = ?").bind(disabled.id).run();
    for (const name of [live.username, alt.name, carol.name, "no-such-person", disabled.name]) {
      const res = await invite(live.cookie, live.id, name);
      expect([name, res.status, await errorCode(res)]).toEqual([name, 422, "not_eligible"]);
    }
    expect((await auditLog()).some((e) => e.refs.sessionId === live.id && e.action === "session.invited")).toBe(false);
  });

  it("a helper named by the policy may be invited though not entitled; a policy without sharing invites nobody", async () => {
    const helen = await person("helen");
    const { live } = await shared({ helper_group_id: await group(helen.id) });
    const res = await invite(live.cookie, live.id, helen.name);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ basis: "helper" });

    const closed = await liveSession();
    const colleague = await person("col");
    await closed.site.entitle(colleague.id);
    const off = await invite(closed.cookie, closed.id, colleague.name);
    expect([off.status, await errorCode(off)]).toEqual([403, "sharing_off"]);
    const sharing = await (await api(`/api/sessions/${closed.id}/invitations`, { cookie: closed.cookie })).json();
    expect(sharing).toEqual({ allowed: false, invitations: [] });
  });

  it("attack: another person accepts or joins on bob's invitation; bob joins under another sign-in, or after expiry", async () => {
    const { live, bob } = await shared();
    const carol = await person("carol");
    await live.site.entitle(carol.id);
    const { id } = (await (await invite(live.cookie, live.id, bob.name)).json()) as { id: string };
    expect((await accept(carol.cookie, id)).status).toBe(404);
    expect(await refusedJoin(carol.cookie, live.id)).toBe(403);
    expect((await accept(bob.cookie, id)).status).toBe(200);
    // The accept passed bob's step-up on that sign-in; another sign-in of his must accept again.
    const otherSignIn = await login(bob.name, "share-password-1");
    expect(await refusedJoin(otherSignIn, live.id)).toBe(403);

    // An invitation nobody accepted in time cannot be accepted.
    const dave = await person("dave");
    await live.site.entitle(dave.id);
    const late = (await (await invite(live.cookie, live.id, dave.name, 1)).json()) as { id: string };
    await env.DB.prepare("UPDATE session_invitations SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, late.id)
      .run();
    expect((await accept(dave.cookie, late.id)).status).toBe(404);
    const list = (await (await api(`/api/sessions/${live.id}/invitations`, { cookie: live.cookie })).json()) as {
      invitations: { id: string; state: string }[];
    };
    expect(list.invitations.find((i) => i.id === late.id)?.state).toBe("expired");
  });

  it("taking an invitation back closes the joiner's input socket and stops them rejoining; audited", async () => {
    const { live, bob } = await shared();
    const { id } = (await (await invite(live.cookie, live.id, bob.name)).json()) as { id: string };
    await accept(bob.cookie, id);
    const socket = await join(bob.cookie, live.id);
    await live.user.next(hasText("participants"), "joined");
    const res = await api(`/api/sessions/${live.id}/invitations/${id}`, { method: "DELETE", cookie: live.cookie });
    expect(res.status).toBe(200);
    await socket.next((c) => c.closed !== undefined, "bob's socket closes");
    expect(await refusedJoin(bob.cookie, live.id)).toBe(403);
    expect((await accept(bob.cookie, id)).status).toBe(404);
    await live.user.next(
      (c) =>
        c.texts.some(
          (m) => JSON.stringify(m) === JSON.stringify({ type: "participants", user: live.username, writers: [] }),
        ),
      "the user is told bob left",
    );
    const log = (await auditLog()).filter((e) => e.refs.sessionId === live.id).map((e) => e.action);
    expect(log).toEqual(expect.arrayContaining(["session.invitation_revoked", "session.participant_left"]));
  });

  it("attack: taking the invitation back while the joiner's socket is being opened leaves no input socket", async () => {
    const { live, bob } = await shared();
    const { id } = (await (await invite(live.cookie, live.id, bob.name)).json()) as { id: string };
    await accept(bob.cookie, id);
    const [joined, revoked] = await Promise.all([
      join(bob.cookie, live.id).catch(() => null),
      api(`/api/sessions/${live.id}/invitations/${id}`, { method: "DELETE", cookie: live.cookie }),
    ]);
    expect(revoked.status).toBe(200);
    // Refused at the upgrade, or attached and closed: either way nothing bob types can reach the target.
    if (joined) await joined.next((c) => c.closed !== undefined, "bob's socket closes");
    await new Promise((r) => setTimeout(r, 100));
    expect(live.user.texts.filter((m) => (m as { type: string }).type === "participants").at(-1) ?? null).not.toEqual({
      type: "participants",
      user: live.username,
      writers: [bob.name],
    });
  });

  it("attack: a joiner who loses the entitlement is disconnected at the change and cannot rejoin", async () => {
    const { live, bob } = await shared();
    const { id } = (await (await invite(live.cookie, live.id, bob.name)).json()) as { id: string };
    await accept(bob.cookie, id);
    const socket = await join(bob.cookie, live.id);
    await live.user.next(hasText("participants"), "joined");
    // An admin takes bob out of the group granted the zone (the API's change runs enforceAccess).
    const admin = await person("adm", ["admin"]);
    const userId = await idOf(live.username);
    const res = await api(`/api/groups/${live.site.groupId}/members`, {
      method: "PUT",
      cookie: admin.cookie,
      body: { userIds: [userId] },
    });
    expect(res.status).toBe(200);
    await socket.next((c) => c.closed !== undefined, "bob's socket closes");
    expect(await refusedJoin(bob.cookie, live.id)).toBe(403);
  });

  it("a policy asking for a second factor asks the joiner for their own: none, stale, then fresh", async () => {
    const { live, bob } = await shared();
    // The policy as snapshotted into the session's checkout asks for a second factor at connect.
    await env.DB.prepare(
      "UPDATE checkouts SET policy = json_set(policy, '$.mfaRequired', json('true')) WHERE id = (SELECT checkout_id FROM sessions WHERE id = ?)",
    )
      .bind(live.id)
      .run();
    const { id } = (await (await invite(live.cookie, live.id, bob.name)).json()) as { id: string };
    const b = browser("203.0.113.19");
    expect((await b.login(bob.name, "share-password-1")).status).toBe(200);
    const accepting = () => b.send(`/api/invitations/${id}/accept`, { method: "POST" });
    // No factor enrolled: refused (the step-up cannot be met), and the decision says a factor is wanted.
    const step = await b.json<{ mfa: string | null }>(`/api/invitations/${id}/step-up`);
    expect(step.mfa).toBe("any");
    expect((await accepting()).status).toBe(403);
    // Enrolling proves the factor just now: accepted.
    const { secret } = await b.json<{ secret: string }>("/api/mfa/totp/enrol", { body: {} });
    await b.json("/api/mfa/totp/confirm", { body: { code: totpAt(secret, Date.now()) } });
    expect((await accepting()).status).toBe(200);
    // The factor twenty minutes old: accepting again (a new sign-in would have to) asks for it afresh.
    await env.DB.prepare("UPDATE auth_sessions SET mfa_at = ? WHERE user_id = ? AND revoked_at IS NULL")
      .bind(Date.now() - 20 * 60_000, bob.id)
      .run();
    const stale = await accepting();
    expect([stale.status, await errorCode(stale)]).toEqual([403, "step_up_required"]);
    const log = (await auditLog()).filter(
      (e) => e.action === "auth.step_up" && (e as { actor?: { name: string } }).actor?.name === bob.name,
    );
    expect(log.map((e) => e.data.phase)).toEqual(expect.arrayContaining(["asked", "join"]));
  });
});
