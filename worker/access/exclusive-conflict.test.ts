// The one overlap rule for exclusive checkouts (new checkout, approval, extension): examples at the edges of
// the half-open windows, and properties (symmetric in the windows, same as interval overlap when it applies).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { exclusiveConflict, type Hold } from "./checkout.ts";

const hold = (over: Partial<Hold> = {}): Hold => ({
  id: "x",
  credentialId: "cred",
  status: "active",
  startsAt: 100,
  endsAt: 200,
  exclusive: true,
  ...over,
});

describe("exclusiveConflict", () => {
  it("windows that touch do not overlap; one minute in does", () => {
    const other = hold({ id: "o" });
    expect(exclusiveConflict(hold({ startsAt: 200, endsAt: 300 }), other)).toBe(false);
    expect(exclusiveConflict(hold({ startsAt: 0, endsAt: 100 }), other)).toBe(false);
    expect(exclusiveConflict(hold({ startsAt: 199, endsAt: 300 }), other)).toBe(true);
    expect(exclusiveConflict(hold({ startsAt: 0, endsAt: 101 }), other)).toBe(true);
  });

  it("applies where either side is exclusive, to open checkouts of the same credential other than itself", () => {
    const candidate = hold({ startsAt: 150, endsAt: 250 });
    expect(exclusiveConflict({ ...candidate, exclusive: false }, hold({ id: "o" }))).toBe(true);
    expect(exclusiveConflict(candidate, hold({ id: "o", exclusive: false }))).toBe(true);
    expect(exclusiveConflict({ ...candidate, exclusive: false }, hold({ id: "o", exclusive: false }))).toBe(false);
    expect(exclusiveConflict(candidate, hold({ id: "o", credentialId: "other" }))).toBe(false);
    expect(exclusiveConflict(candidate, hold())).toBe(false); // itself (an extension of this checkout)
    for (const status of ["pending_approval", "denied", "withdrawn", "expired", "checked_in", "revoked"] as const)
      expect(exclusiveConflict(candidate, hold({ id: "o", status }))).toBe(false);
    expect(exclusiveConflict(candidate, hold({ id: "o", status: "approved" }))).toBe(true);
  });

  it("is symmetric between two open holds and equals half-open interval overlap when exclusive", () => {
    const window = fc
      .tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 50 }))
      .map(([s, d]) => ({ startsAt: s, endsAt: s + d }));
    fc.assert(
      fc.property(window, window, fc.boolean(), fc.boolean(), (w1, w2, x1, x2) => {
        const a = hold({ id: "a", ...w1, exclusive: x1 });
        const b = hold({ id: "b", ...w2, exclusive: x2 });
        const overlap = Math.max(w1.startsAt, w2.startsAt) < Math.min(w1.endsAt, w2.endsAt);
        return (
          exclusiveConflict(a, b) === exclusiveConflict(b, a) && exclusiveConflict(a, b) === (overlap && (x1 || x2))
        );
      }),
      { numRuns: 2000 },
    );
  });
});
