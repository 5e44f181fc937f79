// IdP group mapping: managed groups and roles follow the IdP, others are left alone.
import { describe, expect, it } from "vitest";
import { groupsClaim, mapIdpGroups, parseGroupMap, syncedRoles, usernameFrom } from "./oidc-groups.ts";

const map = parseGroupMap(
  JSON.stringify({
    "psm-operators": "operators",
    "psm-admins": ["admins", "role:admin", "role:auditor"],
    dba: ["dbas", "role:bogus"],
  }),
);

describe("OIDC group mapping", () => {
  it("maps IdP groups to our groups and roles, and lists what it manages", () => {
    const m = mapIdpGroups(map, ["psm-operators", "unrelated"]);
    expect(m.groups).toEqual(["operators"]);
    expect(m.roles).toEqual([]);
    expect(m.managedGroups.sort()).toEqual(["admins", "dbas", "operators"]);
    expect(m.managedRoles.sort()).toEqual(["admin", "auditor"]);
    expect(mapIdpGroups(map, ["psm-admins"]).roles.sort()).toEqual(["admin", "auditor"]);
  });

  it("removes managed roles the IdP no longer gives, keeps unmanaged ones, always keeps requester", () => {
    const none = mapIdpGroups(map, []);
    expect(syncedRoles(["admin", "approver"], none).sort()).toEqual(["approver", "requester"]);
    expect(syncedRoles([], mapIdpGroups(map, ["psm-admins"])).sort()).toEqual(["admin", "auditor", "requester"]);
  });

  it("ignores unknown role names and an empty map", () => {
    expect(mapIdpGroups(map, ["dba"]).roles).toEqual([]);
    expect(mapIdpGroups(parseGroupMap(undefined), ["x"])).toEqual({
      groups: [],
      roles: [],
      managedGroups: [],
      managedRoles: [],
    });
  });

  it("makes a valid username from the claims", () => {
    expect(usernameFrom({ preferred_username: "jane.doe", sub: "1" })).toBe("jane.doe");
    expect(usernameFrom({ email: "jane@example.com", sub: "1" })).toBe("jane@example.com");
    expect(usernameFrom({ preferred_username: "Jane Doe (IT)", sub: "1" })).toBe("Jane_Doe__IT_");
    expect(usernameFrom({ sub: "abc" })).toBe("abc");
  });

  it("reads the groups claim as an array or a single string", () => {
    expect(groupsClaim(["a", 1, "b"])).toEqual(["a", "b"]);
    expect(groupsClaim("a")).toEqual(["a"]);
    expect(groupsClaim(undefined)).toEqual([]);
  });
});
