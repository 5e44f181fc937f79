// Step-up at connect, glue: gathers the inputs of the pure decideStepUp() from D1 and the sign-in,
// audits the decision with its reasons, and passes on the sealed master password (the connector checks it;
// wrong ones are counted here: throttled, lockout, audit).
import type { Context } from "hono";
import type { StepUpDecision } from "../../protocol/index.ts";
import type { CheckoutRow } from "../access/checkout-store.ts";
import { rowPolicy } from "../access/checkout-store.ts";
import { actorOf, record } from "../audit.ts";
import type { AppContext, Env } from "../env.ts";
import { requireSealedToCurrent } from "../access/seal-keys.ts";
import { masterPasswordVerifierOf } from "../access/user-store.ts";
import { ApiFailure } from "../errors.ts";
import { duoOffered } from "./duo-config.ts";
import { factorsOf } from "./sign-in.ts";
import { decideStepUp, parseWorkHours, type Sensitivity } from "./step-up.ts";
import {
  enforce,
  type ThrottleKey,
  throttleCheck,
  throttleCount,
  throttleRelease,
  throttleReserve,
} from "./throttle-store.ts";

const HOUR = 60 * 60_000;

/**
 * What the caller must prove to connect on checkout `row`, or (`joining`) to join its session with input at its
 * user's invitation (docs/governance.md "Shared sessions"): the joiner's own sign-in, factors and risk, under the
 * session's policy and zone. A joiner never opens the credential, so where the policy asks for the master password
 * (which the connector checks as it opens it) a joiner is asked for a fresh second factor instead.
 */
export async function stepUpDecision(
  c: Context<AppContext>,
  row: CheckoutRow,
  joining = false,
): Promise<StepUpDecision> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  const now = Date.now();
  const [zone, factors, masterVerifier, failures, duo] = await Promise.all([
    c.env.DB.prepare(
      "SELECT z.name, z.sensitivity, s.seal_key FROM zones z JOIN sites s ON s.id = z.site_id WHERE z.id = ?",
    )
      .bind(row.zone_id)
      .first<{ name: string; sensitivity: Sensitivity; seal_key: string | null }>(),
    factorsOf(c.env.DB, user.id),
    masterPasswordVerifierOf(c.env.DB, user.id),
    // Password and second-factor failures on the account in the last hour, from any address (the
    // throttle's own counters).
    c.env.DB.prepare(
      "SELECT COALESCE(sum(failures), 0) AS n FROM auth_throttle WHERE (key IN (?, ?) OR key LIKE ? OR key LIKE ?) AND last_failure_at > ?",
    )
      .bind(`acct:${user.id}`, `mfa:${user.id}`, `acct-ip:${user.id}:%`, `mfa-ip:${user.id}:%`, now - HOUR)
      .first<{ n: number }>(),
    duoOffered(c.env.DB),
  ]);
  const policy = rowPolicy(row);
  const decision = decideStepUp({
    now,
    zone: { name: zone?.name ?? "this zone", sensitivity: zone?.sensitivity ?? "normal" },
    policy: joining
      ? { mfaRequired: policy.mfaRequired || policy.masterPasswordRequired, masterPasswordRequired: false }
      : { mfaRequired: policy.mfaRequired, masterPasswordRequired: policy.masterPasswordRequired },
    newDevice: !!signIn.risk.newDevice,
    country: signIn.risk.country ?? null,
    newCountry: !!signIn.risk.newCountry,
    newNetwork: !!signIn.risk.newNetwork,
    lastMfaAt: signIn.mfaAt,
    lastMfaByKey: signIn.amr.at(-1) === "hwk",
    workHours: parseWorkHours(c.env.WORK_HOURS_UTC),
    recentFailures: failures?.n ?? 0,
    enrolled: { totp: factors.totp, webauthn: factors.webauthn > 0, duo },
    masterPasswordSet: !!masterVerifier,
  });
  // The browser seals the master password to the site's public key: the edge never sees it.
  const sealKey =
    decision.masterPassword && zone?.seal_key ? (JSON.parse(zone.seal_key) as Record<string, unknown>) : null;
  return { ...decision, sealKey };
}

/**
 * Every decision is audited with its reasons: when the page asks ("asked"), when it connects ("connect"), and when
 * an invitee joins a shared session ("join": the checkout is the session's user's; the actor is the joiner).
 */
