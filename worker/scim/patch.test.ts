// The SCIM core without the Worker: filters, and PATCH in Entra ID's and Okta's dialects applied all or nothing.
import { describe, expect, it } from "vitest";
import {
  type GroupState,
  parseFilter,
  patchGroup,
  patchUser,
  primaryEmail,
  ScimFailure,
  type UserState,
} from "./patch.ts";

const user: UserState = {
  userName: "ada@contoso.com",
  externalId: "e-1",
  displayName: "Ada",
  givenName: "Ada",
  familyName: "Lovelace",
  email: "ada@contoso.com",
  active: true,
};
const group: GroupState = { displayName: "DBAs", externalId: null, members: ["u1", "u2"] };

function failure(run: () => unknown): ScimFailure {
  try {
    run();
  } catch (err) {
    if (err instanceof ScimFailure) return err;
    throw err;
  }
  throw new Error("expected a ScimFailure");
}

describe("parseFilter", () => {
  it('reads attr eq "value" in any case, with escapes', () => {
    expect(parseFilter('userName eq "a@b.c"', ["username"])).toEqual({ attr: "username", value: "a@b.c" });
    expect(parseFilter('EXTERNALID Eq "x\\"y"', ["externalid"])).toEqual({ attr: "externalid", value: 'x"y' });
  });
  it("refuses other operators, attributes and shapes as invalidFilter", () => {
    for (const f of ['userName co "a"', 'password eq "a"', 'userName eq "a" or userName eq "b"', "userName eq a"])
      expect(failure(() => parseFilter(f, ["username"])).scimType).toBe("invalidFilter");
  });
});

describe("patchUser", () => {
  it("Entra ID: capitalised ops, string booleans, the work email path, enterprise attributes dropped", () => {
    const after = patchUser(user, [
      { op: "Replace", path: "active", value: "False" },
      { op: "Add", path: 'emails[type eq "work"].value', value: "ada.king@contoso.com" },
      { op: "Replace", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", value: "R&D" },
      { op: "Replace", path: "title", value: "Countess" },
    ]);
    expect(after).toEqual({ ...user, active: false, email: "ada.king@contoso.com" });
  });
  it("Okta: replace with a value object and no path", () => {
    expect(patchUser(user, [{ op: "replace", value: { active: false, displayName: "A. L." } }])).toEqual({
      ...user,
      active: false,
      displayName: "A. L.",
    });
  });
  it("removes optional attributes; refuses to remove required ones", () => {
    expect(patchUser(user, [{ op: "remove", path: "externalId" }]).externalId).toBeNull();
    expect(failure(() => patchUser(user, [{ op: "remove", path: "userName" }])).scimType).toBe("invalidValue");
    expect(failure(() => patchUser(user, [{ op: "remove" }])).scimType).toBe("noTarget");
  });
  it("refuses unknown paths, roles and bad values, leaving the input untouched", () => {
    expect(failure(() => patchUser(user, [{ op: "replace", path: "isAdmin", value: true }])).scimType).toBe(
      "invalidPath",
    );
    expect(failure(() => patchUser(user, [{ op: "add", path: "roles", value: [] }])).scimType).toBe("mutability");
    expect(failure(() => patchUser(user, [{ op: "replace", path: "userName", value: "a b" }])).scimType).toBe(
      "invalidValue",
    );
    expect(user.active).toBe(true);
  });
});

describe("patchGroup", () => {
  it("adds and removes members (Entra ID) and removes one by filter (Okta)", () => {
    const added = patchGroup(group, [{ op: "Add", path: "members", value: [{ value: "u3" }, { value: "u1" }] }]);
    expect(added.members).toEqual(["u1", "u2", "u3"]);
    expect(patchGroup(added, [{ op: "Remove", path: "members", value: [{ value: "u1" }] }]).members).toEqual([
      "u2",
      "u3",
    ]);
    expect(patchGroup(added, [{ op: "remove", path: 'members[value eq "U-Case"]' }]).members).toEqual(added.members);
    expect(patchGroup(group, [{ op: "remove", path: 'members[value eq "u2"]' }]).members).toEqual(["u1"]);
    expect(patchGroup(group, [{ op: "remove", path: "members" }]).members).toEqual([]);
    expect(group.members).toEqual(["u1", "u2"]);
  });
  it("renames through a value object and refuses a filter on add", () => {
    expect(patchGroup(group, [{ op: "replace", value: { id: "g", displayName: "Ops" } }]).displayName).toBe("Ops");
    expect(failure(() => patchGroup(group, [{ op: "add", path: 'members[value eq "u1"]', value: [] }])).scimType).toBe(
      "invalidPath",
    );
  });
});

describe("primaryEmail", () => {
  it("takes the primary, else the first", () => {
    expect(primaryEmail([{ value: "a@x" }, { value: "b@x", primary: "True" }])).toBe("b@x");
    expect(primaryEmail([{ value: "a@x" }])).toBe("a@x");
    expect(primaryEmail([])).toBeNull();
  });
});
