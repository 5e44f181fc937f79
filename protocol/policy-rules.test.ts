import { describe, expect, it } from "vitest";
import { minutesText, type PolicyLimits, policyProblems, recordingMode } from "./policy-rules.ts";

const sane: PolicyLimits = {
  maxCheckoutMinutes: 480,
  maxSessionMinutes: 240,
  approvalRequired: true,
  quorum: 1,
  pendingTtlMinutes: 1440,
  idleTimeoutMinutes: 30,
  extensionMinutes: 60,
  disconnectGraceMinutes: 10,
  liveViewAllowed: true,
  moderatorsRequired: 0,
  moderatorGroupId: null,
  approverGroupId: null,
  commandRules: [],
};
const rules = (p: Partial<PolicyLimits>) => policyProblems(p).map((x) => [x.field, x.rule]);

describe("policyProblems", () => {
  it("accepts a sane policy, the built-in defaults, and limits equal to the session", () => {
    expect(policyProblems(sane)).toEqual([]);
    expect(policyProblems({ ...sane, idleTimeoutMinutes: null, extensionMinutes: null })).toEqual([]);
    expect(
      policyProblems({ ...sane, maxCheckoutMinutes: 240, extensionMinutes: 240, idleTimeoutMinutes: 240 }),
    ).toEqual([]);
    // Approval off: the quorum is not used.
    expect(policyProblems({ ...sane, approvalRequired: false, quorum: 0 })).toEqual([]);
  });

  it("refuses an extension, idle timeout or away limit longer than the session, and a checkout shorter than it", () => {
    expect(rules({ ...sane, extensionMinutes: 300 })).toEqual([["extensionMinutes", "extension_longer_than_session"]]);
    expect(rules({ ...sane, idleTimeoutMinutes: 241 })).toEqual([["idleTimeoutMinutes", "idle_longer_than_session"]]);
    expect(rules({ ...sane, disconnectGraceMinutes: 600 })).toEqual([
      ["disconnectGraceMinutes", "grace_longer_than_session"],
    ]);
    expect(rules({ ...sane, maxCheckoutMinutes: 60 })).toEqual([
      ["maxCheckoutMinutes", "checkout_shorter_than_session"],
    ]);
    const [problem] = policyProblems({ ...sane, maxSessionMinutes: 120, extensionMinutes: 180 });
    expect(problem!.message).toBe("An extension (3 h) cannot be longer than the longest session (2 h).");
  });

  it("refuses zero approvals with approval on, and zero, negative or fractional durations", () => {
    expect(rules({ ...sane, quorum: 0 })).toEqual([["quorum", "no_approvals_needed"]]);
    expect(rules({ ...sane, maxSessionMinutes: 0 })).toEqual([["maxSessionMinutes", "duration_not_positive"]]);
    expect(rules({ ...sane, extensionMinutes: -5 })).toEqual([["extensionMinutes", "duration_not_positive"]]);
    expect(rules({ ...sane, idleTimeoutMinutes: 1.5 })).toEqual([["idleTimeoutMinutes", "duration_not_positive"]]);
  });

  it("lists every problem in the form's order, so the form can focus the first", () => {
    expect(
      rules({ ...sane, quorum: 0, maxCheckoutMinutes: 10, extensionMinutes: 999, idleTimeoutMinutes: 999 }),
    ).toEqual([
      ["quorum", "no_approvals_needed"],
      ["maxCheckoutMinutes", "checkout_shorter_than_session"],
      ["extensionMinutes", "extension_longer_than_session"],
      ["idleTimeoutMinutes", "idle_longer_than_session"],
    ]);
  });

  it("on a partial body, compares only fields given together", () => {
    expect(policyProblems({ extensionMinutes: 600 })).toEqual([]);
    expect(policyProblems({ maxSessionMinutes: 30 })).toEqual([]);
    expect(rules({ maxSessionMinutes: 30, extensionMinutes: 60 })).toEqual([
      ["extensionMinutes", "extension_longer_than_session"],
    ]);
  });

  it("words durations the way people say them", () => {
    expect(minutesText(45)).toBe("45 min");
    expect(minutesText(90)).toBe("1 h 30 min");
    expect(minutesText(2880)).toBe("2 d");
  });
});

describe("recordingMode", () => {
  it("required wins; unticked recording is off; a policy stored before the switch records", () => {
    expect(recordingMode({ recordingRequired: true, recordingEnabled: false })).toBe("required");
    expect(recordingMode({ recordingRequired: false, recordingEnabled: false })).toBe("off");
    expect(recordingMode({ recordingRequired: false, recordingEnabled: true })).toBe("best-effort");
    expect(recordingMode({ recordingRequired: false })).toBe("best-effort");
  });
});

describe("policyProblems: moderated sessions", () => {
  it("needs a moderator group and live view", () => {
    expect(rules({ ...sane, moderatorsRequired: 2 })).toEqual([["moderatorGroupId", "moderation_without_group"]]);
    expect(rules({ ...sane, moderatorsRequired: 1, moderatorGroupId: "g1", liveViewAllowed: false })).toEqual([
      ["liveViewAllowed", "moderation_without_live_view"],
    ]);
    expect(rules({ ...sane, moderatorsRequired: 1, moderatorGroupId: "g1" })).toEqual([]);
    expect(rules({ ...sane, liveViewAllowed: false })).toEqual([]);
  });
});

describe("policyProblems: command review", () => {
  it("needs someone to review: the approver group or the moderator group", () => {
    const review = { commandRules: [{ action: "alert" }, { action: "review" }] };
    expect(rules({ ...sane, ...review })).toEqual([["commandRules", "review_without_reviewers"]]);
    expect(rules({ ...sane, ...review, approverGroupId: "g1" })).toEqual([]);
    expect(rules({ ...sane, ...review, moderatorGroupId: "g2" })).toEqual([]);
    expect(rules({ ...sane, commandRules: [{ action: "deny" }] })).toEqual([]);
    // A PATCH naming only the rules is checked against the merged policy by the route.
    expect(rules(review)).toEqual([]);
  });
});
