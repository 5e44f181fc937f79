// Sign-in hardening inside workerd: rotation and revocation of sign-ins, token attacks, brute-force
// delay and lockout (per account+IP, per IP, never locking the owner out on a known device), TOTP
// enrolment and sign-in with replay refused and attempts capped, recovery codes, MFA skip attempts,
// and one-time websocket tickets.
import { env, SELF } from "cloudflare:test";
import { SignJWT, UnsecuredJWT, decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { flushFailureTally } from "./auth/failure-tally-store.ts";
import { totpAt } from "./auth/totp.ts";
import { browser } from "./test/auth-client.ts";
import { api, ORIGIN, seedUser, sessionCookieOf } from "./test/harness.ts";

const SECRET = new TextEncoder().encode("test-user-token-secret-0123456789abcdef");

const sidOf = (cookie: string) => decodeJwt(cookie.split("=")[1]!).sid as string;

async function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}, key: Uint8Array = SECRET) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "psm-user+jwt", ...header });
  return `__Host-psm_session=${await jwt.sign(key)}`;
}

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

describe("sign-in sessions", () => {
  it("rotates the sign-in at each login and revokes it at logout", async () => {
    const name = unique("rot");
    await seedUser(name, "rot-password-1", ["requester"]);
    const b = browser("192.0.2.10");
    expect((await b.login(name, "rot-password-1")).status).toBe(200);
    const first = b.jar.session!;
    expect((await b.login(name, "rot-password-1")).status).toBe(200);
    const second = b.jar.session!;
    expect(sidOf(first)).not.toBe(sidOf(second));
    // The first sign-in was replaced: its cookie no longer works, even though its JWT is still valid.
    expect((await b.send("/api/me", { cookie: first })).status).toBe(401);
    expect((await b.send("/api/me", { cookie: second })).status).toBe(200);
    expect((await b.send("/api/logout", { body: {} })).status).toBe(200);
    expect((await b.send("/api/me", { cookie: second })).status).toBe(401);
  });

  it("a password change revokes every other sign-in and rotates this one", async () => {
    const name = unique("pwc");
    await seedUser(name, "pwc-password-1", ["requester"]);
    const laptop = browser("192.0.2.11");
    const phone = browser("192.0.2.12");
    await laptop.login(name, "pwc-password-1");
    await phone.login(name, "pwc-password-1");
    const before = laptop.jar.session!;
    const res = await laptop.send("/api/me/password", {
      body: { current: "pwc-password-1", next: "pwc-password-2-long" },
    });
    expect(res.status).toBe(200);
    expect((await phone.send("/api/me")).status).toBe(401);
    expect((await laptop.send("/api/me", { cookie: before })).status).toBe(401);
    expect((await laptop.send("/api/me")).status).toBe(200);
    expect((await phone.login(name, "pwc-password-1")).status).toBe(401);
    expect((await phone.login(name, "pwc-password-2-long")).status).toBe(200);
  });

  it("a disabled user's sign-ins stop working at once", async () => {
    const name = unique("dis");
    const id = await seedUser(name, "dis-password-1", ["requester"]);
    const b = browser("192.0.2.13");
    await b.login(name, "dis-password-1");
    await env.DB.prepare("UPDATE users SET disabled = 1 WHERE id = ?").bind(id).run();
    expect((await b.send("/api/me")).status).toBe(401);
  });
});

