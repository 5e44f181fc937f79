// Second factors: status, TOTP enrolment (QR drawn by the page from the otpauth URI) and verification,
// recovery codes (shown once, stored hashed). Verification serves both the sign-in's second step and
// step-up on a full sign-in. Attempts are capped per sign-in and counted by the brute-force throttle
// against the account (keys apart from the password's, which a password sign-in never clears).
import type { Context } from "hono";
import { MfaStatus, Ok, RecoveryCodeRequest, RecoveryCodes, TotpCode, TotpEnrolment } from "../../protocol/index.ts";
import { actorOf, record } from "../audit.ts";
import { openAtRest, sealAtRest, sha256Hex } from "../auth/hash.ts";
import { afterSecondFactor, factorsChanged, factorsOf } from "../auth/sign-in.ts";
import { deviceHash, isKnownDevice } from "../auth/device.ts";
import { duoOffered } from "../auth/duo-config.ts";
import {
  advanceTotpStep,
  confirmTotp,
  removeTotp,
  replaceRecoveryCodes,
  saveTotpSecret,
  useRecoveryCode,
} from "../auth/factor-store.ts";
import { tallyFailure } from "../auth/failure-tally-store.ts";
import {
  clientIp,
  clientNet,
  enforce,
  type Reservation,
  secondFactorKeys,
  throttleRelease,
  throttleReserve,
} from "../auth/throttle-store.ts";
import { acceptTotp, newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, totpUri } from "../auth/totp.ts";
import { countMfaFailure } from "../auth/sign-in-store.ts";
import { requireAnySignIn, requireUser, revokeSignIn } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const mfa = newApi();
const tags = ["mfa"];

/** Wrong second-factor answers one sign-in may give before it is ended (the user signs in again). */
export const MFA_ATTEMPTS_PER_SIGN_IN = 5;
/** Changing factors needs a second factor this recent (or none enrolled yet), ms. */
const RECENT_MFA_MS = 10 * 60_000;

const recoveryHash = (userId: string, code: string) => sha256Hex(`recovery:${userId}:${normaliseRecoveryCode(code)}`);

/**
 * Before checking a second factor: the attempt is counted against the address, the account from this
 * address and (from a device the owner never signed in from) the account from anywhere, before the
 * factor is checked. A success gives it back with secondFactorPassed; a password sign-in clears nothing.
 */
export async function beforeSecondFactor(c: Context<AppContext>): Promise<Reservation> {
  const user = c.get("user");
  const known = await isKnownDevice(c.env.DB, user.id, await deviceHash(c));
  const attempt = await throttleReserve(c.env.DB, secondFactorKeys(clientNet(c), user.id, known), Date.now());
  if (!attempt.allowed) {
    // Refusals are counted per minute like throttled logins: hammering them cannot flood the ledger.
    await tallyFailure(c.env, {
      action: "auth.locked_out",
      via: "second_factor",
      account: user.id,
      userId: user.id,
      name: user.username,
      address: clientIp(c),
      reason: attempt.locked ? "locked" : "delayed",
    });
    enforce(c, attempt, `mfa ${user.id}`);
  }
  return attempt;
}

/** The factor checked out: this attempt is not a failure (earlier ones stay counted). */
export const secondFactorPassed = (c: Context<AppContext>, attempt: Reservation) => throttleRelease(c.env.DB, attempt);

/** A wrong second factor (already counted by beforeSecondFactor): audited; past the cap the sign-in ends. */
export async function secondFactorFailed(c: Context<AppContext>, method: string): Promise<never> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  const ip = clientIp(c);
  const failures = await countMfaFailure(c.env.DB, signIn.id);
  // Past the cap the sign-in is over (pending or full, at sign-in or step-up): the user signs in again.
  const ended = (failures ?? MFA_ATTEMPTS_PER_SIGN_IN) >= MFA_ATTEMPTS_PER_SIGN_IN;
  if (ended) await revokeSignIn(c.env.DB, signIn.id);
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.mfa_failed",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { method, ip, attempts: failures, signInEnded: ended },
  });
  // Signed in fully (enrolment, step-up), the user stays where they are; only an ended sign-in is a 401.
  if (!ended && signIn.stage === "full") throw new ApiFailure("code_not_accepted", `${method} refused for ${user.id}`);
  throw new ApiFailure("unauthorized", `${method} refused for ${user.id}`);
}

