// The connect gate inside workerd: adaptive step-up decisions reach POST /api/sessions, the master
// password is set on first use (its verifier only), travels sealed to the connector, wrong ones are counted,
// rate-limited and locked, and it is never recorded; approve-by-push
// with number matching. (No connector is online in these tests: a 503 means the gate let the connect through.)
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { compactDecrypt, decodeJwt, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { masterPasswordVerifier } from "../protocol/master-password.ts";
import type { StepUpDecision } from "../protocol/index.ts";
import { sealSecret } from "../keys/seal.ts";
import { totpAt } from "./auth/totp.ts";
import { type Browser, browser } from "./test/auth-client.ts";
import { connectControl, hasText, seedSite, seedUser } from "./test/harness.ts";

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

async function requester(policy: Record<string, unknown>, ip: string) {
  const site = await seedSite(policy);
  const name = unique("su");
  const id = await seedUser(name, "su-password-1", ["requester"]);
  await site.entitle(id);
  const b = browser(ip);
  expect((await b.login(name, "su-password-1")).status).toBe(200);
  const checkout = await b.json<{ results: { checkout: { id: string } }[] }>("/api/checkouts", {
    body: {
      items: [{ serverId: site.serverId, credentialId: site.credentialId, minutes: 30, justification: "step-up test" }],
    },
  });
  return { site, id, name, b, checkoutId: checkout.results[0]!.checkout.id };
}

const connect = (b: Browser, checkoutId: string, masterPasswordSealed?: string) =>
  b.send("/api/sessions", { body: { checkoutId, ...(masterPasswordSealed ? { masterPasswordSealed } : {}) } });

/** Gives the site a real seal key pair (the seeded one is a placeholder); returns its private half. */
async function realSealKey(siteId: string): Promise<JWK> {
  const { privateKey, publicKey } = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  await env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?")
    .bind(JSON.stringify(await exportJWK(publicKey)), siteId)
    .run();
  return exportJWK(privateKey);
}

const open = async (key: JWK, jwe: string) =>
  new TextDecoder().decode((await compactDecrypt(jwe, await importJWK(key, "ECDH-ES+A256KW"))).plaintext);

async function enrolTotp(b: Browser): Promise<string> {
  const { secret } = await b.json<{ secret: string }>("/api/mfa/totp/enrol", { body: {} });
  await b.json("/api/mfa/totp/confirm", { body: { code: totpAt(secret, Date.now()) } });
  return secret;
}

async function audit(userId: string, action: string) {
  const entries = (await env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global")).query({ userId, limit: 200 })) as {
    action: string;
    data: Record<string, unknown>;
  }[];
  return entries.filter((e) => e.action === action);
}

describe("master password at connect", () => {
  it("is asked when policy says so, set on first use as a verifier only, sent sealed, and reaches the connector unopened", async () => {
    const { b, site, id, checkoutId } = await requester({ master_password_required: 1 }, "192.0.2.90");
    const sealPrivate = await realSealKey(site.siteId);
    const decision = await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`);
    expect(decision).toMatchObject({ decision: "step_up", masterPassword: true, masterPasswordSet: false });
    expect(decision.reasons.map((r) => r.text)).toContain("This server's policy asks for your master password");
    expect(decision.sealKey).toMatchObject({ kty: "EC", crv: "P-256" });
    expect(decision.sealKey).not.toHaveProperty("d");

    const secret = `Master-${crypto.randomUUID()}`;
    const sealed = await sealSecret(decision.sealKey!, secret);
    const noneYet = await connect(b, checkoutId, sealed);
    expect(noneYet.status).toBe(403);
    expect(await noneYet.json()).toMatchObject({ error: { code: "step_up_required" } });
    // The password itself is refused: only a verifier is taken, and not a cheap one.
    expect((await b.send("/api/me/master-password", { body: { next: secret } })).status).toBe(400);
    const cheap = await masterPasswordVerifier(secret, 1000).catch(() => "pbkdf2-sha256$1000$x$y");
    expect((await b.send("/api/me/master-password", { body: { verifier: cheap } })).status).toBe(400);
    const verifier = await masterPasswordVerifier(secret, 100_000);
    expect((await b.send("/api/me/master-password", { body: { verifier } })).status).toBe(200);

    // Connect needs the sealed form; a plaintext in its place is refused before anything happens.
    expect((await connect(b, checkoutId)).status).toBe(403);
    expect((await b.send("/api/sessions", { body: { checkoutId, masterPasswordSealed: secret } })).status).toBe(400);
    const control = await connectControl(site);
    const res = await connect(b, checkoutId, sealed);
    expect(res.status).toBe(201);
    await control.next(hasText("open"), "the session's open");
    const grant = (control.texts.find((m) => (m as { type: string }).type === "open") as { grant: string }).grant;
    const claims = decodeJwt(grant) as { cred: { mp?: string; mpv?: string } };
    // The browser's sealed password, unopened, and the verifier, sealed by the edge: both open only at the site.
    expect(claims.cred.mp).toBe(sealed);
    expect(await open(sealPrivate, claims.cred.mpv!)).toBe(verifier);
    expect(grant).not.toContain(verifier);
    control.ws.close();

    const stored = await env.DB.prepare("SELECT master_password_hash FROM users WHERE id = ?")
      .bind(id)
      .first<{ master_password_hash: string }>();
    expect(stored!.master_password_hash).toBe(verifier);
    const ledger = JSON.stringify(
      await env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName("global")).query({ userId: id, limit: 500 }),
    );
    expect(ledger).not.toContain(secret);
    expect(ledger).toContain("policy_master_password");
  });

  it("a wrong one, found by the connector, is counted: audited, and the user is locked after repeated ones", async () => {
    const { b, site, id, checkoutId } = await requester({ master_password_required: 1 }, "192.0.2.92");
    const decision = await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`);
    await realSealKey(site.siteId);
    const key = (await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`)).sealKey!;
    expect(decision.masterPasswordSet).toBe(false);
    await b.json("/api/me/master-password", {
      body: { verifier: await masterPasswordVerifier("the-right-one-1", 100_000) },
    });
    const control = await connectControl(site);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      await env.DB.prepare("UPDATE auth_throttle SET last_failure_at = last_failure_at - 120000 WHERE key = ?")
        .bind(`mp:${id}`)
        .run();
      const res = await connect(b, checkoutId, await sealSecret(key, `wrong-${i}`));
      statuses.push(res.status);
      if (res.status !== 201) continue;
      // What the room hears from a real connector that found the password wrong (connector/credentials.ts).
      const { id: sessionId } = (await res.json()) as { id: string };
      await env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(sessionId)).end("master_password_wrong", {
        bySite: site.siteId,
      });
    }
    control.ws.close();
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    expect((await audit(id, "auth.mfa_failed")).length).toBeGreaterThanOrEqual(4);
    expect((await audit(id, "auth.locked_out")).length).toBeGreaterThan(0);
    // Each wrong one counted once: reserved at connect, kept by the verdict (not counted again).
    const row = await env.DB.prepare("SELECT failures FROM auth_throttle WHERE key = ?")
      .bind(`mp:${id}`)
      .first<{ failures: number }>();
    expect(row?.failures).toBe(5);
  });

  it("a guess is counted from connect, and given back when the session ends before the connector judged it", async () => {
    const { b, site, id, checkoutId } = await requester({ master_password_required: 1 }, "192.0.2.93");
    await realSealKey(site.siteId);
    const key = (await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`)).sealKey!;
    await b.json("/api/me/master-password", {
      body: { verifier: await masterPasswordVerifier("the-right-one-2", 100_000) },
    });
    const failures = async () =>
      (
        await env.DB.prepare("SELECT failures FROM auth_throttle WHERE key = ?")
          .bind(`mp:${id}`)
          .first<{ failures: number }>()
      )?.failures ?? 0;
    const control = await connectControl(site);
    const res = await connect(b, checkoutId, await sealSecret(key, "the-right-one-2"));
    expect(res.status).toBe(201);
    const { id: sessionId } = (await res.json()) as { id: string };
    // In flight, not judged yet: it counts (guesses sent faster than verdicts cannot outrun the lock).
    expect(await failures()).toBe(1);
    // The connector could not reach the target: the password was never judged, so the guess is given back.
    await env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(sessionId)).end("connector_lost", { bySite: site.siteId });
    expect(await failures()).toBe(0);
    control.ws.close();
  });
});