describe("token attacks", () => {
  async function signedIn() {
    const name = unique("tok");
    const id = await seedUser(name, "tok-password-1", ["requester"]);
    const b = browser("192.0.2.20");
    await b.login(name, "tok-password-1");
    const claims = decodeJwt(b.jar.session!.split("=")[1]!);
    const now = Math.floor(Date.now() / 1000);
    const good = { sub: id, sid: claims.sid, stg: "full", iss: "psm-edge", aud: "psm-web", iat: now, exp: now + 600 };
    return { b, id, good };
  }

  it("accepts a well-formed forged-with-the-right-key token (the control), then refuses each defect", async () => {
    const { b, good } = await signedIn();
    expect((await b.send("/api/me", { cookie: await forge(good) })).status).toBe(200);
    const cases: [string, string][] = [
      ["alg none", `__Host-psm_session=${new UnsecuredJWT(good).encode()}`],
      [
        "alg none with typ",
        `__Host-psm_session=${btoa(JSON.stringify({ alg: "none", typ: "psm-user+jwt" })).replace(/=+$/, "")}.${btoa(JSON.stringify(good)).replace(/=+$/, "")}.`,
      ],
      ["wrong key", await forge(good, {}, new TextEncoder().encode("another-secret-0123456789abcdef0000"))],
      ["expired", await forge({ ...good, iat: good.iat - 3600, exp: good.iat - 60 })],
      ["missing sid", await forge({ ...good, sid: undefined })],
      ["missing exp", await forge({ ...good, exp: undefined })],
      ["missing sub", await forge({ ...good, sub: undefined })],
      ["wrong typ (grant)", await forge(good, { typ: "psm-grant+jwt" })],
      ["wrong typ (connector)", await forge(good, { typ: "psm-connector+jwt" })],
      ["wrong aud", await forge({ ...good, aud: "site:x" })],
      ["connector aud", await forge({ ...good, aud: "psm-edge" })],
      ["wrong iss", await forge({ ...good, iss: "someone-else" })],
      ["other user's sid", await forge({ ...good, sub: crypto.randomUUID() })],
      ["unknown sid", await forge({ ...good, sid: crypto.randomUUID() })],
    ];
    for (const [what, cookie] of cases) {
      const res = await b.send("/api/me", { cookie });
      expect(res.status, what).toBe(401);
    }
  });

  it("refuses an HS256 token keyed with the edge's public key, as a user cookie and as a connector token", async () => {
    const { b, good } = await signedIn();
    const edgeKey = JSON.parse(env.EDGE_SIGNING_KEY) as Record<string, string>;
    const publicJwk = JSON.stringify({ kty: edgeKey.kty, crv: edgeKey.crv, x: edgeKey.x });
    const withPublic = await forge(good, {}, new TextEncoder().encode(publicJwk));
    expect((await b.send("/api/me", { cookie: withPublic })).status).toBe(401);
    const connectorLike = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "psm-connector+jwt" })
      .setIssuer("c1")
      .setSubject("c1")
      .setAudience("psm-edge")
      .setIssuedAt()
      .setExpirationTime("60s")
      .sign(new TextEncoder().encode(publicJwk));
    const res = await SELF.fetch(`${ORIGIN}/connector/control`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${connectorLike}` },
    });
    expect(res.status).toBe(401);
    // And a user cookie is no connector token.
    const asBearer = await SELF.fetch(`${ORIGIN}/connector/control`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${b.jar.session!.split("=")[1]}` },
    });
    expect(asBearer.status).toBe(401);
  });

  it("refuses a pending (pre-MFA) sign-in's token relabelled as full", async () => {
    const name = unique("stg");
    const id = await seedUser(name, "stg-password-1", ["requester"]);
    await enrolTotpDirect(id);
    const b = browser("192.0.2.21");
    const res = await b.login(name, "stg-password-1");
    expect(await res.json()).toMatchObject({ stage: "mfa" });
    const claims = decodeJwt(b.jar.session!.split("=")[1]!);
    expect((await b.send("/api/me", { cookie: await forge({ ...claims, stg: "full" }) })).status).toBe(401);
  });

  it("refuses a token after logout", async () => {
    const { b } = await signedIn();
    const cookie = b.jar.session!;
    await b.send("/api/logout", { body: {} });
    expect((await b.send("/api/me", { cookie })).status).toBe(401);
    expect((await b.send("/api/catalog", { cookie })).status).toBe(401);
  });
});

/** Enrols TOTP through the API; returns the secret and the recovery codes. */
async function enrolTotp(b: ReturnType<typeof browser>) {
  const enrol = await b.send("/api/mfa/totp/enrol", { body: {} });
  expect(enrol.status).toBe(200);
  const { secret, uri } = (await enrol.json()) as { secret: string; uri: string };
  expect(uri).toContain(`secret=${secret}`);
  const confirm = await b.send("/api/mfa/totp/confirm", { body: { code: totpAt(secret, Date.now()) } });
  expect(confirm.status).toBe(200);
  const { recoveryCodes } = (await confirm.json()) as { recoveryCodes: string[] };
  return { secret, recoveryCodes };
}