export async function auditStepUp(
  c: Context<AppContext>,
  row: CheckoutRow,
  decision: StepUpDecision,
  phase: "asked" | "connect" | "join",
): Promise<void> {
  const user = c.get("user");
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.step_up",
    target: { type: "checkout", id: row.id },
    refs: { userId: user.id, serverId: row.server_id, checkoutId: row.id },
    data: {
      phase,
      decision: decision.decision,
      mfa: decision.mfa,
      masterPassword: decision.masterPassword,
      reasons: decision.reasons,
    },
  });
}

export const masterPasswordKeys = (userId: string): ThrottleKey[] => [
  { scope: "master_password", key: `mp:${userId}` },
];

/**
 * The gate POST /api/sessions passes before a grant is signed: decides, audits, refuses. Where policy asks
 * for the master password it returns the sealed form the browser sent (the connector checks it against the
 * verifier; a wrong one ends the session with `master_password_wrong`, a failure reserved by
 * reserveMasterPasswordGuess when the session is created), else null. A user locked out by wrong master passwords is
 * refused here.
 */
export async function passConnectGate(
  c: Context<AppContext>,
  row: CheckoutRow,
  sealedMasterPassword: string | undefined,
): Promise<string | null> {
  const decision = await stepUpDecision(c, row);
  await auditStepUp(c, row, decision, "connect");
  if (decision.decision === "deny")
    throw new ApiFailure("forbidden", `step-up refused: ${decision.reasons.map((r) => r.code).join(",")}`);
  if (decision.mfa)
    throw new ApiFailure("step_up_required", `second factor needed: ${decision.reasons.map((r) => r.code).join(",")}`);
  if (!decision.masterPassword) return null;
  const user = c.get("user");
  enforce(c, await throttleCheck(c.env.DB, masterPasswordKeys(user.id), Date.now()), `master password ${user.id}`);
  if (!decision.masterPasswordSet || sealedMasterPassword === undefined)
    throw new ApiFailure(
      "step_up_required",
      `master password ${decision.masterPasswordSet ? "missing" : "not set yet"}`,
    );
  // Sealed to a key the site has since replaced, it would not open: the page seals it again (not a wrong one).
  await requireSealedToCurrent(decision.sealKey ? JSON.stringify(decision.sealKey) : null, sealedMasterPassword);
  return sealedMasterPassword;
}

/**
 * One master-password guess, reserved on the user's throttle as a failure when the session is created, before the
 * grant carries it to the connector: guesses sent faster than the connector's verdicts still count, so no more than
 * the lock allows are ever in flight. The room gives it back when the connector takes the password or the session
 * ends before it was judged (masterPasswordSettled); a wrong one keeps it.
 */
export async function reserveMasterPasswordGuess(c: Context<AppContext>): Promise<void> {
  const user = c.get("user");
  enforce(c, await throttleReserve(c.env.DB, masterPasswordKeys(user.id), Date.now()), `master password ${user.id}`);
}

/** The room's word that a reserved guess was not found wrong: the failure it held is given back. */
export async function settleMasterPasswordGuess(env: Env, userId: string): Promise<void> {
  await throttleRelease(env.DB, { allowed: true, keys: masterPasswordKeys(userId), states: new Map() });
}

/**
 * The connector found the master password wrong: one failure on the user's master-password throttle (locked
 * after repeated ones, as at sign-in; already there when the guess was reserved at connect) and an audit entry.
 * The session's room asks for it when it ends so (durable/worker-effects.ts, provided by worker/index.ts).
 */
export async function countMasterPasswordFailure(
  env: Env,
  user: { id: string; name: string },
  reserved: boolean,
): Promise<void> {
  const keys = masterPasswordKeys(user.id);
  const after = reserved
    ? await throttleCheck(env.DB, keys, Date.now())
    : await throttleCount(env.DB, keys, Date.now());
  await record(env, {
    actor: user,
    action: !after.allowed && after.locked ? "auth.locked_out" : "auth.mfa_failed",
    target: { type: "user", id: user.id, name: user.name },
    refs: { userId: user.id },
    data: { method: "master_password", ...(after.allowed ? {} : { locked: after.locked }) },
  });
}
