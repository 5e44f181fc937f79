// The person-linking rule for SSO accounts: an admin's choice stands, a link is never moved automatically,
// the person claim wins, a verified email links only to trusted emails, and an ambiguous email links nowhere.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decidePersonLink, type LinkAccount } from "./person-link.ts";

const sso = (over: Partial<LinkAccount> = {}): LinkAccount => ({
  userId: "u-sso",
  personId: "u-sso",
  personSource: null,
  email: "Alice@Example.com",
  emailTrusted: true,
  ...over,
});
const local = (over: Partial<LinkAccount> = {}): LinkAccount => ({
  userId: "u-local",
  personId: "p-alice",
  personSource: "admin",
  email: "alice@example.com",
  emailTrusted: true,
  ...over,
});

describe("decidePersonLink", () => {
  it("links an SSO account to the local account with the same verified email (case and spaces aside)", () => {
    expect(decidePersonLink({ account: sso(), personClaim: undefined, others: [local()] })).toEqual({
      kind: "link",
      personId: "p-alice",
      by: "email",
    });
    expect(
      decidePersonLink({ account: sso({ email: " ALICE@example.COM " }), personClaim: undefined, others: [local()] }),
    ).toMatchObject({ kind: "link", personId: "p-alice" });
  });

  it("an email the IdP did not verify, or an untrusted email on the other side, links nothing", () => {
    expect(
      decidePersonLink({ account: sso({ emailTrusted: false }), personClaim: undefined, others: [local()] }),
    ).toEqual({ kind: "none" });
    expect(
      decidePersonLink({ account: sso(), personClaim: undefined, others: [local({ emailTrusted: false })] }),
    ).toEqual({ kind: "none" });
    expect(decidePersonLink({ account: sso({ email: null }), personClaim: undefined, others: [local()] })).toEqual({
      kind: "none",
    });
  });

  it("the person claim names the person, before any email", () => {
    expect(decidePersonLink({ account: sso(), personClaim: "E1234", others: [local()] })).toEqual({
      kind: "link",
      personId: "E1234",
      by: "claim",
    });
    // Not a usable claim: falls through to the email.
    for (const claim of ["", "  ", 42, null, "x".repeat(65)])
      expect(decidePersonLink({ account: sso(), personClaim: claim, others: [local()] })).toMatchObject({
        by: "email",
      });
  });

  it("an admin's choice and an earlier link are never moved automatically", () => {
    expect(decidePersonLink({ account: sso({ personSource: "admin" }), personClaim: "E1", others: [local()] })).toEqual(
      {
        kind: "keep",
        why: "admin",
      },
    );
    // An attacker who changes their IdP email to a victim's cannot move their SSO account away from themselves.
    const linked = sso({ personId: "p-mallory", personSource: "email" });
    expect(decidePersonLink({ account: linked, personClaim: undefined, others: [local()] })).toEqual({
      kind: "keep",
      why: "linked",
    });
  });

  it("an email shared by accounts of two persons links to neither", () => {
    const bob = local({ userId: "u-bob", personId: "p-bob" });
    expect(decidePersonLink({ account: sso(), personClaim: undefined, others: [local(), bob] })).toEqual({
      kind: "ambiguous",
      personIds: ["p-alice", "p-bob"],
    });
    // Two accounts of one person are one candidate.
    const alice2 = local({ userId: "u-local-2" });
    expect(decidePersonLink({ account: sso(), personClaim: undefined, others: [local(), alice2] })).toMatchObject({
      kind: "link",
      personId: "p-alice",
    });
  });

  it("never links to a person whose trusted email differs, and never links through the account itself", () => {
    const account = fc.record({
      userId: fc.constantFrom("u1", "u2", "u3", "u4"),
      personId: fc.constantFrom("p1", "p2", "p3"),
      personSource: fc.constantFrom(null, "admin" as const, "email" as const),
      email: fc.option(fc.constantFrom("a@x.org", "A@x.org", "b@x.org")),
      emailTrusted: fc.boolean(),
    });
    fc.assert(
      fc.property(account, fc.array(account, { maxLength: 6 }), (me, others) => {
        const d = decidePersonLink({ account: { ...me, personSource: null }, personClaim: undefined, others });
        if (d.kind !== "link") return true;
        const via = others.filter(
          (o) =>
            o.userId !== me.userId &&
            o.personId === d.personId &&
            o.emailTrusted &&
            o.email?.toLowerCase() === me.email?.toLowerCase(),
        );
        return me.emailTrusted && via.length > 0;
      }),
      { numRuns: 1000 },
    );
  });
});