/** Seeds a confirmed TOTP factor straight into D1 through a throwaway sign-in. */
async function enrolTotpDirect(userId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT username FROM users WHERE id = ?")
    .bind(userId)
    .first<{ username: string }>();
  await env.DB.prepare("UPDATE users SET password_hash = password_hash WHERE id = ?").bind(userId).run();
  const b = browser(`198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`);
  // The seeded password of every user in this file ends with -password-1.
  const prefix = row!.username.replace(/[0-9a-f]{8}$/, "");
  expect((await b.login(row!.username, `${prefix}-password-1`)).status).toBe(200);
  const { secret } = await enrolTotp(b);
  // Used steps are remembered: let later tests use the current code again by rewinding last_step.
  await env.DB.prepare("UPDATE totp_factors SET last_step = 0 WHERE user_id = ?").bind(userId).run();
  return secret;
}

describe("TOTP", () => {
  it("enrols, then sign-in needs the code; a code is used once; recovery codes work once", async () => {
    const name = unique("totp");
    await seedUser(name, "totp-password-1", ["requester"]);
    const b = browser("192.0.2.30");
    await b.login(name, "totp-password-1");
    const { secret, recoveryCodes } = await enrolTotp(b);
    expect(recoveryCodes).toHaveLength(10);
    const stored = await env.DB.prepare("SELECT code_hash FROM recovery_codes").all<{ code_hash: string }>();
    expect(JSON.stringify(stored.results)).not.toContain(recoveryCodes[0]);
    const totpRow = await env.DB.prepare("SELECT secret_enc FROM totp_factors").all<{ secret_enc: string }>();
    expect(JSON.stringify(totpRow.results)).not.toContain(secret);

    const other = browser("192.0.2.31");
    const login = await other.login(name, "totp-password-1");
    expect(await login.json()).toEqual({ stage: "mfa", methods: ["totp", "recovery", "push"] });
    // The code used to confirm enrolment is spent: it cannot complete a sign-in.
    const spent = await other.send("/api/mfa/totp/verify", { body: { code: totpAt(secret, Date.now()) } });
    expect(spent.status).toBe(401);
    const next = totpAt(secret, Date.now() + 30_000);
    const pending = other.jar.session!;
    expect((await other.send("/api/mfa/totp/verify", { body: { code: next } })).status).toBe(200);
    expect(sidOf(other.jar.session!)).not.toBe(sidOf(pending));
    expect((await other.send("/api/me", { cookie: pending })).status).toBe(401);
    expect((await other.send("/api/me")).status).toBe(200);

    // Replay of the same code on another pending sign-in: refused.
    const third = browser("192.0.2.32");
    await third.login(name, "totp-password-1");
    expect((await third.send("/api/mfa/totp/verify", { body: { code: next } })).status).toBe(401);
    // A recovery code works once.
    expect((await third.send("/api/mfa/recovery", { body: { code: recoveryCodes[0]!.toUpperCase() } })).status).toBe(
      200,
    );
    const fourth = browser("192.0.2.33");
    await fourth.login(name, "totp-password-1");
    expect((await fourth.send("/api/mfa/recovery", { body: { code: recoveryCodes[0]! } })).status).toBe(401);
  });

  it("caps wrong codes per sign-in: the pending sign-in ends", async () => {
    const name = unique("cap");
    const id = await seedUser(name, "cap-password-1", ["requester"]);
    const secret = await enrolTotpDirect(id);
    const b = browser("192.0.2.34");
    await b.login(name, "cap-password-1");
    const wrong = totpAt(secret, Date.now()) === "000000" ? "111111" : "000000";
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      // Skip the progressive delay: the cap is what is tested here.
      await env.DB.prepare("DELETE FROM auth_throttle").run();
      statuses.push((await b.send("/api/mfa/totp/verify", { body: { code: wrong } })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    // The right code no longer helps this sign-in: it ended after 5 wrong answers.
    await env.DB.prepare("DELETE FROM auth_throttle").run();
    expect((await b.send("/api/mfa/totp/verify", { body: { code: totpAt(secret, Date.now()) } })).status).toBe(401);
    const failures = await env.DB.prepare(
      "SELECT count(*) AS n FROM auth_sessions WHERE user_id = ? AND stage = 'mfa' AND revoked_at IS NOT NULL",
    )
      .bind(id)
      .first<{ n: number }>();
    expect(failures!.n).toBeGreaterThanOrEqual(1);
  });
});

it("caps wrong codes at step-up too: a full sign-in that keeps guessing is ended", async () => {
  const name = unique("capf");
  await seedUser(name, "capf-password-1", ["requester"]);
  const b = browser("192.0.2.35");
  await b.login(name, "capf-password-1");
  const { secret } = await enrolTotp(b);
  const wrong = totpAt(secret, Date.now()) === "000000" ? "111111" : "000000";
  // Signed in fully, a wrong code is "not accepted" and the sign-in stands (a 401 would send the page to the
  // sign-in screen); the last allowed one ends the sign-in, and that is a 401.
  for (let i = 0; i < 5; i++) {
    await env.DB.prepare("DELETE FROM auth_throttle").run();
    const res = await b.send("/api/mfa/totp/verify", { body: { code: wrong } });
    if (i < 4) {
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("code_not_accepted");
      expect((await b.send("/api/me")).status).toBe(200);
    } else expect(res.status).toBe(401);
  }
  expect((await b.send("/api/me")).status).toBe(401);
});

describe("MFA skip attempts", () => {
  it("a pending sign-in reaches no post-MFA route", async () => {
    const name = unique("skip");
    const id = await seedUser(name, "skip-password-1", ["requester", "admin", "auditor"]);
    await enrolTotpDirect(id);
    const b = browser("192.0.2.40");
    await b.login(name, "skip-password-1");
    for (const [method, path, body] of [
      ["GET", "/api/me", undefined],
      ["GET", "/api/catalog", undefined],
      ["GET", "/api/checkouts", undefined],
      ["GET", "/api/users", undefined],
      ["GET", "/api/audit", undefined],
      ["GET", "/api/mfa", undefined],
      ["POST", "/api/mfa/totp/enrol", {}],
      ["POST", "/api/mfa/webauthn/register/options", {}],
      ["POST", "/api/sessions", { checkoutId: "x" }],
      ["POST", "/api/me/password", { current: "skip-password-1", next: "another-password-1" }],
    ] as const) {
      const res = await b.send(path, { method, body });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it("a failed login followed by another user's login gives no one the other's sign-in", async () => {
    const victim = unique("vic");
    const victimId = await seedUser(victim, "vic-password-1", ["requester", "admin"]);
    const victimSecret = await enrolTotpDirect(victimId);
    const attacker = unique("att");
    const attackerId = await seedUser(attacker, "att-password-1", ["requester"]);
    const attackerSecret = await enrolTotpDirect(attackerId);
    const b = browser("192.0.2.41");
    // A wrong password for the victim, then the attacker's own password: the pending sign-in is the attacker's.
    expect((await b.login(victim, "wrong-password")).status).toBe(401);
    expect((await b.login(attacker, "att-password-1")).status).toBe(200);
    // The victim's code is checked against the attacker's secret and refused.
    expect((await b.send("/api/mfa/totp/verify", { body: { code: totpAt(victimSecret, Date.now()) } })).status).toBe(
      401,
    );
    expect((await b.send("/api/mfa/totp/verify", { body: { code: totpAt(attackerSecret, Date.now()) } })).status).toBe(
      200,
    );
    const me = (await (await b.send("/api/me")).json()) as { id: string };
    expect(me.id).toBe(attackerId);
    // The other way round: the victim's password and then the attacker's login replace the pending sign-in.
    const c = browser("192.0.2.42");
    expect((await c.login(victim, "vic-password-1")).status).toBe(200);
    const victimPending = c.jar.session!;
    expect((await c.login(attacker, "att-password-1")).status).toBe(200);
    expect(
      (
        await c.send("/api/mfa/totp/verify", {
          cookie: victimPending,
          body: { code: totpAt(victimSecret, Date.now() + 30_000) },
        })
      ).status,
    ).toBe(401);
  });
});

describe("brute force", () => {
  it("delays then locks an account from one IP, audits it, and leaves the owner's known device alone", async () => {
    const name = unique("bf");
    const id = await seedUser(name, "bf-password-1", ["requester"]);
    const owner = browser("203.0.113.5");
    expect((await owner.login(name, "bf-password-1")).status).toBe(200); // a known device now
    await owner.send("/api/logout", { body: {} });

    const attacker = browser("198.51.100.66");
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await attacker.login(name, `guess-${i}`)).status);
      // Jump past the delay so the lockout count is reached; the delay itself is checked below.
      await env.DB.prepare(
        "UPDATE auth_throttle SET last_failure_at = last_failure_at - 600000 WHERE key LIKE 'acct%'",
      ).run();
    }
    // 429 appears once delays apply: the attempt is refused before the password is checked.
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    const locked = await attacker.login(name, "bf-password-1");
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await locked.json()).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });

    // The owner, on the device they used before, from another address, still gets in.
    expect((await owner.login(name, "bf-password-1")).status).toBe(200);
    // A new device elsewhere faces only the account-wide delay, never the lock.
    await env.DB.prepare("UPDATE auth_throttle SET last_failure_at = last_failure_at - 3600000 + 1000 WHERE key = ?")
      .bind(`acct:${id}`)
      .run();
    const fresh = browser("203.0.113.77");
    expect((await fresh.login(name, "bf-password-1")).status).toBe(200);

    // Failed and refused logins reach the ledger counted per minute, at the sweep after the minute closes.
    await flushFailureTally(env, Date.now() + 60_000);
    const entries = await env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global")).query({ userId: id, limit: 100 });
    const counted = (action: string) =>
      (entries as { action: string; data: { count?: number } }[])
        .filter((e) => e.action === action)
        .reduce((n, e) => n + (e.data.count ?? 0), 0);
    expect(counted("auth.login_failed")).toBeGreaterThanOrEqual(3);
    expect(counted("auth.locked_out")).toBeGreaterThan(0);
  });

  it("a second wrong password in a row is delayed (progressive), not merely counted", async () => {
    const name = unique("pd");
    await seedUser(name, "pd-password-1", ["requester"]);
    const b = browser("198.51.100.70");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await b.login(name, `guess-${i}`)).status);
    // Three free, then the fourth failure sets a delay: the fifth attempt at once is refused.
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });

  it("counts CF-Connecting-IP only: X-Forwarded-For does not move the attacker to a fresh key", async () => {
    const name = unique("xff");
    await seedUser(name, "xff-password-1", ["requester"]);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await SELF.fetch(`${ORIGIN}/api/login`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "CF-Connecting-IP": "198.51.100.90",
          "X-Forwarded-For": `10.0.0.${i}`,
        },
        body: JSON.stringify({ username: name, password: `guess-${i}` }),
      });
      statuses.push(res.status);
    }
    expect(statuses.slice(4)).toEqual([429, 429]);
  });

  it("unknown usernames are throttled the same as real ones", async () => {
    const b = browser("198.51.100.91");
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await b.login("no-such-user", `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });
});

describe("one-time websocket tickets", () => {
  it("a ticket opens its socket once; a second use, another session's socket, or after logout: refused", async () => {
    const name = unique("tkt");
    const id = await seedUser(name, "tkt-password-1", ["requester"]);
    const b = browser("192.0.2.50");
    await b.login(name, "tkt-password-1");
    const sessionId = crypto.randomUUID();
    // A session row of this user (no live room is needed to test the gate: the upgrade reaches the route).
    const ticketFor = async (socket: "ws" | "watch", sid = sessionId) =>
      ((await (await b.send(`/api/sessions/${sid}/ticket`, { body: { socket } })).json()) as { ticket: string }).ticket;
    const upgrade = (path: string) =>
      SELF.fetch(`${ORIGIN}${path}`, {
        headers: { Upgrade: "websocket", Origin: ORIGIN, "CF-Connecting-IP": "192.0.2.50" },
      });
    const ticket = await ticketFor("ws");
    // First use passes the gate (then 404: no such session), second use is refused at the gate (401).
    expect((await upgrade(`/api/sessions/${sessionId}/ws?ticket=${ticket}`)).status).toBe(404);
    expect((await upgrade(`/api/sessions/${sessionId}/ws?ticket=${ticket}`)).status).toBe(401);
    const other = await ticketFor("ws");
    expect((await upgrade(`/api/sessions/${crypto.randomUUID()}/ws?ticket=${other}`)).status).toBe(401);
    const watch = await ticketFor("watch");
    expect((await upgrade(`/api/sessions/${sessionId}/ws?ticket=${watch}`)).status).toBe(401);
    const afterLogout = await ticketFor("ws");
    await b.send("/api/logout", { body: {} });
    expect((await upgrade(`/api/sessions/${sessionId}/ws?ticket=${afterLogout}`)).status).toBe(401);
    const stored = await env.DB.prepare("SELECT ticket_hash FROM socket_tickets WHERE user_id = ?").bind(id).all();
    expect(JSON.stringify(stored.results)).not.toContain(ticket);
  });
});

it("login bodies never echo the password and sessions cookies are HttpOnly + SameSite=Strict", async () => {
  const name = unique("ck");
  await seedUser(name, "ck-password-1", ["requester"]);
  const res = await SELF.fetch(`${ORIGIN}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "CF-Connecting-IP": "192.0.2.60" },
    body: JSON.stringify({ username: name, password: "ck-password-1" }),
  });
  const line = res.headers.getSetCookie().find((l) => l.startsWith("__Host-psm_session="))!;
  expect(line).toMatch(/HttpOnly/);
  expect(line).toMatch(/SameSite=Strict/);
  expect(line).toMatch(/Max-Age=900/);
  expect(sessionCookieOf(res)).toBeDefined();
  expect(await res.text()).not.toContain("ck-password-1");
  void api;
});