describe("adaptive step-up at connect", () => {
  it("a policy asking for MFA refuses a user without a second factor, in words", async () => {
    const { b, checkoutId, id } = await requester({ mfa_required: 1 }, "192.0.2.91");
    const decision = await b.json<{ decision: string; reasons: { code: string; text: string }[] }>(
      `/api/checkouts/${checkoutId}/step-up`,
    );
    expect(decision.decision).toBe("deny");
    // (An out-of-hours reason joins these when the test runs on a weekend or at night: UTC clock.)
    const texts = decision.reasons.map((r) => r.text).filter((t) => t !== "Outside working hours");
    expect(texts).toEqual([
      "This server's policy requires a second factor",
      "Set up a second factor on your Account page to connect",
    ]);
    expect((await connect(b, checkoutId)).status).toBe(403);
    const [entry] = await audit(id, "auth.step_up");
    expect(entry!.data).toMatchObject({ decision: "deny" });
  });

  it("asks for a fresh second factor when the last one is stale, and lets the connect through after it", async () => {
    const { b, checkoutId, id } = await requester({ mfa_required: 1 }, "192.0.2.92");
    const secret = await enrolTotp(b);
    // Enrolling proved the factor just now: the connect passes.
    expect((await connect(b, checkoutId)).status).toBe(503);
    // Twenty minutes later (policy wants 15): step-up.
    await env.DB.prepare("UPDATE auth_sessions SET mfa_at = ? WHERE user_id = ? AND revoked_at IS NULL")
      .bind(Date.now() - 20 * 60_000, id)
      .run();
    const stale = await connect(b, checkoutId);
    expect(await stale.json()).toMatchObject({ error: { code: "step_up_required" } });
    const decision = await b.json<{ mfa: string; reasons: { code: string }[] }>(`/api/checkouts/${checkoutId}/step-up`);
    expect(decision.mfa).toBe("any");
    expect(decision.reasons.map((r) => r.code)).toContain("policy_mfa");
    const before = b.jar.session;
    expect((await b.send("/api/mfa/totp/verify", { body: { code: totpAt(secret, Date.now() + 30_000) } })).status).toBe(
      200,
    );
    expect(b.jar.session).not.toBe(before); // rotated after MFA
    expect((await connect(b, checkoutId)).status).toBe(503);
  });

  it("a high-sensitivity zone names itself, and the reasons are audited with the decision", async () => {
    const { b, checkoutId, site, id } = await requester({}, "192.0.2.93");
    await env.DB.prepare("UPDATE zones SET sensitivity = 'high', name = ? WHERE id = ?")
      .bind(`Vault-${id.slice(0, 4)}`, site.zoneId)
      .run();
    const secret = await enrolTotp(b);
    void secret;
    await env.DB.prepare("UPDATE auth_sessions SET mfa_at = ? WHERE user_id = ? AND revoked_at IS NULL")
      .bind(Date.now() - 6 * 60_000, id)
      .run();
    const decision = await b.json<{ decision: string; reasons: { text: string }[] }>(
      `/api/checkouts/${checkoutId}/step-up`,
    );
    expect(decision.decision).toBe("step_up");
    expect(decision.reasons[0]!.text).toBe(`Vault-${id.slice(0, 4)} is a high-sensitivity zone`);
    expect((await connect(b, checkoutId)).status).toBe(403);
    const entries = await audit(id, "auth.step_up");
    expect(JSON.stringify(entries[0]!.data)).toContain("high-sensitivity zone");
  });
});