/** Whether the user can pass a second factor: TOTP or a security key enrolled, or Duo offered to everyone. */
export async function hasSecondFactor(db: D1Database, userId: string): Promise<boolean> {
  const [f, duo] = await Promise.all([factorsOf(db, userId), duoOffered(db)]);
  return Boolean(f.totp || f.webauthn || duo);
}

/** A factor change on a full sign-in: needs a fresh second factor if the user already has one. */
export async function requireRecentMfa(c: Context<AppContext>): Promise<void> {
  const mfaAt = c.get("signIn").mfaAt;
  if ((await hasSecondFactor(c.env.DB, c.get("user").id)) && (mfaAt === null || Date.now() - mfaAt > RECENT_MFA_MS))
    throw new ApiFailure("step_up_required", "factor change without recent MFA");
}

mfa.openapi(
  route({
    method: "get",
    path: "/mfa",
    summary: "One's own second factors",
    tags,
    middleware: [requireUser],
    response: MfaStatus,
  }),
  async (c) => {
    const user = c.get("user");
    const [f, keys, u, duo] = await Promise.all([
      factorsOf(c.env.DB, user.id),
      c.env.DB.prepare(
        "SELECT id, name, created_at, last_used_at FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at",
      )
        .bind(user.id)
        .all<{ id: string; name: string; created_at: number; last_used_at: number | null }>(),
      c.env.DB.prepare("SELECT master_password_hash, oidc_subject FROM users WHERE id = ?")
        .bind(user.id)
        .first<{ master_password_hash: string | null; oidc_subject: string | null }>(),
      duoOffered(c.env.DB),
    ]);
    return c.json(
      {
        totp: f.totp,
        recoveryCodesLeft: f.recovery,
        webauthn: keys.results.map((k) => ({
          id: k.id,
          name: k.name,
          createdAt: k.created_at,
          lastUsedAt: k.last_used_at,
        })),
        masterPasswordSet: !!u?.master_password_hash,
        oidc: !!u?.oidc_subject,
        duo,
      },
      200,
    );
  },
);

mfa.openapi(
  route({
    method: "post",
    path: "/mfa/totp/enrol",
    summary: "Start TOTP enrolment: a new secret to scan",
    tags,
    middleware: [requireUser],
    response: TotpEnrolment,
  }),
  async (c) => {
    const user = c.get("user");
    await requireRecentMfa(c);
    const existing = await c.env.DB.prepare("SELECT confirmed_at FROM totp_factors WHERE user_id = ?")
      .bind(user.id)
      .first<{ confirmed_at: number | null }>();
    if (existing?.confirmed_at) throw new ApiFailure("conflict", "TOTP already enrolled");
    const secret = newTotpSecret();
    await saveTotpSecret(c.env.DB, user.id, await sealAtRest(c.env.USER_TOKEN_SECRET, secret, user.id), Date.now());
    return c.json({ secret, uri: totpUri(secret, user.username) }, 200);
  },
);

async function totpRow(c: Context<AppContext>) {
  const user = c.get("user");
  const row = await c.env.DB.prepare("SELECT secret_enc, confirmed_at, last_step FROM totp_factors WHERE user_id = ?")
    .bind(user.id)
    .first<{ secret_enc: string; confirmed_at: number | null; last_step: number }>();
  if (!row) return null;
  return { ...row, secret: await openAtRest(c.env.USER_TOKEN_SECRET, row.secret_enc, user.id) };
}

