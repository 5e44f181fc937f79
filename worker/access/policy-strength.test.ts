// The "weaker policy" order a zone admin's policy choice is held to: each control on its own, examples
// for every control, and properties (reflexive, the order is transitive, strengthening never weakens).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_POLICY } from "./policy.ts";
import { isWeaker, type PolicyStrength, weakerOn } from "./policy-strength.ts";

const strict: PolicyStrength = {
  ...DEFAULT_POLICY,
  approvalRequired: true,
  quorum: 2,
  recordingRequired: true,
  recordingEnabled: true,
  recordKeystrokes: true,
  liveViewAllowed: true,
  mfaRequired: true,
  masterPasswordRequired: true,
  maxCheckoutMinutes: 60,
  maxSessionMinutes: 60,
  extensionApprovalRequired: true,
  extensionMinutes: 15,
  maxExtensions: 1,
  moderatorsRequired: 2,
};

const strength: fc.Arbitrary<PolicyStrength> = fc.record({
  approvalRequired: fc.boolean(),
  quorum: fc.integer({ min: 1, max: 5 }),
  recordingRequired: fc.boolean(),
  recordingEnabled: fc.boolean(),
  recordKeystrokes: fc.boolean(),
  liveViewAllowed: fc.boolean(),
  mfaRequired: fc.boolean(),
  masterPasswordRequired: fc.boolean(),
  maxCheckoutMinutes: fc.integer({ min: 1, max: 2000 }),
  maxSessionMinutes: fc.integer({ min: 1, max: 2000 }),
  extensionApprovalRequired: fc.boolean(),
  extensionMinutes: fc.option(fc.integer({ min: 1, max: 120 })),
  maxExtensions: fc.integer({ min: 0, max: 5 }),
  moderatorsRequired: fc.integer({ min: 0, max: 5 }),
  sessionSharing: fc.boolean(),
});

describe("weakerOn", () => {
  it("names every control on which a policy drops below the zone's", () => {
    expect(weakerOn(strict, strict)).toEqual([]);
    expect(weakerOn({ ...strict, approvalRequired: false }, strict)).toEqual(["approval"]);
    expect(weakerOn({ ...strict, quorum: 1 }, strict)).toEqual(["quorum"]);
    expect(weakerOn({ ...strict, moderatorsRequired: 1 }, strict)).toEqual(["moderation"]);
    expect(weakerOn({ ...strict, sessionSharing: true }, strict)).toEqual(["sharing"]);
    expect(weakerOn(strict, { ...strict, sessionSharing: true })).toEqual([]);
    expect(weakerOn({ ...strict, recordingRequired: false }, strict)).toEqual(["recording"]);
    // Recording off is weaker than best effort, which is weaker than required.
    const bestEffort = { ...strict, recordingRequired: false, recordingEnabled: true };
    expect(weakerOn({ ...bestEffort, recordingEnabled: false }, bestEffort)).toEqual(["recording"]);
    expect(weakerOn(bestEffort, { ...bestEffort, recordingEnabled: false })).toEqual([]);
    expect(weakerOn({ ...strict, recordKeystrokes: false }, strict)).toEqual(["keystrokes"]);
    expect(weakerOn({ ...strict, liveViewAllowed: false }, strict)).toEqual(["live_view"]);
    expect(weakerOn({ ...strict, mfaRequired: false }, strict)).toEqual(["mfa"]);
    expect(weakerOn({ ...strict, masterPasswordRequired: false }, strict)).toEqual(["master_password"]);
    expect(weakerOn({ ...strict, maxCheckoutMinutes: 61 }, strict)).toEqual(["max_checkout"]);
    expect(weakerOn({ ...strict, maxSessionMinutes: 61 }, strict)).toEqual(["max_session"]);
    expect(weakerOn({ ...strict, extensionApprovalRequired: false }, strict)).toEqual(["extension_approval"]);
    expect(weakerOn({ ...strict, maxExtensions: 2 }, strict)).toEqual(["extension_budget"]);
  });

  it("the attack of the issue: no approval, no recording, no live view, no MFA is weaker on all four", () => {
    const open = { ...strict, approvalRequired: false, recordingRequired: false, liveViewAllowed: false };
    expect(weakerOn({ ...open, mfaRequired: false }, strict)).toEqual(
      expect.arrayContaining(["approval", "recording", "live_view", "mfa"]),
    );
  });

  it("a stronger control does not buy a weaker one", () => {
    expect(weakerOn({ ...strict, quorum: 5, mfaRequired: false }, strict)).toEqual(["mfa"]);
    expect(weakerOn({ ...strict, maxCheckoutMinutes: 5, recordingRequired: false }, strict)).toEqual(["recording"]);
  });

  it("quorum counts only where approval is required; no extensions leaves nothing to approve", () => {
    const noApproval = { ...strict, approvalRequired: false, quorum: 3 };
    expect(weakerOn({ ...noApproval, quorum: 1 }, noApproval)).toEqual([]);
    expect(weakerOn({ ...strict, extensionMinutes: null, extensionApprovalRequired: false }, strict)).toEqual([]);
    expect(weakerOn({ ...strict, maxExtensions: 0, extensionApprovalRequired: false }, strict)).toEqual([]);
  });

  it("the built-in default is weaker than a strict zone, and anything is at least as strong as itself", () => {
    expect(isWeaker(DEFAULT_POLICY, strict)).toBe(true);
    fc.assert(fc.property(strength, (p) => weakerOn(p, p).length === 0));
  });

  it("is transitive: strengthening step by step never ends weaker than where it started", () => {
    // Each step turns controls on, shortens limits or asks for more approvals: never weaker than the step before.
    const step = fc.record({
      flags: fc.subarray(["approvalRequired", "recordingRequired", "recordKeystrokes", "mfaRequired"] as const),
      quorumUp: fc.integer({ min: 0, max: 2 }),
      shorter: fc.integer({ min: 0, max: 500 }),
    });
    const apply = (p: PolicyStrength, s: { flags: readonly string[]; quorumUp: number; shorter: number }) => {
      const next: PolicyStrength = { ...p, quorum: p.quorum + s.quorumUp };
      for (const flag of s.flags) (next as Record<string, unknown>)[flag] = true;
      next.maxCheckoutMinutes = Math.max(1, p.maxCheckoutMinutes - s.shorter);
      return next;
    };
    fc.assert(
      fc.property(strength, step, step, (c, s1, s2) => {
        const b = apply(c, s1);
        const a = apply(b, s2);
        return !isWeaker(b, c) && !isWeaker(a, b) && !isWeaker(a, c);
      }),
      { numRuns: 2000 },
    );
  });

  it("turning a control on, or shortening a limit, never makes a policy weaker than before", () => {
    fc.assert(
      fc.property(strength, strength, (p, floor) => {
        const stronger: PolicyStrength = {
          ...p,
          approvalRequired: true,
          quorum: p.approvalRequired ? p.quorum : Math.max(p.quorum, floor.quorum),
          recordingRequired: true,
          mfaRequired: true,
          maxSessionMinutes: Math.min(p.maxSessionMinutes, floor.maxSessionMinutes),
        };
        const before = new Set(weakerOn(p, floor));
        return weakerOn(stronger, floor).every((control) => before.has(control));
      }),
      { numRuns: 1000 },
    );
  });
});
