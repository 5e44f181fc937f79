// Equal-cost login, counted rather than timed: every kind of failing account runs exactly one PBKDF2
// verification at the full iteration count, as a good password does.
import { describe, expect, it } from "vitest";
import { checkSignInPassword, DUMMY_HASH, hashPassword, isPasswordHash, verifyPassword } from "./password.ts";

/** A verifier that records each hash it was asked to check, then runs the real one. */
function counting() {
  const seen: string[] = [];
  const verify = (password: string, stored: string) => {
    seen.push(stored);
    return verifyPassword(password, stored);
  };
  return { seen, verify };
}

const iterationsOf = (stored: string) => Number(stored.split("$")[1]);

describe("checkSignInPassword", async () => {
  const hash = await hashPassword("right-password-1");
  const kinds = {
    unknown_user: null,
    wrong_password: { password_hash: hash, disabled: 0 },
    sso_only: { password_hash: "!", disabled: 0 },
    disabled: { password_hash: hash, disabled: 1 },
  } as const;

  for (const [kind, account] of Object.entries(kinds))
    it(`${kind}: one full-cost verification, and refused`, async () => {
      const { seen, verify } = counting();
      // A disabled account is refused even with its right password.
      const password = kind === "disabled" ? "right-password-1" : "guess-1";
      expect(await checkSignInPassword(account, password, verify)).toBe(kind);
      expect(seen).toHaveLength(1);
      expect(iterationsOf(seen[0]!)).toBe(iterationsOf(hash));
      expect(isPasswordHash(seen[0]!)).toBe(true);
    });

  it("the right password: one verification, against the account's own hash", async () => {
    const { seen, verify } = counting();
    expect(await checkSignInPassword({ password_hash: hash, disabled: 0 }, "right-password-1", verify)).toBe("ok");
    expect(seen).toEqual([hash]);
  });

  it("the stand-in hash is a usable hash at the same cost as a real one", () => {
    expect(isPasswordHash(DUMMY_HASH)).toBe(true);
    expect(iterationsOf(DUMMY_HASH)).toBe(iterationsOf(hash));
    for (const bad of ["!", "", "pbkdf2-sha256$0$a$b", "pbkdf2-sha256$100001$a$b", "bcrypt$10$a$b", `${hash}$x`])
      expect(isPasswordHash(bad)).toBe(false);
  });
});
