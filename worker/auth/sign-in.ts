// Finishing a sign-in, shared by password, OIDC and the second-factor routes: a user with a second
// factor enrolled gets a pending sign-in (stage "mfa"); otherwise, or once the factor is done, a full
// one. Each step starts a new sign-in id (rotation). Audited.
import type { Context } from "hono";
import type { LoginResult, MfaMethod } from "../../protocol/index.ts";
import { actorOf, record } from "../audit.ts";
import type { AppContext, AuthUser } from "../env.ts";
import { deviceHash, isKnownDevice, networkOf, newNetwork, rememberDevice } from "./device.ts";
import { revokeSignIns, startSignIn } from "./user-token.ts";
import { enforceAccess } from "../access/revocation.ts";
import { duoOffered } from "./duo-config.ts";

export type Factors = { totp: boolean; webauthn: number; recovery: number };

export async function factorsOf(db: D1Database, userId: string): Promise<Factors> {
  const row = await db
    .prepare(
      `SELECT (SELECT count(*) FROM totp_factors WHERE user_id = ?1 AND confirmed_at IS NOT NULL) AS totp,
              (SELECT count(*) FROM webauthn_credentials WHERE user_id = ?1) AS webauthn,
              (SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL) AS recovery`,
    )
    .bind(userId)
    .first<{ totp: number; webauthn: number; recovery: number }>();
  return { totp: !!row?.totp, webauthn: row?.webauthn ?? 0, recovery: row?.recovery ?? 0 };
}

/** The methods a pending sign-in may use; `duo`: the deployment offers Duo (to every user). */
export function methodsOf(f: Factors, duo = false): MfaMethod[] {
  const methods: MfaMethod[] = [];
  if (f.webauthn) methods.push("webauthn");
  if (f.totp) methods.push("totp");
  if (duo) methods.push("duo");
  if (f.recovery) methods.push("recovery");
  if (f.totp || f.webauthn) methods.push("push");
  return methods;
}

/** After the first factor (password or OIDC): a full sign-in, or a pending one when a second factor is enrolled. */
export async function afterFirstFactor(
  c: Context<AppContext>,
  user: AuthUser,
  amr: "pwd" | "oidc",
): Promise<LoginResult> {
  const factors = await factorsOf(c.env.DB, user.id);
  // Duo, when the deployment turns it on, is every user's second factor (enrolment happens at Duo).
  const duo = await duoOffered(c.env.DB);
  const methods = methodsOf(factors, duo);
  const device = await deviceHash(c);
  const net = networkOf(c);
  // What is new about this sign-in, judged before it is remembered; a user's first sign-in sets the baseline.
  const hasDevices = await c.env.DB.prepare("SELECT 1 AS ok FROM user_devices WHERE user_id = ? LIMIT 1")
    .bind(user.id)
    .first();
  const fresh = await newNetwork(c.env.DB, user.id, net);
  const risk = {
    newDevice: !!hasDevices && !(await isKnownDevice(c.env.DB, user.id, device)),
    newCountry: fresh.newCountry,
    newNetwork: fresh.newAsn,
    country: net.country,
  };
  if (factors.totp || factors.webauthn || duo) {
    await startSignIn(c, user.id, { stage: "mfa", amr: [amr], mfaAt: null, deviceHash: device, risk });
    return { stage: "mfa", methods };
  }
  await startSignIn(c, user.id, { stage: "full", amr: [amr], mfaAt: null, deviceHash: device, risk });
  await rememberDevice(c.env.DB, user.id, device, net);
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.login",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { amr: [amr], risk },
  });
  return { stage: "full", user: user as Extract<LoginResult, { stage: "full" }>["user"] };
}

/**
 * A second factor was verified. At sign-in (stage mfa): rotate to a full sign-in. As step-up on a full
 * sign-in: rotate too (a new sid carrying the fresh MFA time), so a token captured before is worth less.
 */
export async function afterSecondFactor(
  c: Context<AppContext>,
  method: "otp" | "hwk" | "rec" | "push" | "duo",
): Promise<void> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  const device = await deviceHash(c);
  // Ordered: the last entry is the most recent method (step-up reads it: a security key, or not).
  const amr = [...signIn.amr.filter((m) => m !== method), method];
  await startSignIn(c, user.id, { stage: "full", amr, mfaAt: Date.now(), deviceHash: device, risk: signIn.risk });
  await rememberDevice(c.env.DB, user.id, device, networkOf(c));
  await record(c.env, {
    actor: actorOf(user),
    action: signIn.stage === "mfa" ? "auth.login" : "auth.mfa",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { amr, stepUp: signIn.stage === "full" },
  });
}

/**
 * Duo was down (its health check failed) and the deployment fails open: the pending sign-in becomes a
 * full one without a second factor (mfaAt stays null, so step-up still asks), audited as such.
 */
export async function secondFactorSkipped(c: Context<AppContext>, why: string): Promise<void> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  const device = await deviceHash(c);
  const amr = [...signIn.amr, "duo_fail_open"];
  await startSignIn(c, user.id, { stage: "full", amr, mfaAt: null, deviceHash: device, risk: signIn.risk });
  await rememberDevice(c.env.DB, user.id, device, networkOf(c));
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.login",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { amr, duoFailOpen: true, duoHealth: why },
  });
}

/** After a password or factor change: every other sign-in is revoked and this one rotates. */
export async function factorsChanged(c: Context<AppContext>, what: string): Promise<void> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  await revokeSignIns(c.env.DB, user.id);
  // Sessions the other sign-ins opened end (a stolen password's sessions); this sign-in's go on.
  await enforceAccess(c.env, { kind: "sign_ins", userId: user.id, except: signIn.id }, `${what} changed`, user);
  await startSignIn(c, user.id, {
    stage: "full",
    amr: signIn.amr,
    mfaAt: signIn.mfaAt,
    deviceHash: await deviceHash(c),
    risk: signIn.risk,
  });
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.credentials_changed",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { what },
  });
}
