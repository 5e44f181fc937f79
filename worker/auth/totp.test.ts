// TOTP acceptance: ±1 step, replay refused, wrong codes refused; recovery code format.
import { describe, expect, it } from "vitest";
import { acceptTotp, newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, totpAt, totpUri } from "./totp.ts";

const STEP = 30_000;

describe("TOTP", () => {
  const secret = newTotpSecret();
  const now = 1_800_000_000_000;
  const step = Math.floor(now / STEP);

  it("accepts the current code and one step either side, not two", () => {
    expect(acceptTotp(secret, totpAt(secret, now), now, 0)).toBe(step);
    expect(acceptTotp(secret, totpAt(secret, now - STEP), now, 0)).toBe(step - 1);
    expect(acceptTotp(secret, totpAt(secret, now + STEP), now, 0)).toBe(step + 1);
    expect(acceptTotp(secret, totpAt(secret, now - 2 * STEP), now, 0)).toBeNull();
    expect(acceptTotp(secret, totpAt(secret, now + 2 * STEP), now, 0)).toBeNull();
  });

  it("refuses a code whose step was already used, and older ones", () => {
    const code = totpAt(secret, now);
    expect(acceptTotp(secret, code, now, step)).toBeNull();
    expect(acceptTotp(secret, totpAt(secret, now - STEP), now, step)).toBeNull();
    expect(acceptTotp(secret, totpAt(secret, now + STEP), now + STEP, step)).toBe(step + 1);
  });

  it("refuses another secret's code", () => {
    const other = newTotpSecret();
    expect(acceptTotp(secret, totpAt(other, now), now, 0)).toBeNull();
  });

  it("gives an otpauth URI an app can scan", () => {
    expect(totpUri(secret, "alice")).toMatch(/^otpauth:\/\/totp\/PSM:alice\?.*secret=[A-Z2-7]+/);
  });

  it("makes ten distinct recovery codes that normalise case and dashes away", () => {
    const codes = newRecoveryCodes();
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(normaliseRecoveryCode(codes[0]!.toUpperCase())).toBe(codes[0]!.replace("-", ""));
  });
});
