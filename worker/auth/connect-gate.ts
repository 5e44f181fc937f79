// Step-up at connect, glue: gathers the inputs of the pure decideStepUp() from D1 and the sign-in,
// audits the decision with its reasons, and checks the master password (PBKDF2, throttled, lockout).
import type { Context } from "hono";
import type { StepUpDecision } from "../../protocol/index.ts";
import type { CheckoutRow } from "../access/checkout-store.ts";
import { rowPolicy } from "../access/checkout-store.ts";
import { actorOf, record } from "../audit.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { verifyPassword } from "./password.ts";
import { factorsOf } from "./sign-in.ts";
import { decideStepUp, parseWorkHours, type Sensitivity } from "./step-up.ts";
import { check, combine } from "./throttle.ts";
import { enforce, type ThrottleKey, throttleRelease, throttleReserve } from "./throttle-store.ts";

const HOUR = 60 * 60_000;

export async function stepUpDecision(c: Context<AppContext>, row: CheckoutRow): Promise<StepUpDecision> {
  const user = c.get("user");
  const signIn = c.get("signIn");
  const now = Date.now();
  const [zone, factors, account, failures] = await Promise.all([
    c.env.DB.prepare("SELECT name, sensitivity FROM zones WHERE id = ?")
      .bind(row.zone_id)
      .first<{ name: string; sensitivity: Sensitivity }>(),
    factorsOf(c.env.DB, user.id),
    c.env.DB.prepare("SELECT master_password_hash FROM users WHERE id = ?")
      .bind(user.id)
      .first<{ master_password_hash: string | null }>(),
    // Password and second-factor failures on the account in the last hour, from any address (the
    // throttle's own counters).
    c.env.DB.prepare(
      "SELECT COALESCE(sum(failures), 0) AS n FROM auth_throttle WHERE (key IN (?, ?) OR key LIKE ? OR key LIKE ?) AND last_failure_at > ?",
    )
      .bind(`acct:${user.id}`, `mfa:${user.id}`, `acct-ip:${user.id}:%`, `mfa-ip:${user.id}:%`, now - HOUR)
      .first<{ n: number }>(),
  ]);
  const policy = rowPolicy(row);
  return decideStepUp({
    now,
    zone: { name: zone?.name ?? "this zone", sensitivity: zone?.sensitivity ?? "normal" },
    policy: { mfaRequired: policy.mfaRequired, masterPasswordRequired: policy.masterPasswordRequired },
    newDevice: !!signIn.risk.newDevice,
    country: signIn.risk.country ?? null,
    newCountry: !!signIn.risk.newCountry,
    newNetwork: !!signIn.risk.newNetwork,
    lastMfaAt: signIn.mfaAt,
    lastMfaByKey: signIn.amr.at(-1) === "hwk",
    workHours: parseWorkHours(c.env.WORK_HOURS_UTC),
    recentFailures: failures?.n ?? 0,
    enrolled: { totp: factors.totp, webauthn: factors.webauthn > 0 },
    masterPasswordSet: !!account?.master_password_hash,
  });
}

/** Every decision is audited with its reasons: when the page asks ("asked") and when it connects ("connect"). */
export async function auditStepUp(
  c: Context<AppContext>,
  row: CheckoutRow,
  decision: StepUpDecision,
  phase: "asked" | "connect",
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

const masterPasswordKeys = (userId: string): ThrottleKey[] => [{ scope: "master_password", key: `mp:${userId}` }];

/**
 * Checks the master password: throttled per user, locked after repeated failures, failures audited.
 * The value is compared and dropped: never stored, never logged, never in an error's detail.
 */
export async function checkMasterPassword(c: Context<AppContext>, given: string | undefined): Promise<void> {
  const user = c.get("user");
  const keys = masterPasswordKeys(user.id);
  const now = Date.now();
  // Counted before the check: parallel guesses each see the ones before them.
  const verdict = await throttleReserve(c.env.DB, keys, now);
  if (!verdict.allowed) {
    await record(c.env, {
      actor: actorOf(user),
      action: "auth.locked_out",
      target: { type: "user", id: user.id, name: user.username },
      refs: { userId: user.id },
      data: { what: "master_password", locked: verdict.locked },
    });
    enforce(c, verdict, `master password ${user.id}`);
  }
  const row = await c.env.DB.prepare("SELECT master_password_hash FROM users WHERE id = ?")
    .bind(user.id)
    .first<{ master_password_hash: string | null }>();
  if (!row?.master_password_hash || given === undefined) {
    // Nothing was guessed: give the attempt back.
    await throttleRelease(c.env.DB, verdict);
    throw new ApiFailure(
      "step_up_required",
      `master password ${row?.master_password_hash ? "missing" : "not set yet"}`,
    );
  }
  if (!(await verifyPassword(given, row.master_password_hash))) {
    const after = combine(keys.map((k) => check(k.scope, verdict.states.get(k.key) ?? null, now)));
    await record(c.env, {
      actor: actorOf(user),
      action: "auth.mfa_failed",
      target: { type: "user", id: user.id, name: user.username },
      refs: { userId: user.id },
      data: { method: "master_password", ...(after.allowed ? {} : { locked: after.locked }) },
    });
    throw new ApiFailure("forbidden", `wrong master password for ${user.id}`);
  }
  // A success gives back this attempt only: earlier wrong ones stay counted until forgotten.
  await throttleRelease(c.env.DB, verdict);
}

/**
 * The gate POST /api/sessions passes before a grant is signed: decides, audits, refuses or checks the
 * master password. Returns the master password when policy asked for it (see the EmpowerID marker
 * in routes/sessions.ts), else null.
 */
export async function passConnectGate(
  c: Context<AppContext>,
  row: CheckoutRow,
  masterPassword: string | undefined,
): Promise<string | null> {
  const decision = await stepUpDecision(c, row);
  await auditStepUp(c, row, decision, "connect");
  if (decision.decision === "deny")
    throw new ApiFailure("forbidden", `step-up refused: ${decision.reasons.map((r) => r.code).join(",")}`);
  if (decision.mfa)
    throw new ApiFailure("step_up_required", `second factor needed: ${decision.reasons.map((r) => r.code).join(",")}`);
  if (!decision.masterPassword) return null;
  await checkMasterPassword(c, masterPassword);
  return masterPassword ?? null;
}
