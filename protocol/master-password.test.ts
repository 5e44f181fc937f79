import { describe, expect, it } from "vitest";
import { checkMasterPassword, MasterPasswordVerifier, masterPasswordVerifier } from "./master-password.ts";

describe("master password verifier", () => {
  it("checks the password it was made from, and nothing else", async () => {
    const v = await masterPasswordVerifier("correct horse battery", 100_000);
    expect(MasterPasswordVerifier.safeParse(v).success).toBe(true);
    expect(v).not.toContain("correct horse");
    expect(await checkMasterPassword("correct horse battery", v)).toBe(true);
    expect(await checkMasterPassword("correct horse batterY", v)).toBe(false);
    expect(await checkMasterPassword("", v)).toBe(false);
  });

  it("salts: the same password gives different verifiers", async () => {
    const [a, b] = await Promise.all([
      masterPasswordVerifier("same-password-1", 100_000),
      masterPasswordVerifier("same-password-1", 100_000),
    ]);
    expect(a).not.toBe(b);
  });

  it("refuses verifiers that are cheap to guess, costly to check, or malformed", async () => {
    const good = await masterPasswordVerifier("pw-pw-pw-pw-pw", 100_000);
    const [, , salt, hash] = good.split("$");
    for (const bad of [
      `pbkdf2-sha256$1000$${salt}$${hash}`,
      `pbkdf2-sha256$9000000$${salt}$${hash}`,
      `pbkdf2-sha1$100000$${salt}$${hash}`,
      `pbkdf2-sha256$100000$${salt}$${hash}x`,
      "!",
    ]) {
      expect(MasterPasswordVerifier.safeParse(bad).success, bad).toBe(false);
      expect(await checkMasterPassword("pw-pw-pw-pw-pw", bad)).toBe(false);
    }
  });
});
