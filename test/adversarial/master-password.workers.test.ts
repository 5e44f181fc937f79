// Attacks on the master password at connect, inside workerd (docs/auth.md "Master password"): the attacker has the
// user's password (a full sign-in) and wants past a policy that asks for the master password too.
import { env } from "cloudflare:test";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { sealSecret } from "../../keys/seal.ts";
import type { StepUpDecision } from "../../protocol/index.ts";
import { masterPasswordVerifier } from "../../protocol/master-password.ts";
import { RULES } from "../../worker/auth/throttle.ts";
import { type Browser, browser } from "../../worker/test/auth-client.ts";
import { connectControl, seedSite, seedUser } from "../../worker/test/harness.ts";

const unique = (p: string) => `${p}${crypto.randomUUID().slice(0, 8)}`;

/** A requester without a second factor, on a checkout whose policy asks for the master password; signed in. */
async function requester(ip: string) {
  const site = await seedSite({ master_password_required: 1 });
  const { publicKey } = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  await env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?")
    .bind(JSON.stringify(await exportJWK(publicKey)), site.siteId)
    .run();
  const name = unique("mp");
  const id = await seedUser(name, "mp-password-1", ["requester"]);
  await site.entitle(id);
  const b = browser(ip);
  expect((await b.login(name, "mp-password-1")).status).toBe(200);
  const made = await b.json<{ results: { checkout: { id: string } }[] }>("/api/checkouts", {
    body: {
      items: [
        {
          serverId: site.serverId,
          credentialId: site.credentialId,
          minutes: 30,
          justification: "master password attack",
        },
      ],
    },
  });
  return { site, id, name, b, checkoutId: made.results[0]!.checkout.id };
}

const connect = (b: Browser, checkoutId: string, masterPasswordSealed: string) =>
  b.send("/api/sessions", { body: { checkoutId, masterPasswordSealed } });

describe("master password guessing", () => {
  it("attack: send many connects with guesses before the connector's verdicts come back; at most the lock's worth reach it", async () => {
    const { b, site, checkoutId } = await requester("192.0.2.200");
    // The owner set it long ago (here: through the route, as the page does on first use).
    expect(
      (
        await b.send("/api/me/master-password", {
          body: { verifier: await masterPasswordVerifier("the-owners-master-1", 100_000) },
        })
      ).status,
    ).toBe(200);
    const key = (await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`)).sealKey!;
    const control = await connectControl(site);
    // Twenty guesses, one after another, not waiting for the sessions to end: each is a grant carrying a sealed
    // guess that the connector opens and compares. The throttle is only checked here, and a failure counted only
    // once a room ends with master_password_wrong, so nothing stops the run.
    const guesses = 20;
    const statuses: number[] = [];
    for (let i = 0; i < guesses; i++)
      statuses.push((await connect(b, checkoutId, await sealSecret(key, `guess-${i}`))).status);
    control.ws.close();
    const dispatched = statuses.filter((s) => s === 201).length;
    // The rule locks after 5 failures (RULES.master_password.lockAfter): no more guesses than that may be in flight.
    expect(dispatched).toBeLessThanOrEqual(RULES.master_password.lockAfter!);
  });

  it("attack: send the guesses all at once, racing each other — guarantee: the reservation is atomic, at most the lock's worth reach the connector", async () => {
    const { b, site, checkoutId } = await requester("192.0.2.202");
    await b.send("/api/me/master-password", {
      body: { verifier: await masterPasswordVerifier("the-owners-master-3", 100_000) },
    });
    const key = (await b.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`)).sealKey!;
    const control = await connectControl(site);
    const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => sealSecret(key, `race-${i}`)));
    const statuses = await Promise.all(guesses.map(async (g) => (await connect(b, checkoutId, g)).status));
    control.ws.close();
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(RULES.master_password.lockAfter!);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
  });

  it("attack: a password-only sign-in (no second factor enrolled) replaces the master password the owner set", async () => {
    const { b, id, checkoutId } = await requester("192.0.2.201");
    const owners = await masterPasswordVerifier("the-owners-master-2", 100_000);
    expect((await b.send("/api/me/master-password", { body: { verifier: owners } })).status).toBe(200);
    // The attacker holds only the account password and signs in from elsewhere.
    const attacker = browser("198.51.100.77");
    const row = await env.DB.prepare("SELECT username FROM users WHERE id = ?").bind(id).first<{ username: string }>();
    expect((await attacker.login(row!.username, "mp-password-1")).status).toBe(200);
    const decision = await attacker.json<StepUpDecision>(`/api/checkouts/${checkoutId}/step-up`);
    expect(decision).toMatchObject({ masterPassword: true, masterPasswordSet: true });
    // Overwriting the verifier must take more than the password the master password is there to back up.
    const res = await attacker.send("/api/me/master-password", {
      body: { verifier: await masterPasswordVerifier("attackers-master-1", 100_000) },
    });
    expect(res.status).not.toBe(200);
    const stored = await env.DB.prepare("SELECT master_password_hash FROM users WHERE id = ?")
      .bind(id)
      .first<{ master_password_hash: string }>();
    expect(stored!.master_password_hash).toBe(owners);
  });
});
