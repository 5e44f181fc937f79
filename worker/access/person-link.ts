// Which person an SSO account belongs to, as a pure decision: separation of duties compares persons, so a
// person's local account and SSO account must share one (docs/access-model.md, "Persons").
//
// Linking too much only refuses more (two people counted as one cannot approve each other); linking too
// little lets someone approve their own request. So: a link, once made, is never moved automatically (only
// an admin moves or undoes it), and an email links only when it is trusted on both sides.

export type PersonSource = "admin" | "claim" | "email";

export type LinkAccount = {
  userId: string;
  /** The account's person (its own id when never linked). */
  personId: string;
  personSource: PersonSource | null;
  email: string | null;
  /** An email set by an admin (a local account) or one the IdP marked verified (an SSO account). */
  emailTrusted: boolean;
};

export type LinkDecision =
  /** Leave the account's person as it is: an admin set it, or it was linked before. */
  | { kind: "keep"; why: "admin" | "linked" }
  | { kind: "link"; personId: string; by: "claim" | "email" }
  /** Nothing names the person: the account stays its own person. */
  | { kind: "none" }
  /** The verified email belongs to accounts of several persons: no link; an admin decides. */
  | { kind: "ambiguous"; personIds: string[] };

/** The longest person id (as UpdateUserRequest allows). */
export const MAX_PERSON_ID = 64;

const normal = (email: string) => email.trim().toLowerCase();

/**
 * `account`: the SSO account signing in (its email and whether the IdP verified it). `personClaim`: the value
 * of the IdP claim configured to name the person (an employee number), if any. `others`: every other account.
 * Order: an admin's choice; an earlier link; the person claim; the verified email.
 */
export function decidePersonLink(input: {
  account: LinkAccount;
  personClaim: unknown;
  others: LinkAccount[];
}): LinkDecision {
  const { account, personClaim, others } = input;
  if (account.personSource === "admin") return { kind: "keep", why: "admin" };
  if (account.personSource !== null) return { kind: "keep", why: "linked" };
  if (typeof personClaim === "string" && personClaim.trim() !== "" && personClaim.length <= MAX_PERSON_ID)
    return { kind: "link", personId: personClaim.trim(), by: "claim" };
  if (!account.emailTrusted || !account.email) return { kind: "none" };
  const email = normal(account.email);
  const persons = new Set(
    others
      .filter((o) => o.userId !== account.userId && o.emailTrusted && o.email && normal(o.email) === email)
      .map((o) => o.personId),
  );
  persons.delete(account.personId);
  if (persons.size === 0) return { kind: "none" };
  if (persons.size > 1) return { kind: "ambiguous", personIds: [...persons].sort() };
  return { kind: "link", personId: [...persons][0]!, by: "email" };
}
