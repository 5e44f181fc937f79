// The encodings checked byte for byte: RFC 3062's request (also run against slapd in
// test/e2e/rotation.test.ts) and AD's unicodePwd modify (no AD here: known from Microsoft's
// documentation, assumed otherwise; see docs/empowerid.md's neighbour, docs/security.md).
import { describe, expect, it } from "vitest";
import { adPasswordChanges, passwordModifyRequest, unicodePwd } from "./directory-password.ts";

describe("RFC 3062 password modify request", () => {
  it("encodes identity, old and new password as context tags 0, 1, 2 in a SEQUENCE", () => {
    const value = passwordModifyRequest({ userIdentity: "uid=a", oldPassword: "o", newPassword: "nn" });
    expect(value.toString("hex")).toBe(
      ["30", "0e", "80", "05", Buffer.from("uid=a").toString("hex"), "81", "01", "6f", "82", "02", "6e6e"].join(""),
    );
  });

  it("leaves out what is not given (an administrator's reset has no old password)", () => {
    const value = passwordModifyRequest({ userIdentity: "u", newPassword: "n" });
    expect(value.toString("hex")).toBe("3006800175820" + "16e");
  });

  it("uses the long length form past 127 bytes", () => {
    const long = "x".repeat(200);
    const value = passwordModifyRequest({ newPassword: long });
    // SEQUENCE of 203 bytes: 30 81 cb; inside: 82 81 c8 + 200 bytes.
    expect(value.subarray(0, 6).toString("hex")).toBe("3081cb8281c8");
    expect(value.length).toBe(3 + 3 + 200);
  });
});

describe("Active Directory unicodePwd", () => {
  it("is the password in double quotes, UTF-16LE", () => {
    expect(unicodePwd("Ab1").toString("hex")).toBe("220041006200310022" + "00");
  });

  it("a self-service change deletes the old value and adds the new one", () => {
    const changes = adPasswordChanges({ oldPassword: "old", newPassword: "new" });
    expect(changes.map((c) => c.operation)).toEqual(["delete", "add"]);
    expect(changes.map((c) => c.modification.type)).toEqual(["unicodePwd", "unicodePwd"]);
    expect((changes[0]!.modification.values[0] as Buffer).equals(unicodePwd("old"))).toBe(true);
    expect((changes[1]!.modification.values[0] as Buffer).equals(unicodePwd("new"))).toBe(true);
  });

  it("an administrator's reset replaces it", () => {
    const changes = adPasswordChanges({ newPassword: "new" });
    expect(changes.map((c) => c.operation)).toEqual(["replace"]);
    expect((changes[0]!.modification.values[0] as Buffer).equals(unicodePwd("new"))).toBe(true);
  });
});
