// Adaptive step-up, pure: from what is known about this connect (zone, policy, device, network, time,
// failures, the last second factor) decide whether a second factor and/or the master password is
// needed, and say why in plain words. Audited and shown to the user by the caller.
import type { StepUpDecision, StepUpReason } from "../../protocol/index.ts";

export type Sensitivity = "low" | "normal" | "high";

export type StepUpInput = {
  now: number;
  zone: { name: string; sensitivity: Sensitivity };
  policy: { mfaRequired: boolean; masterPasswordRequired: boolean };
  /** This sign-in came from a device cookie the user had not signed in from before. */
  newDevice: boolean;
  /** request.cf at sign-in: a country / an ASN this user had not signed in from before. */
  country: string | null;
  newCountry: boolean;
  newNetwork: boolean;
  /** Last second factor on this sign-in, ms (null: none). */
  lastMfaAt: number | null;
  /** That last second factor was a security key / passkey (WebAuthn). */
  lastMfaByKey: boolean;
  /** Working hours in UTC, Monday to Friday, [start, end) hours; null: no working-hours rule. */
  workHours: { start: number; end: number } | null;
  /** Failed password / second-factor attempts on the account in the last hour. */
  recentFailures: number;
  /** duo: the deployment offers Duo, which every user can use (enrolment happens at Duo). */
  enrolled: { totp: boolean; webauthn: boolean; duo?: boolean };
  masterPasswordSet: boolean;
};

const MINUTE = 60_000;
/** A second factor this recent satisfies a high-sensitivity zone, ms. */
export const FRESH_FOR_SENSITIVE_MS = 5 * MINUTE;
/** ...a risk signal or a policy asking for MFA, ms. */
export const FRESH_FOR_RISK_MS = 15 * MINUTE;
/** Older than this, a connect to a normal zone asks again, ms. */
export const MFA_MAX_AGE_MS = 12 * 60 * MINUTE;
/** Failures on the account within the hour that count as a signal. */
export const FAILURES_SIGNAL = 3;

export function outOfHours(now: number, hours: { start: number; end: number } | null): boolean {
  if (!hours) return false;
  const d = new Date(now);
  const day = d.getUTCDay();
  const hour = d.getUTCHours();
  return day === 0 || day === 6 || hour < hours.start || hour >= hours.end;
}

/** "07-19" -> { start: 7, end: 19 }; "always" or unparsable -> the default or null. */
export function parseWorkHours(text: string | undefined): { start: number; end: number } | null {
  if (text === "always") return null;
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(text ?? "07-19");
  if (!m) return { start: 7, end: 19 };
  return { start: Number(m[1]), end: Number(m[2]) };
}

type Need = { reason: StepUpReason; freshMs: number; hard: boolean; keyOnly: boolean };

/** The decision, without the site key the glue adds (worker/auth/connect-gate.ts). */
export function decideStepUp(input: StepUpInput): Omit<StepUpDecision, "sealKey"> {
  const needs: Need[] = [];
  const need = (code: StepUpReason["code"], text: string, freshMs: number, hard = false, keyOnly = false) =>
    needs.push({ reason: { code, text }, freshMs, hard, keyOnly });
  const hasFactor = input.enrolled.totp || input.enrolled.webauthn || !!input.enrolled.duo;

  if (input.zone.sensitivity === "high")
    need(
      "sensitive_zone",
      `${input.zone.name} is a high-sensitivity zone${input.enrolled.webauthn ? ": use your security key" : ""}`,
      FRESH_FOR_SENSITIVE_MS,
      true,
      input.enrolled.webauthn,
    );
  if (input.policy.mfaRequired)
    need("policy_mfa", "This server's policy requires a second factor", FRESH_FOR_RISK_MS, true);
  if (input.newDevice) need("new_device", "New device", FRESH_FOR_RISK_MS);
  if (input.newCountry)
    need("new_country", `Signed in from a new country${input.country ? ` (${input.country})` : ""}`, FRESH_FOR_RISK_MS);
  if (input.newNetwork) need("new_network", "Signed in from a new network", FRESH_FOR_RISK_MS);
  if (input.recentFailures >= FAILURES_SIGNAL)
    need(
      "failed_attempts",
      `${input.recentFailures} failed attempts on your account in the last hour`,
      FRESH_FOR_RISK_MS,
    );
  if (outOfHours(input.now, input.workHours)) need("out_of_hours", "Outside working hours", FRESH_FOR_RISK_MS);
  if (hasFactor && input.zone.sensitivity !== "low")
    need("mfa_stale", "No second factor in the last 12 hours", MFA_MAX_AGE_MS);

  const unmet = needs.filter(
    (n) => input.lastMfaAt === null || input.now - input.lastMfaAt > n.freshMs || (n.keyOnly && !input.lastMfaByKey),
  );
  const masterPassword = input.policy.masterPasswordRequired;
  const mpReason: StepUpReason[] = masterPassword
    ? [{ code: "policy_master_password", text: "This server's policy asks for your master password" }]
    : [];
  const keyOnly = unmet.some((n) => n.keyOnly);
  const base = { masterPassword, masterPasswordSet: input.masterPasswordSet };

  if (unmet.length && !hasFactor) {
    // Policy or a sensitive zone needs a factor the user does not have: refuse, and say how to fix it.
    if (unmet.some((n) => n.hard))
      return {
        ...base,
        decision: "deny",
        mfa: "any",
        reasons: [
          ...unmet.map((n) => n.reason),
          { code: "no_mfa_enrolled", text: "Set up a second factor on your Account page to connect" },
        ],
      };
    // Risk signals alone, and nothing to ask for: allowed, and the signals are still audited.
    return {
      ...base,
      decision: masterPassword ? "step_up" : "allow",
      mfa: null,
      reasons: [...unmet.map((n) => n.reason), ...mpReason],
    };
  }
  const mfa = unmet.length ? (keyOnly ? "webauthn" : "any") : null;
  return {
    ...base,
    decision: mfa || masterPassword ? "step_up" : "allow",
    mfa,
    reasons: [...unmet.map((n) => n.reason), ...mpReason],
  };
}
