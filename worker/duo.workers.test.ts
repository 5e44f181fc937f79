// Duo Universal Prompt inside workerd against the fake Duo (test/fakes/duo.ts): the Worker's fetch to the
// configured API host is answered by the fake, and the test plays the browser (the redirect to Duo, Duo's
// redirect back to the callback, the page's finish). Sign-in and step-up; a denied push, an expired state, a
// replayed code and state, a wrong aud / iss / nonce / user / key; fail closed and fail open; the settings.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FakeDuo, type IdTokenTamper } from "../test/fakes/duo.ts";
import { type Browser, browser } from "./test/auth-client.ts";
import { ORIGIN, seedUser } from "./test/harness.ts";

const duo = new FakeDuo("api-fake1234.duo.test");
/** Duo cannot be reached at all (DNS, TLS, a dropped connection): the Worker's fetch throws. */
let unreachable = false;
let realFetch: typeof fetch;
let admin: Browser;
let net = 0;
/** Each scenario signs in from its own /24, so the second-factor throttle of one does not slow another. */
const nextIp = () => `10.${++net}.0.7`;
const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

type Started = { next: "redirect"; url: string } | { next: "done"; failOpen: true };
type Settings = { redirectUri: string; health: string | null; enabled: boolean; failMode: string };

async function settings(body: Record<string, unknown>) {
  return admin.send("/api/admin/duo", {
    method: "PUT",
    body: { enabled: true, apiHost: duo.apiHost, clientId: duo.clientId, failMode: "closed", ...body },
  });
}

/** A user whose password sign-in stops at the second factor, offered Duo. */
async function pendingUser(prefix = "duo") {
  const name = unique(prefix);
  await seedUser(name, "duo-password-1", ["requester"]);
  const b = browser(nextIp());
  const res = await b.login(name, "duo-password-1");
  expect(await res.json()).toEqual({ stage: "mfa", methods: ["duo"] });
  return { name, b };
}

/** The page asks to start, the browser goes to Duo, Duo answers and sends it to our callback, the page reads it. */
async function throughDuo(b: Browser, returnTo?: string) {
  const started = await b.json<Started>("/api/mfa/duo/start", { body: returnTo ? { returnTo } : {} });
  if (started.next !== "redirect") throw new Error("expected a redirect to Duo");
  const answer = await duo.authorize(started.url);
  if (!answer.ok) throw new Error(`the fake Duo refused the request: ${answer.error}`);
  // Duo's redirect is a cross-site navigation: no cookie comes with it.
  const callback = await SELF.fetch(answer.location, { redirect: "manual" });
  expect(callback.status).toBe(302);
  const page = new URL(callback.headers.get("location")!, ORIGIN);
  expect(page.hash.startsWith("#/duo?")).toBe(true);
  const params = new URLSearchParams(page.hash.slice("#/duo?".length));
  return { state: params.get("state")!, code: params.get("code")!, claims: answer.claims };
}

const finish = (b: Browser, flow: { state: string; code: string }) =>
  b.send("/api/mfa/duo/finish", { body: { state: flow.state, code: flow.code } });

const signInRow = (userId: string) =>
  env.DB.prepare(
    "SELECT stage, amr, mfa_at FROM auth_sessions WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1",
  )
    .bind(userId)
    .first<{ stage: string; amr: string; mfa_at: number | null }>();
const userIdOf = async (name: string) =>
  (await env.DB.prepare("SELECT id FROM users WHERE username = ?").bind(name).first<{ id: string }>())!.id;

