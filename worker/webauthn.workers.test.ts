// WebAuthn inside workerd against a software authenticator: several keys per user, sign-in with each,
// rp id and origin checked, a challenge works once, a counter that does not move forward is refused.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WebAuthnKeyRegistered } from "../protocol/index.ts";
import { type Browser, browser } from "./test/auth-client.ts";
import { ORIGIN, seedUser } from "./test/harness.ts";
import { SoftAuthenticator } from "./test/soft-authenticator.ts";

type RegOptions = { challenge: string; rp: { id: string }; excludeCredentials: { id: string }[] };
type AuthOptions = { challenge: string; rpId: string; allowCredentials: { id: string }[] };

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

async function register(b: Browser, key: SoftAuthenticator, name: string, origin = ORIGIN) {
  const options = await b.json<RegOptions>("/api/mfa/webauthn/register/options", { body: {} });
  return b.send("/api/mfa/webauthn/register", { body: { name, response: await key.register(options, origin) } });
}

async function signInWithKey(name: string, password: string, ip: string) {
  const b = browser(ip);
  const res = await b.login(name, password);
  expect(await res.json()).toMatchObject({ stage: "mfa", methods: expect.arrayContaining(["webauthn"]) });
  const options = await b.json<AuthOptions>("/api/mfa/webauthn/authenticate/options", { body: {} });
  return { b, options };
}

describe("WebAuthn", () => {
  it("registers two keys, signs in with either; a pending sign-in cannot register", async () => {
    const name = unique("wa");
    await seedUser(name, "wa-password-1", ["requester"]);
    const b = browser("192.0.2.70");
    await b.login(name, "wa-password-1");
    const first = await SoftAuthenticator.create();
    const second = await SoftAuthenticator.create();
    expect((await register(b, first, "YubiKey")).status).toBe(200);
    // The second registration is a factor change: it needs the first key, freshly (rotation happened above, MFA time set).
    const options = await b.json<RegOptions>("/api/mfa/webauthn/register/options", { body: {} });
    expect(options.excludeCredentials.map((c) => c.id)).toEqual([first.id]);
    const res = await b.send("/api/mfa/webauthn/register", {
      body: { name: "Laptop", response: await second.register(options, ORIGIN) },
    });
    expect(res.status).toBe(200);
    // The answer the route declares (WebAuthnKeyRegistered), exactly: the new key's credential id.
    expect(WebAuthnKeyRegistered.strict().parse(await res.json())).toEqual({ ok: true, id: second.id });
    const status = await b.json<{ webauthn: { name: string }[] }>("/api/mfa");
    expect(status.webauthn.map((k) => k.name)).toEqual(["YubiKey", "Laptop"]);

    for (const key of [first, second]) {
      const { b: other, options: auth } = await signInWithKey(name, "wa-password-1", "192.0.2.71");
      expect(auth.allowCredentials.map((c) => c.id).sort()).toEqual([first.id, second.id].sort());
      expect(auth.rpId).toBe("psm.test");
      const ok = await other.send("/api/mfa/webauthn/authenticate", {
        body: { response: await key.authenticate(auth, ORIGIN) },
      });
      expect(ok.status).toBe(200);
      expect((await other.send("/api/me")).status).toBe(200);
      // A pending sign-in is not allowed to add keys.
      const pending = browser("192.0.2.72");
      await pending.login(name, "wa-password-1");
      expect((await pending.send("/api/mfa/webauthn/register/options", { body: {} })).status).toBe(401);
    }
    const stored = await env.DB.prepare("SELECT counter FROM webauthn_credentials WHERE id = ?")
      .bind(first.id)
      .first<{ counter: number }>();
    expect(stored!.counter).toBe(1);
  });

  it("refuses a reused challenge and a counter that does not move forward", async () => {
    const name = unique("wc");
    await seedUser(name, "wc-password-1", ["requester"]);
    const b = browser("192.0.2.73");
    await b.login(name, "wc-password-1");
    const key = await SoftAuthenticator.create();
    expect((await register(b, key, "key")).status).toBe(200);

    const one = await signInWithKey(name, "wc-password-1", "192.0.2.74");
    const assertion = await key.authenticate(one.options, ORIGIN);
    expect((await one.b.send("/api/mfa/webauthn/authenticate", { body: { response: assertion } })).status).toBe(200);
    // The same assertion again, on a new pending sign-in that asked for its own challenge: refused.
    const two = await signInWithKey(name, "wc-password-1", "192.0.2.75");
    expect((await two.b.send("/api/mfa/webauthn/authenticate", { body: { response: assertion } })).status).toBe(401);
    // That sign-in's challenge was spent by the failed try: a fresh assertion needs fresh options.
    expect(
      (
        await two.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await key.authenticate(two.options, ORIGIN) },
        })
      ).status,
    ).toBe(401);
    const again = await two.b.json<AuthOptions>("/api/mfa/webauthn/authenticate/options", { body: {} });
    // Counter regression: the authenticator reports 1 after the edge saw a higher one.
    expect(
      (
        await two.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await key.authenticate(again, ORIGIN, { counter: 1 }) },
        })
      ).status,
    ).toBe(401);
    const third = await two.b.json<AuthOptions>("/api/mfa/webauthn/authenticate/options", { body: {} });
    expect(
      (
        await two.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await key.authenticate(third, ORIGIN, { counter: 50 }) },
        })
      ).status,
    ).toBe(200);
  });

  it("checks the rp id and the origin, at registration and at sign-in", async () => {
    const name = unique("wr");
    await seedUser(name, "wr-password-1", ["requester"]);
    const b = browser("192.0.2.76");
    await b.login(name, "wr-password-1");
    const key = await SoftAuthenticator.create();
    expect((await register(b, key, "phished", "http://evil.test")).status).toBe(400);
    const rogue = await SoftAuthenticator.create();
    const opts = await b.json<RegOptions>("/api/mfa/webauthn/register/options", { body: {} });
    expect(
      (
        await b.send("/api/mfa/webauthn/register", {
          body: { name: "x", response: await rogue.register(opts, ORIGIN, "evil.test") },
        })
      ).status,
    ).toBe(400);
    expect((await register(b, key, "real")).status).toBe(200);

    const wrongOrigin = await signInWithKey(name, "wr-password-1", "192.0.2.77");
    expect(
      (
        await wrongOrigin.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await key.authenticate(wrongOrigin.options, "http://evil.test") },
        })
      ).status,
    ).toBe(401);
    const wrongRp = await signInWithKey(name, "wr-password-1", "192.0.2.78");
    expect(
      (
        await wrongRp.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await key.authenticate(wrongRp.options, ORIGIN, { rpId: "evil.test" }) },
        })
      ).status,
    ).toBe(401);
    // Another user's key is not accepted for this user.
    const other = unique("wo");
    await seedUser(other, "wo-password-1", ["requester"]);
    const ob = browser("192.0.2.79");
    await ob.login(other, "wo-password-1");
    const otherKey = await SoftAuthenticator.create();
    expect((await register(ob, otherKey, "theirs")).status).toBe(200);
    const mine = await signInWithKey(name, "wr-password-1", "192.0.2.80");
    expect(
      (
        await mine.b.send("/api/mfa/webauthn/authenticate", {
          body: { response: await otherKey.authenticate(mine.options, ORIGIN) },
        })
      ).status,
    ).toBe(401);
  });
});