it("the minute sweep purges expired sign-ins, challenges, tickets and idle counters, and keeps live ones", async () => {
  const { purgeAuth } = await import("./auth/purge.ts");
  const now = Date.now();
  const day = 24 * 60 * 60_000;
  const user = await seedUser(unique("pg"), "pg-password-1", ["requester"]);
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO auth_sessions (id, user_id, stage, created_at, expires_at) VALUES ('old-s', ?, 'full', 0, ?)",
    ).bind(user, now - 2 * day),
    env.DB.prepare(
      "INSERT INTO auth_sessions (id, user_id, stage, created_at, expires_at) VALUES ('live-s', ?, 'full', 0, ?)",
    ).bind(user, now + day),
    env.DB.prepare(
      "INSERT INTO auth_challenges (id, kind, challenge, created_at, expires_at) VALUES ('old-c', 'push', '1', 0, ?)",
    ).bind(now - 2 * day),
    env.DB.prepare(
      "INSERT INTO socket_tickets (ticket_hash, user_id, auth_session_id, target, expires_at) VALUES ('old-t', ?, 'x', 'ws:x', ?)",
    ).bind(user, now - 120_000),
    // Idle past the longest forget time (a day: the account-wide second-factor key).
    env.DB.prepare("INSERT INTO auth_throttle (key, failures, last_failure_at) VALUES ('old-k', 3, ?)").bind(
      now - 2 * day,
    ),
    env.DB.prepare(
      "INSERT INTO auth_throttle (key, failures, last_failure_at, locked_until) VALUES ('locked-k', 30, ?, ?)",
    ).bind(now - 2 * 60 * 60_000, now + 60_000),
  ]);
  await purgeAuth(env, now);
  const ids = async (sql: string) => (await env.DB.prepare(sql).all<{ id: string }>()).results.map((r) => r.id);
  expect(await ids("SELECT id FROM auth_sessions WHERE id IN ('old-s', 'live-s')")).toEqual(["live-s"]);
  expect(await ids("SELECT id FROM auth_challenges WHERE id = 'old-c'")).toEqual([]);
  expect(await ids("SELECT ticket_hash AS id FROM socket_tickets WHERE ticket_hash = 'old-t'")).toEqual([]);
  expect(await ids("SELECT key AS id FROM auth_throttle WHERE key IN ('old-k', 'locked-k')")).toEqual(["locked-k"]);
});
