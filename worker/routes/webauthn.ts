// WebAuthn / FIDO2 (@simplewebauthn/server): several security keys or platform authenticators per user,
// for the sign-in's second step and for step-up. The rp id and origin are checked; each challenge is
// one-time (marked used before verification); a signature counter that does not move forward is refused.
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import type { Context } from "hono";
import { IdParam, newApi, route } from "../openapi.ts";
import {
  Ok,
  WebAuthnAssertion,
  WebAuthnKeyRegistered,
  WebAuthnOptions,
  WebAuthnRegistration,
} from "../../protocol/index.ts";
import { startCeremony, takeCeremony } from "../auth/challenge-store.ts";
import { advanceWebAuthnCounter, insertWebAuthnCredential, removeWebAuthnCredential } from "../auth/factor-store.ts";
import { afterSecondFactor } from "../auth/sign-in.ts";
import { requireAnySignIn, requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { factorsChanged } from "../auth/sign-in.ts";
import { beforeSecondFactor, requireRecentMfa, secondFactorFailed, secondFactorPassed } from "./mfa.ts";

export const webauthn = newApi();
const tags = ["mfa"];
/** How long a ceremony may take, ms. */
const CEREMONY_TTL_MS = 5 * 60_000;
/** Keys one user may register. */
const MAX_KEYS = 10;

/** The relying party: WEBAUTHN_RP_ID, else the host of APP_URL, else the request's host; origin likewise. */
export function relyingParty(c: Context<AppContext>): { rpID: string; origin: string } {
  const base = new URL(c.env.APP_URL ?? c.req.url);
  return { rpID: c.env.WEBAUTHN_RP_ID ?? base.hostname, origin: base.origin };
}

async function saveChallenge(c: Context<AppContext>, kind: "webauthn_reg" | "webauthn_auth", challenge: string) {
  const now = Date.now();
  const signIn = c.get("signIn");
  // One ceremony per sign-in at a time: a new one voids the previous.
  await c.env.DB.batch(
    startCeremony(c.env.DB, {
      id: crypto.randomUUID(),
      kind,
      userId: c.get("user").id,
      sessionId: signIn.id,
      challenge,
      createdAt: now,
      expiresAt: now + CEREMONY_TTL_MS,
    }),
  );
}

/** Takes this sign-in's pending challenge, once: a second use of the same response finds none. */
async function takeChallenge(c: Context<AppContext>, kind: "webauthn_reg" | "webauthn_auth"): Promise<string | null> {
  return takeCeremony(c.env.DB, c.get("signIn").id, kind, Date.now());
}

webauthn.openapi(
  route({
    method: "post",
    path: "/mfa/webauthn/register/options",
    summary: "Options to register a security key or platform authenticator",
    tags,
    middleware: [requireUser],
    response: WebAuthnOptions,
  }),
  async (c) => {
    const user = c.get("user");
    await requireRecentMfa(c);
    const { results } = await c.env.DB.prepare("SELECT id, transports FROM webauthn_credentials WHERE user_id = ?")
      .bind(user.id)
      .all<{ id: string; transports: string }>();
    if (results.length >= MAX_KEYS) throw new ApiFailure("conflict", "too many keys");
    const options = await generateRegistrationOptions({
      rpName: "Privileged Session Manager",
      rpID: relyingParty(c).rpID,
      userName: user.username,
      // A copy on its own ArrayBuffer, as the library's type asks (Workers' TextEncoder types a wider buffer).
      userID: new Uint8Array(new TextEncoder().encode(user.id)),
      attestationType: "none",
      excludeCredentials: results.map((r) => ({ id: r.id, transports: JSON.parse(r.transports) })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    });
    await saveChallenge(c, "webauthn_reg", options.challenge);
    return c.json(options as unknown as Record<string, unknown>, 200);
  },
);

webauthn.openapi(
  route({
    method: "post",
    path: "/mfa/webauthn/register",
    summary: "Register a key from its attestation",
    tags,
    middleware: [requireUser],
    body: WebAuthnRegistration,
    response: WebAuthnKeyRegistered,
  }),
  async (c) => {
    const user = c.get("user");
    const body = c.req.valid("json");
    const challenge = await takeChallenge(c, "webauthn_reg");
    if (!challenge) throw new ApiFailure("bad_request", "no pending registration challenge");
    const rp = relyingParty(c);
    let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verification = await verifyRegistrationResponse({
        response: body.response as Parameters<typeof verifyRegistrationResponse>[0]["response"],
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpID,
        requireUserVerification: false,
      });
    } catch (err) {
      throw new ApiFailure("bad_request", `registration refused: ${(err as Error).message}`);
    }
    if (!verification.verified || !verification.registrationInfo)
      throw new ApiFailure("bad_request", "registration not verified");
    const { credential } = verification.registrationInfo;
    const now = Date.now();
    try {
      await insertWebAuthnCredential(c.env.DB, {
        id: credential.id,
        userId: user.id,
        publicKey: isoBase64URL.fromBuffer(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? [],
        name: body.name,
        createdAt: now,
      });
    } catch (err) {
      throw new ApiFailure("conflict", `key already registered: ${(err as Error).message}`);
    }
    c.set("signIn", { ...c.get("signIn"), mfaAt: now });
    await factorsChanged(c, "webauthn_registered");
    return c.json({ ok: true, id: credential.id }, 200);
  },
);

webauthn.openapi(
  route({
    method: "post",
    path: "/mfa/webauthn/authenticate/options",
    summary: "Options to prove a registered key (sign-in or step-up)",
    tags,
    middleware: [requireAnySignIn],
    response: WebAuthnOptions,
  }),
  async (c) => {
    const user = c.get("user");
    const { results } = await c.env.DB.prepare("SELECT id, transports FROM webauthn_credentials WHERE user_id = ?")
      .bind(user.id)
      .all<{ id: string; transports: string }>();
    if (!results.length) throw new ApiFailure("conflict", "no keys registered");
    const options = await generateAuthenticationOptions({
      rpID: relyingParty(c).rpID,
      allowCredentials: results.map((r) => ({ id: r.id, transports: JSON.parse(r.transports) })),
      userVerification: "preferred",
    });
    await saveChallenge(c, "webauthn_auth", options.challenge);
    return c.json(options as unknown as Record<string, unknown>, 200);
  },
);

webauthn.openapi(
  route({
    method: "post",
    path: "/mfa/webauthn/authenticate",
    summary: "Second factor by a registered key's assertion",
    tags,
    middleware: [requireAnySignIn],
    body: WebAuthnAssertion,
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const attempt = await beforeSecondFactor(c);
    const { response } = c.req.valid("json");
    const challenge = await takeChallenge(c, "webauthn_auth");
    const key = await c.env.DB.prepare(
      "SELECT id, public_key, counter, transports FROM webauthn_credentials WHERE id = ? AND user_id = ?",
    )
      .bind(response.id, user.id)
      .first<{ id: string; public_key: string; counter: number; transports: string }>();
    if (!challenge || !key) return secondFactorFailed(c, challenge ? "webauthn_unknown_key" : "webauthn_no_challenge");
    const rp = relyingParty(c);
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response: response as Parameters<typeof verifyAuthenticationResponse>[0]["response"],
        expectedChallenge: challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.rpID,
        credential: {
          id: key.id,
          publicKey: isoBase64URL.toBuffer(key.public_key),
          counter: key.counter,
          transports: JSON.parse(key.transports),
        },
        requireUserVerification: false,
      });
      if (!result.verified) return secondFactorFailed(c, "webauthn");
      newCounter = result.authenticationInfo.newCounter;
    } catch (err) {
      console.warn(`webauthn assertion refused for ${user.id}: ${(err as Error).message}`);
      return secondFactorFailed(c, "webauthn");
    }
    // Compare-and-set: a racing second use of an older assertion cannot move the counter back.
    if (!(await advanceWebAuthnCounter(c.env.DB, key.id, key.counter, newCounter, Date.now())))
      return secondFactorFailed(c, "webauthn_counter_race");
    await secondFactorPassed(c, attempt);
    await afterSecondFactor(c, "hwk");
    return c.json({ ok: true }, 200);
  },
);

webauthn.openapi(
  route({
    method: "delete",
    path: "/mfa/webauthn/{id}",
    summary: "Remove one of one's keys",
    tags,
    middleware: [requireUser],
    params: IdParam.extend({ id: IdParam.shape.id.max(1024) }),
    response: Ok,
  }),
  async (c) => {
    await requireRecentMfa(c);
    // Idempotent: removing a key that is not (or no longer) one's own changes nothing.
    if (await removeWebAuthnCredential(c.env.DB, c.get("user").id, c.req.valid("param").id))
      await factorsChanged(c, "webauthn_removed");
    return c.json({ ok: true }, 200);
  },
);