describe("Duo Universal Prompt", () => {
  beforeAll(async () => {
    realFetch = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const request = new Request(input as RequestInfo, init);
      if (new URL(request.url).host !== duo.apiHost) return realFetch(input as RequestInfo, init);
      if (unreachable) throw new TypeError("Network connection lost.");
      return duo.handle(request);
    });
    await seedUser("duo-admin", "duo-password-1", ["admin", "auditor"]);
    admin = browser("192.0.2.200");
    expect((await admin.login("duo-admin", "duo-password-1")).status).toBe(200);
  });
  afterAll(() => vi.restoreAllMocks());

  it("refuses settings Duo does not accept and a new client id without its secret; never shows the secret", async () => {
    // A secret Duo does not know: its health check refuses the client assertion, so nothing is stored.
    const wrong = await settings({ clientSecret: "0".repeat(40) });
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("duo_refused");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM duo_config").first<{ n: number }>()).toEqual({ n: 0 });
    // Without a secret there is nothing to sign with.
    expect((await settings({})).status).toBe(400);
    // Shapes Duo's own clients refuse: a 19-character client id, a URL for a host.
    expect((await settings({ clientSecret: duo.clientSecret, clientId: "DI123" })).status).toBe(400);
    expect((await settings({ clientSecret: duo.clientSecret, apiHost: "https://x.duo.test/" })).status).toBe(400);

    const saved = await settings({ clientSecret: duo.clientSecret });
    expect(saved.status).toBe(200);
    const text = await saved.text();
    expect(text).not.toContain(duo.clientSecret);
    const view = JSON.parse(text) as Settings;
    expect(view).toMatchObject({ enabled: true, failMode: "closed", health: "ok" });
    expect(view.redirectUri).toBe(`${ORIGIN}/api/mfa/duo/callback`);
    duo.redirectUris.add(view.redirectUri);
    // The secret is sealed at rest, and a later save without it keeps it.
    const row = await env.DB.prepare("SELECT secret_enc FROM duo_config").first<{ secret_enc: string }>();
    expect(row!.secret_enc).not.toContain(duo.clientSecret);
    expect((await settings({})).status).toBe(200);
    const read = await admin.send("/api/admin/duo");
    expect(await read.text()).not.toContain(duo.clientSecret);
    // The change is audited with before and after, without the secret.
    const changes =
      await admin.json<{ action: string; target: { id: string }; data: Record<string, unknown> }[]>(
        "/api/audit?limit=50",
      );
    const duoChanges = changes.filter((e) => e.action === "admin.change" && e.target.id === "duo");
    expect(duoChanges.length).toBe(2);
    expect(duoChanges.some((e) => e.data.secretChanged === true && e.data.before === null)).toBe(true);
    expect(JSON.stringify(changes)).not.toContain(duo.clientSecret);
  });

  it("signs in with Duo: the request JWT names the user, state and nonce; the id_token is checked", async () => {
    const { name, b } = await pendingUser();
    expect((await b.send("/api/me")).status).toBe(401);
    const flow = await throughDuo(b);
    expect(flow.claims).toMatchObject({
      response_type: "code",
      scope: "openid",
      client_id: duo.clientId,
      iss: duo.clientId,
      aud: duo.base,
      duo_uname: name,
      redirect_uri: `${ORIGIN}/api/mfa/duo/callback`,
    });
    expect(typeof flow.claims.nonce).toBe("string");
    const res = await finish(b, flow);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ returnTo: null });
    expect((await b.send("/api/me")).status).toBe(200);
    const row = await signInRow(await userIdOf(name));
    expect(row).toMatchObject({ stage: "full" });
    expect(JSON.parse(row!.amr)).toEqual(["pwd", "duo"]);
    expect(row!.mfa_at).not.toBeNull();
    // The Account page is told Duo is on.
    expect(await b.json<{ duo: boolean }>("/api/mfa")).toMatchObject({ duo: true });
  });

  it("refuses a denied push: an id_token with auth_result deny, or an access_denied from the token endpoint", async () => {
    for (const how of ["deny", "access_denied"] as const) {
      const { b } = await pendingUser("deny");
      if (how === "deny") duo.outcome = "deny";
      else duo.tokenError = "access_denied";
      try {
        const flow = await throughDuo(b);
        expect((await finish(b, flow)).status).toBe(401);
      } finally {
        duo.outcome = "allow";
        duo.tokenError = null;
      }
      expect((await b.send("/api/me")).status).toBe(401);
    }
    // Duo's prompt sent the browser back with an error instead of a code: the page is told, nothing is finished.
    const back = await SELF.fetch(`${ORIGIN}/api/mfa/duo/callback?error=access_denied&state=${"a".repeat(40)}`, {
      redirect: "manual",
    });
    expect(back.headers.get("location")).toBe("/#/duo?error=denied");
  });

  it("refuses an expired state, a replayed state and a replayed code", async () => {
    const { b } = await pendingUser("expired");
    const stale = await throughDuo(b);
    // Five minutes later (moved in D1, not waited for): refused, and a fresh start still works.
    await env.DB.prepare("UPDATE duo_states SET expires_at = ? WHERE used_at IS NULL")
      .bind(Date.now() - 1)
      .run();
    expect((await finish(b, stale)).status).toBe(401);
    const fresh = await throughDuo(b);
    expect((await finish(b, fresh)).status).toBe(200);
    // The same callback again (state spent): refused, on a full sign-in as a wrong code.
    expect((await finish(b, fresh)).status).toBe(403);
    // The spent code under a new state of this sign-in: Duo refuses it (invalid_grant), so do we.
    const step = await throughDuo(b);
    const tokensBefore = duo.seen.token;
    expect((await finish(b, { state: step.state, code: fresh.code })).status).toBe(403);
    expect(duo.seen.token).toBe(tokensBefore + 1);
  });

  it("refuses a state started by another sign-in", async () => {
    const { name, b } = await pendingUser("bound");
    const flow = await throughDuo(b);
    // The same user's second pending sign-in (another browser) brings the first one's callback: refused.
    const other = browser(nextIp());
    await other.login(name, "duo-password-1");
    expect((await finish(other, flow)).status).toBe(401);
    // And the state is spent: the first browser cannot use it either.
    expect((await finish(b, flow)).status).toBe(401);
  });

  const tampers: IdTokenTamper[] = [
    "wrong_aud",
    "wrong_iss",
    "wrong_nonce",
    "wrong_user",
    "wrong_key",
    "expired",
    "no_auth_result",
  ];
  it.each(tampers)("refuses an id_token with %s", async (tamper) => {
    const { b } = await pendingUser(tamper.replace("_", ""));
    duo.tamper = tamper;
    try {
      const flow = await throughDuo(b);
      expect((await finish(b, flow)).status).toBe(401);
    } finally {
      duo.tamper = "none";
    }
    expect((await b.send("/api/me")).status).toBe(401);
  });

  it("steps up with Duo on a full sign-in and says where to go back to", async () => {
    const { name, b } = await pendingUser("stepup");
    expect((await finish(b, await throughDuo(b))).status).toBe(200);
    const id = await userIdOf(name);
    const first = (await signInRow(id))!.mfa_at!;
    await env.DB.prepare("UPDATE auth_sessions SET mfa_at = ? WHERE user_id = ?")
      .bind(first - 3_600_000, id)
      .run();
    const flow = await throughDuo(b, "#/checkouts");
    const res = await finish(b, flow);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ returnTo: "#/checkouts" });
    expect((await signInRow(id))!.mfa_at!).toBeGreaterThan(first - 3_600_000);
    const purpose = await env.DB.prepare("SELECT purpose FROM duo_states WHERE user_id = ? ORDER BY created_at")
      .bind(id)
      .all<{ purpose: string }>();
    expect(purpose.results.map((r) => r.purpose)).toEqual(["sign_in", "step_up"]);
  });

  it("fails closed when Duo is down or unreachable: a stable code, the sign-in stays pending", async () => {
    for (const how of ["down", "unreachable"] as const) {
      const { b } = await pendingUser(how);
      if (how === "down") duo.health = "down";
      else unreachable = true;
      try {
        const res = await b.send("/api/mfa/duo/start", { body: {} });
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("duo_unavailable");
      } finally {
        duo.health = "ok";
        unreachable = false;
      }
      expect((await b.send("/api/me")).status).toBe(401);
    }
  });

  it("fails open when set so: the sign-in goes on without a second factor, audited; step-up is not waved through", async () => {
    expect((await settings({ failMode: "open" })).status).toBe(200);
    const { name, b } = await pendingUser("open");
    duo.health = "down";
    try {
      const started = await b.json<Started>("/api/mfa/duo/start", { body: {} });
      expect(started).toEqual({ next: "done", failOpen: true });
      expect((await b.send("/api/me")).status).toBe(200);
      const row = await signInRow(await userIdOf(name));
      expect(JSON.parse(row!.amr)).toEqual(["pwd", "duo_fail_open"]);
      expect(row!.mfa_at).toBeNull();
      // A full sign-in asking for a fresh second factor while Duo is down: refused even failing open.
      const again = await b.send("/api/mfa/duo/start", { body: {} });
      expect(again.status).toBe(503);
      // The audit says the sign-in went through without Duo.
      const entries = await admin.json<{ action: string; data: Record<string, unknown> }[]>(
        `/api/audit?userId=${await userIdOf(name)}&limit=50`,
      );
      expect(entries.some((e) => e.action === "auth.login" && e.data.duoFailOpen === true)).toBe(true);
    } finally {
      duo.health = "ok";
      expect((await settings({ failMode: "closed" })).status).toBe(200);
    }
  });

  it("offers nothing once an admin turns Duo off", async () => {
    expect((await settings({ enabled: false })).status).toBe(200);
    const name = unique("off");
    await seedUser(name, "duo-password-1", ["requester"]);
    const res = await browser(nextIp()).login(name, "duo-password-1");
    expect(await res.json()).toMatchObject({ stage: "full" });
    expect((await settings({})).status).toBe(200);
  });
});
