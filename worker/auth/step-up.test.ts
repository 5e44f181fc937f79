// Every step-up rule, one at a time from a quiet baseline, plus how they combine.
import { describe, expect, it } from "vitest";
import {
  decideStepUp,
  FRESH_FOR_RISK_MS,
  FRESH_FOR_SENSITIVE_MS,
  MFA_MAX_AGE_MS,
  outOfHours,
  parseWorkHours,
  type StepUpInput,
} from "./step-up.ts";

// Wednesday 2026-11-25 10:00 UTC: inside working hours.
const NOW = Date.UTC(2026, 10, 25, 10, 0, 0);
const base: StepUpInput = {
  now: NOW,
  zone: { name: "Prod DB", sensitivity: "normal" },
  policy: { mfaRequired: false, masterPasswordRequired: false },
  newDevice: false,
  country: "DE",
  newCountry: false,
  newNetwork: false,
  lastMfaAt: NOW - 60_000,
  lastMfaByKey: false,
  workHours: { start: 7, end: 19 },
  recentFailures: 0,
  enrolled: { totp: true, webauthn: false },
  masterPasswordSet: true,
};
const codes = (i: Partial<StepUpInput>) => decideStepUp({ ...base, ...i }).reasons.map((r) => r.code);

describe("step-up policy", () => {
  it("allows a quiet connect with a recent second factor", () => {
    expect(decideStepUp(base)).toEqual({
      decision: "allow",
      mfa: null,
      masterPassword: false,
      masterPasswordSet: true,
      reasons: [],
    });
  });

  it("high-sensitivity zone: a second factor within 5 minutes, the security key when there is one", () => {
    const d = decideStepUp({
      ...base,
      zone: { name: "Prod DB", sensitivity: "high" },
      lastMfaAt: NOW - FRESH_FOR_SENSITIVE_MS - 1,
    });
    expect(d).toMatchObject({ decision: "step_up", mfa: "any" });
    expect(d.reasons[0]!.text).toBe("Prod DB is a high-sensitivity zone");
    const key = decideStepUp({
      ...base,
      zone: { name: "Prod DB", sensitivity: "high" },
      enrolled: { totp: true, webauthn: true },
      lastMfaAt: NOW - FRESH_FOR_SENSITIVE_MS - 1,
    });
    expect(key).toMatchObject({ decision: "step_up", mfa: "webauthn" });
    expect(decideStepUp({ ...base, zone: { name: "x", sensitivity: "high" }, lastMfaAt: NOW - 1000 }).decision).toBe(
      "allow",
    );
  });

  it("policy flag: a second factor within 15 minutes", () => {
    const policy = { mfaRequired: true, masterPasswordRequired: false };
    expect(decideStepUp({ ...base, policy, lastMfaAt: NOW - FRESH_FOR_RISK_MS + 1000 }).decision).toBe("allow");
    expect(codes({ policy, lastMfaAt: NOW - FRESH_FOR_RISK_MS - 1 })).toEqual(["policy_mfa"]);
  });

  it("new device", () => {
    expect(codes({ newDevice: true, lastMfaAt: NOW - FRESH_FOR_RISK_MS - 1 })).toEqual(["new_device"]);
    expect(decideStepUp({ ...base, newDevice: true }).decision).toBe("allow");
  });

  it("new country, named; new network", () => {
    const d = decideStepUp({ ...base, newCountry: true, lastMfaAt: null });
    expect(d.reasons.find((r) => r.code === "new_country")?.text).toBe("Signed in from a new country (DE)");
    expect(codes({ newNetwork: true, lastMfaAt: NOW - FRESH_FOR_RISK_MS - 1 })).toEqual(["new_network"]);
  });

  it("time since the last second factor: none, or older than 12 hours", () => {
    expect(codes({ lastMfaAt: null })).toEqual(["mfa_stale"]);
    expect(codes({ lastMfaAt: NOW - MFA_MAX_AGE_MS - 1 })).toEqual(["mfa_stale"]);
    expect(codes({ lastMfaAt: NOW - MFA_MAX_AGE_MS + 60_000 })).toEqual([]);
    // Low-sensitivity zones do not ask for age alone.
    expect(codes({ lastMfaAt: null, zone: { name: "lab", sensitivity: "low" } })).toEqual([]);
  });

  it("out of hours: evenings, nights and weekends (UTC); no rule when working hours are off", () => {
    const evening = Date.UTC(2026, 10, 25, 20, 0, 0);
    const saturday = Date.UTC(2026, 10, 28, 10, 0, 0);
    expect(codes({ now: evening, lastMfaAt: evening - FRESH_FOR_RISK_MS - 1 })).toEqual(["out_of_hours"]);
    expect(codes({ now: saturday, lastMfaAt: saturday - FRESH_FOR_RISK_MS - 1 })).toEqual(["out_of_hours"]);
    expect(codes({ now: saturday, workHours: null, lastMfaAt: saturday - FRESH_FOR_RISK_MS - 1 })).toEqual([]);
    expect(outOfHours(Date.UTC(2026, 10, 25, 6, 59), { start: 7, end: 19 })).toBe(true);
    expect(outOfHours(Date.UTC(2026, 10, 25, 7, 0), { start: 7, end: 19 })).toBe(false);
    expect(parseWorkHours(undefined)).toEqual({ start: 7, end: 19 });
    expect(parseWorkHours("08-17")).toEqual({ start: 8, end: 17 });
    expect(parseWorkHours("always")).toBeNull();
  });

  it("failed attempts: three or more in the hour", () => {
    expect(codes({ recentFailures: 2, lastMfaAt: NOW - FRESH_FOR_RISK_MS - 1 })).toEqual([]);
    const d = decideStepUp({ ...base, recentFailures: 4, lastMfaAt: NOW - FRESH_FOR_RISK_MS - 1 });
    expect(d.reasons).toEqual([
      { code: "failed_attempts", text: "4 failed attempts on your account in the last hour" },
    ]);
  });

  it("master password when policy says so, with or without MFA, and says whether it still has to be set", () => {
    const policy = { mfaRequired: false, masterPasswordRequired: true };
    expect(decideStepUp({ ...base, policy })).toEqual({
      decision: "step_up",
      mfa: null,
      masterPassword: true,
      masterPasswordSet: true,
      reasons: [{ code: "policy_master_password", text: "This server's policy asks for your master password" }],
    });
    expect(decideStepUp({ ...base, policy, masterPasswordSet: false }).masterPasswordSet).toBe(false);
  });

  it("no second factor enrolled: policy or a sensitive zone refuses, risk signals alone are allowed and listed", () => {
    const none = { enrolled: { totp: false, webauthn: false }, lastMfaAt: null };
    const policy = decideStepUp({ ...base, ...none, policy: { mfaRequired: true, masterPasswordRequired: false } });
    expect(policy.decision).toBe("deny");
    expect(policy.reasons.at(-1)?.code).toBe("no_mfa_enrolled");
    expect(decideStepUp({ ...base, ...none, zone: { name: "z", sensitivity: "high" } }).decision).toBe("deny");
    const risk = decideStepUp({ ...base, ...none, newDevice: true });
    expect(risk).toMatchObject({ decision: "allow", mfa: null });
    expect(risk.reasons.map((r) => r.code)).toEqual(["new_device"]);
    // And with nothing at all, no reason is invented.
    expect(decideStepUp({ ...base, ...none }).reasons).toEqual([]);
  });

  it("Duo offered by the deployment is a factor every user has: policy and risk ask for it instead of refusing", () => {
    const duoOnly = { enrolled: { totp: false, webauthn: false, duo: true }, lastMfaAt: null };
    const policy = decideStepUp({
      ...duoOnly,
      ...base,
      ...duoOnly,
      policy: { mfaRequired: true, masterPasswordRequired: false },
    });
    expect(policy).toMatchObject({ decision: "step_up", mfa: "any" });
    expect(decideStepUp({ ...base, ...duoOnly, newDevice: true })).toMatchObject({ decision: "step_up", mfa: "any" });
    // A Duo push is not a security key: a high-sensitivity zone still asks for the key of a user who has one.
    const keyUser = {
      enrolled: { totp: false, webauthn: true, duo: true },
      lastMfaAt: NOW - 60_000,
      lastMfaByKey: false,
    };
    expect(decideStepUp({ ...base, ...keyUser, zone: { name: "z", sensitivity: "high" } }).mfa).toBe("webauthn");
  });

  it("several signals: all reasons, one step-up", () => {
    const d = decideStepUp({ ...base, newDevice: true, newCountry: true, recentFailures: 5, lastMfaAt: null });
    expect(d.decision).toBe("step_up");
    expect(d.reasons.map((r) => r.code)).toEqual(["new_device", "new_country", "failed_attempts", "mfa_stale"]);
  });
});
