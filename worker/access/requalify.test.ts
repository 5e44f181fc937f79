// requalify: which policy changes end an open checkout, and which leave it be.
import { describe, expect, it } from "vitest";
import type { Policy } from "../../protocol/index.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { type Held, mayWatch, requalify } from "./requalify.ts";

const HOUR = 3_600_000;
const held = (over: Partial<Held> = {}): Held => ({
  status: "active",
  granted: DEFAULT_POLICY,
  approvals: 0,
  startsAt: 0,
  endsAt: 2 * HOUR,
  ...over,
});
const policy = (over: Partial<Policy>): Policy => ({ ...DEFAULT_POLICY, ...over });

describe("requalify", () => {
  it("ends a checkout whose entitlement is gone", () => {
    expect(requalify(held(), null)).toEqual({ ok: false, why: "entitlement removed" });
  });

  it("leaves one alone when the policy is unchanged or only loosened", () => {
    expect(requalify(held(), DEFAULT_POLICY)).toEqual({ ok: true });
    expect(requalify(held(), policy({ maxSessionMinutes: 9_000, liveViewAllowed: false }))).toEqual({ ok: true });
    expect(requalify(held({ granted: policy({ recordingRequired: true }) }), DEFAULT_POLICY)).toEqual({ ok: true });
  });

  it("ends one that now needs approvals it does not have; a pending one waits for its approvers", () => {
    const strict = policy({ approvalRequired: true, quorum: 2 });
    expect(requalify(held(), strict)).toMatchObject({ ok: false, why: "the policy now requires approval" });
    expect(requalify(held({ approvals: 1 }), strict)).toMatchObject({
      ok: false,
      why: expect.stringContaining("2 approvals"),
    });
    expect(requalify(held({ approvals: 2 }), strict)).toEqual({ ok: true });
    expect(requalify(held({ status: "pending_approval" }), strict)).toEqual({ ok: true });
  });

  it("ends one whose window the policy no longer allows, or that lacks a control the policy now requires", () => {
    expect(requalify(held(), policy({ maxCheckoutMinutes: 60 })).ok).toBe(false);
    expect(requalify(held(), policy({ maxCheckoutMinutes: 120 })).ok).toBe(true);
    for (const control of [
      "recordingRequired",
      "mfaRequired",
      "masterPasswordRequired",
      "rdpRequireNla",
      "rdpRequireSandbox",
    ] as const) {
      expect(requalify(held(), policy({ [control]: true })).ok).toBe(false);
      expect(requalify(held({ granted: policy({ [control]: true }) }), policy({ [control]: true })).ok).toBe(true);
    }
  });
});

describe("mayWatch", () => {
  const zones = new Set(["z1"]);
  it("admins and auditors everywhere, zone admins in their zones, nobody disabled", () => {
    expect(mayWatch({ disabled: false, roles: ["admin"], zones: new Set() }, "z9")).toBe(true);
    expect(mayWatch({ disabled: false, roles: ["auditor"], zones: new Set() }, "z9")).toBe(true);
    expect(mayWatch({ disabled: false, roles: ["zone_admin"], zones }, "z1")).toBe(true);
    expect(mayWatch({ disabled: false, roles: ["zone_admin"], zones }, "z2")).toBe(false);
    expect(mayWatch({ disabled: false, roles: ["requester"], zones }, "z1")).toBe(false);
    expect(mayWatch({ disabled: true, roles: ["admin"], zones }, "z1")).toBe(false);
  });
});
