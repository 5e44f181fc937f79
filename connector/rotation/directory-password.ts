// The two directory password changes, encoded here because ldapts has no helper for either:
// - OpenLDAP and other RFC 3062 servers: the Password Modify extended operation;
// - Active Directory: a modify of `unicodePwd` (the password in double quotes, UTF-16LE). An account
//   changing its own password deletes the old value and adds the new one; an administrator (the
//   rotation credential) replaces it. AD accepts either only over an encrypted connection.
import { Attribute, Change } from "ldapts";

/** RFC 3062 section 2: the request's OID. */
export const PASSWORD_MODIFY_OID = "1.3.6.1.4.1.4203.1.11.1";

function berLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), berLength(value.length), value]);
}

/**
 * PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0] OCTET STRING OPTIONAL,
 *   oldPasswd [1] OCTET STRING OPTIONAL, newPasswd [2] OCTET STRING OPTIONAL }
 */
export function passwordModifyRequest(fields: {
  userIdentity?: string;
  oldPassword?: string;
  newPassword: string;
}): Buffer {
  const parts: Buffer[] = [];
  if (fields.userIdentity !== undefined) parts.push(tlv(0x80, Buffer.from(fields.userIdentity, "utf8")));
  if (fields.oldPassword !== undefined) parts.push(tlv(0x81, Buffer.from(fields.oldPassword, "utf8")));
  parts.push(tlv(0x82, Buffer.from(fields.newPassword, "utf8")));
  return tlv(0x30, Buffer.concat(parts));
}

/** AD's `unicodePwd` value: the password in double quotes, UTF-16LE. */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, "utf16le");
}

/** The modify an AD password change is: self-service (delete old, add new) or an administrator's reset. */
export function adPasswordChanges(
  change: { oldPassword: string; newPassword: string } | { newPassword: string },
): Change[] {
  const value = (p: string) => new Attribute({ type: "unicodePwd", values: [unicodePwd(p)] });
  if ("oldPassword" in change)
    return [
      new Change({ operation: "delete", modification: value(change.oldPassword) }),
      new Change({ operation: "add", modification: value(change.newPassword) }),
    ];
  return [new Change({ operation: "replace", modification: value(change.newPassword) })];
}