/** Checks a code and moves last_step forward atomically: two requests with one code cannot both pass. */
async function consumeTotp(c: Context<AppContext>, code: string, confirmed: boolean): Promise<boolean> {
  const user = c.get("user");
  const row = await totpRow(c);
  if (!row || !!row.confirmed_at !== confirmed) return false;
  const step = acceptTotp(row.secret, code, Date.now(), row.last_step);
  if (step === null) return false;
  return advanceTotpStep(c.env.DB, user.id, step);
}

mfa.openapi(
  route({
    method: "post",
    path: "/mfa/totp/confirm",
    summary: "Finish TOTP enrolment with a first code; returns recovery codes, once",
    tags,
    middleware: [requireUser],
    body: TotpCode,
    response: RecoveryCodes,
  }),
  async (c) => {
    const user = c.get("user");
    const attempt = await beforeSecondFactor(c);
    if (!(await consumeTotp(c, c.req.valid("json").code, false))) return secondFactorFailed(c, "totp_enrol");
    await secondFactorPassed(c, attempt);
    const codes = newRecoveryCodes();
    const hashes = await Promise.all(codes.map((code) => recoveryHash(user.id, code)));
    await c.env.DB.batch([
      confirmTotp(c.env.DB, user.id, Date.now()),
      ...replaceRecoveryCodes(c.env.DB, user.id, hashes),
    ]);
    // Enrolling proves the factor: this sign-in carries a fresh MFA time.
    c.set("signIn", { ...c.get("signIn"), mfaAt: Date.now() });
    await factorsChanged(c, "totp_enrolled");
    return c.json({ recoveryCodes: codes }, 200);
  },
);

mfa.openapi(
  route({
    method: "post",
    path: "/mfa/totp/verify",
    summary: "Second factor by TOTP code (sign-in or step-up)",
    tags,
    middleware: [requireAnySignIn],
    body: TotpCode,
    response: Ok,
  }),
  async (c) => {
    const attempt = await beforeSecondFactor(c);
    if (!(await consumeTotp(c, c.req.valid("json").code, true))) return secondFactorFailed(c, "totp");
    await secondFactorPassed(c, attempt);
    await afterSecondFactor(c, "otp");
    return c.json({ ok: true }, 200);
  },
);

mfa.openapi(
  route({
    method: "post",
    path: "/mfa/recovery",
    summary: "Second factor by a one-time recovery code",
    tags,
    middleware: [requireAnySignIn],
    body: RecoveryCodeRequest,
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const attempt = await beforeSecondFactor(c);
    const hash = await recoveryHash(user.id, c.req.valid("json").code);
    if (!(await useRecoveryCode(c.env.DB, user.id, hash, Date.now()))) return secondFactorFailed(c, "recovery");
    await secondFactorPassed(c, attempt);
    await afterSecondFactor(c, "rec");
    return c.json({ ok: true }, 200);
  },
);

mfa.openapi(
  route({
    method: "post",
    path: "/mfa/recovery/regenerate",
    summary: "New recovery codes (the old ones stop working); shown once",
    tags,
    middleware: [requireUser],
    response: RecoveryCodes,
  }),
  async (c) => {
    const user = c.get("user");
    await requireRecentMfa(c);
    const f = await factorsOf(c.env.DB, user.id);
    if (!f.totp && !f.webauthn) throw new ApiFailure("conflict", "no second factor to recover");
    const codes = newRecoveryCodes();
    const hashes = await Promise.all(codes.map((code) => recoveryHash(user.id, code)));
    await c.env.DB.batch(replaceRecoveryCodes(c.env.DB, user.id, hashes));
    await factorsChanged(c, "recovery_codes");
    return c.json({ recoveryCodes: codes }, 200);
  },
);

mfa.openapi(
  route({
    method: "delete",
    path: "/mfa/totp",
    summary: "Remove one's TOTP factor",
    tags,
    middleware: [requireUser],
    response: Ok,
  }),
  async (c) => {
    await requireRecentMfa(c);
    const user = c.get("user");
    await removeTotp(c.env.DB, user.id);
    await factorsChanged(c, "totp_removed");
    return c.json({ ok: true }, 200);
  },
);