describe("approve by push, with number matching", () => {
  it("another signed-in device approves by typing the shown number; a wrong one denies; a sign-in cannot approve itself", async () => {
    const name = unique("push");
    await seedUser(name, "push-password-1", ["requester"]);
    const phone = browser("192.0.2.94");
    await phone.login(name, "push-password-1");
    const secret = await enrolTotp(phone);
    void secret;

    const laptop = browser("192.0.2.95");
    expect(await (await laptop.login(name, "push-password-1")).json()).toMatchObject({ stage: "mfa" });
    const started = await laptop.json<{ id: string; number: number }>("/api/mfa/push", { body: {} });
    // The laptop cannot approve its own request, nor see it as pending.
    expect(
      (await laptop.send(`/api/mfa/push/${started.id}/approve`, { body: { number: started.number } })).status,
    ).toBe(401);
    const pending = await phone.json<{ id: string; choices?: number[] }[]>("/api/mfa/push/pending");
    expect(pending.map((p) => p.id)).toEqual([started.id]);
    // The approving device is not told the number: it must be typed from the other screen.
    expect(pending[0]!.choices).toBeUndefined();
    // No field holds it (a substring search would find two digits inside the request's UUID now and then).
    expect(Object.keys(pending[0]!).sort()).toEqual(["country", "expiresAt", "id", "ip"]);
    expect(Object.values(pending[0]!)).not.toContain(started.number);
    expect(Object.values(pending[0]!)).not.toContain(String(started.number));
    const wrong = started.number === 99 ? 10 : started.number + 1;
    expect(await phone.json(`/api/mfa/push/${started.id}/approve`, { body: { number: wrong } })).toEqual({
      status: "denied",
    });
    expect(await laptop.json(`/api/mfa/push/${started.id}/complete`, { body: {} })).toEqual({ status: "denied" });
    expect((await laptop.send("/api/me")).status).toBe(401);

    const second = await laptop.json<{ id: string; number: number }>("/api/mfa/push", { body: {} });
    expect(await laptop.json(`/api/mfa/push/${second.id}/complete`, { body: {} })).toEqual({ status: "pending" });
    expect(await phone.json(`/api/mfa/push/${second.id}/approve`, { body: { number: second.number } })).toEqual({
      status: "approved",
    });
    const pendingCookie = laptop.jar.session;
    expect(await laptop.json(`/api/mfa/push/${second.id}/complete`, { body: {} })).toEqual({ status: "approved" });
    expect(laptop.jar.session).not.toBe(pendingCookie);
    expect((await laptop.send("/api/me")).status).toBe(200);
    // Collected once: a second collection on the old cookie finds nothing.
    expect((await laptop.send(`/api/mfa/push/${second.id}/complete`, { body: {}, cookie: pendingCookie })).status).toBe(
      401,
    );
  });

  it("expires after 60 seconds", async () => {
    const name = unique("pushx");
    await seedUser(name, "pushx-password-1", ["requester"]);
    const phone = browser("192.0.2.96");
    await phone.login(name, "pushx-password-1");
    await enrolTotp(phone);
    const laptop = browser("192.0.2.97");
    await laptop.login(name, "pushx-password-1");
    const started = await laptop.json<{ id: string; number: number; expiresAt: number }>("/api/mfa/push", { body: {} });
    await env.DB.prepare("UPDATE auth_challenges SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1, started.id)
      .run();
    expect(await phone.json("/api/mfa/push/pending")).toEqual([]);
    expect(await phone.json(`/api/mfa/push/${started.id}/approve`, { body: { number: started.number } })).toEqual({
      status: "expired",
    });
    expect(await laptop.json(`/api/mfa/push/${started.id}/complete`, { body: {} })).toEqual({ status: "expired" });
  });
});

it("an admin resets a user's second factors (break-glass): factors gone, sign-ins ended, audited", async () => {
  const name = unique("rst");
  const id = await seedUser(name, "rst-password-1", ["requester"]);
  const user = browser("192.0.2.98");
  await user.login(name, "rst-password-1");
  await enrolTotp(user);
  await user.json("/api/me/master-password", {
    body: { verifier: await masterPasswordVerifier("a-master-password-1", 100_000) },
  });
  const adminName = unique("adm");
  await seedUser(adminName, "adm-password-1", ["admin"]);
  const admin = browser("192.0.2.99");
  await admin.login(adminName, "adm-password-1");
  expect((await user.send(`/api/users/${id}/reset-mfa`, { body: {} })).status).toBe(403);
  expect((await admin.send(`/api/users/${id}/reset-mfa`, { body: { masterPassword: true } })).status).toBe(200);
  expect((await user.send("/api/me")).status).toBe(401);
  const again = browser("192.0.2.98");
  expect(await (await again.login(name, "rst-password-1")).json()).toMatchObject({ stage: "full" });
  expect(await again.json("/api/mfa")).toMatchObject({
    totp: false,
    webauthn: [],
    recoveryCodesLeft: 0,
    masterPasswordSet: false,
  });
  const changes = await audit(id, "admin.change");
  expect(changes.some((e) => JSON.stringify(e.data).includes('"masterPasswordSet":false'))).toBe(true);
});
