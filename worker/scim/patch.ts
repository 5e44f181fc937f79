// The pure core of /scim/v2: SCIM errors, the filters we answer (`attr eq "value"`), and PATCH operations
// applied to a user's or a group's state (RFC 7644 §3.5.2), with the identity providers' dialects: Entra ID's
// capitalised `op` and string booleans, Okta's `replace` with a value object and no path. An attribute we store
// is checked by its schema; a core or enterprise attribute we do not keep is accepted and dropped (Entra ID maps
// several by default); anything else is an `invalidPath`, so nothing unknown is stored or half-applied.
import {
  ScimBoolean,
  scimBoolean,
  SCIM_ENTERPRISE_USER_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_MAX_MEMBERS,
  SCIM_USER_SCHEMA,
  ScimExternalId,
  ScimMemberRef,
  type ScimPatchOperation,
  ScimUserName,
} from "../../protocol/index.ts";
import { z } from "zod";

/** A SCIM error answer: HTTP status and RFC 7644 §3.12 `scimType`; `detail` names the attribute, never a value. */
export class ScimFailure extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 500 | 501,
    readonly scimType: string | undefined,
    readonly detail: string,
  ) {
    super(detail);
  }
}

const bad = (scimType: string, detail: string) => new ScimFailure(400, scimType, detail);

/** `attr eq "value"` (attribute names in any case, RFC 7644 §3.4.2.2). Only the attributes in `allowed`. */
export function parseFilter(filter: string, allowed: readonly string[]): { attr: string; value: string } {
  const m = /^\s*([A-Za-z][\w.:-]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter);
  const attr = m?.[1]?.toLowerCase();
  if (!m || !attr || !allowed.includes(attr))
    throw bad("invalidFilter", `supported filters: ${allowed.map((a) => `${a} eq "…"`).join(", ")}`);
  let value: string;
  try {
    value = JSON.parse(`"${m[2]}"`) as string;
  } catch {
    throw bad("invalidFilter", "the filter's string is not valid");
  }
  return { attr, value };
}

export type UserState = {
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  email: string | null;
  active: boolean;
};

export type GroupState = { displayName: string; externalId: string | null; members: string[] };

/** Core User attributes we accept and do not keep (Entra ID and Okta map some by default). */
const USER_DROPPED = new Set([
  "title",
  "preferredlanguage",
  "locale",
  "timezone",
  "nickname",
  "profileurl",
  "usertype",
  "addresses",
  "phonenumbers",
  "ims",
  "photos",
  "x509certificates",
  "entitlements",
]);

const opOf = (op: ScimPatchOperation) => op.op.toLowerCase() as "add" | "replace" | "remove";

function parsed<T>(schema: z.ZodType<T>, value: unknown, attr: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw bad("invalidValue", `${attr}: not a valid value`);
  return r.data;
}

const Text = (max: number) => z.string().max(max);
const Emails = z
  .array(z.object({ value: z.string().trim().max(254), primary: ScimBoolean.nullish() }).passthrough())
  .max(20);

/** The e-mail a SCIM `emails` list gives us: the primary one, else the first; null when empty. */
export function primaryEmail(emails: Array<{ value: string; primary?: unknown }> | null | undefined): string | null {
  if (!emails || emails.length === 0) return null;
  const primary = emails.find(
    (e) => e.primary === true || (typeof e.primary === "string" && /^true$/i.test(e.primary)),
  );
  return (primary ?? emails[0])!.value || null;
}

/** A path without its schema URN prefix, lower case; null for the enterprise extension (dropped). */
function localPath(path: string, schema: string): string | null {
  const lower = path.toLowerCase();
  if (lower.startsWith(SCIM_ENTERPRISE_USER_SCHEMA.toLowerCase())) return null;
  const prefix = `${schema.toLowerCase()}:`;
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
}

function setUserAttr(s: UserState, op: "add" | "replace" | "remove", rawPath: string, value: unknown): void {
  const path = localPath(rawPath, SCIM_USER_SCHEMA);
  if (path === null) return;
  const root = path.split(/[.[]/)[0]!;
  if (USER_DROPPED.has(root)) return;
  const remove = op === "remove";
  switch (path) {
    case "active":
      if (remove) throw bad("invalidValue", "active cannot be removed");
      s.active = scimBoolean(parsed(ScimBoolean, value, "active"));
      return;
    case "username":
      if (remove) throw bad("invalidValue", "userName cannot be removed");
      s.userName = parsed(ScimUserName, value, "userName");
      return;
    case "externalid":
      s.externalId = remove ? null : parsed(ScimExternalId.nullable(), value, "externalId");
      return;
    case "displayname":
      s.displayName = remove ? null : parsed(Text(256).nullable(), value, "displayName");
      return;
    case "name.givenname":
      s.givenName = remove ? null : parsed(Text(128).nullable(), value, "name.givenName");
      return;
    case "name.familyname":
      s.familyName = remove ? null : parsed(Text(128).nullable(), value, "name.familyName");
      return;
    case "name.formatted":
      return;
    case "name": {
      if (remove) {
        s.givenName = null;
        s.familyName = null;
        return;
      }
      const name = parsed(
        z.object({ givenName: Text(128).nullish(), familyName: Text(128).nullish() }).passthrough(),
        value,
        "name",
      );
      if (name.givenName !== undefined) s.givenName = name.givenName;
      if (name.familyName !== undefined) s.familyName = name.familyName;
      return;
    }
    case "emails":
      s.email = remove ? null : primaryEmail(parsed(Emails, value, "emails"));
      return;
  }
  // emails[type eq "work"].value (Entra ID's default mapping), or emails[primary eq true].value.
  if (/^emails\[(type eq "[a-z]+"|primary eq true)\]\.value$/.test(path)) {
    s.email = remove ? null : parsed(Text(254).trim().nullable(), value, "emails.value") || null;
    return;
  }
  if (root === "roles" || root === "groups" || root === "password")
    throw bad("mutability", `${root} is not set through SCIM here`);
  throw bad("invalidPath", `unknown attribute ${rawPath.slice(0, 128)}`);
}

/** Keys of a value object sent without a path (Okta: `{active: false}`; Entra: `{"name.givenName": "x"}`). */
function eachKey(value: unknown, apply: (key: string, v: unknown) => void): void {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad("invalidValue", "an operation without a path needs an object value");
  for (const [key, v] of Object.entries(value)) {
    const k = key.toLowerCase();
    if (k === "schemas" || k === "id" || k === "meta") continue;
    apply(key, v);
  }
}

/** The user after the operations (all or nothing: the first bad operation throws and nothing is applied). */
export function patchUser(before: UserState, operations: ScimPatchOperation[]): UserState {
  const s = { ...before };
  for (const operation of operations) {
    const op = opOf(operation);
    if (operation.path) setUserAttr(s, op, operation.path, operation.value);
    else if (op === "remove") throw bad("noTarget", "remove needs a path");
    else eachKey(operation.value, (key, v) => setUserAttr(s, op, key, v));
  }
  return s;
}

const Members = z.array(ScimMemberRef).max(SCIM_MAX_MEMBERS);

function setGroupAttr(s: GroupState, op: "add" | "replace" | "remove", rawPath: string, value: unknown): void {
  const path = localPath(rawPath, SCIM_GROUP_SCHEMA);
  if (path === null) throw bad("invalidPath", "not a group attribute");
  const filtered = /^members\[value eq "([^"\\]{1,64})"\]$/.exec(path);
  if (filtered) {
    if (op !== "remove") throw bad("invalidPath", "a member filter only removes");
    // The path was lower-cased: match the id in the original text.
    const id = /\[value eq "([^"\\]{1,64})"\]$/i.exec(rawPath)![1]!;
    s.members = s.members.filter((m) => m !== id);
    return;
  }
  switch (path) {
    case "displayname":
      if (op === "remove") throw bad("invalidValue", "displayName cannot be removed");
      s.displayName = parsed(z.string().trim().min(1).max(128), value, "displayName");
      return;
    case "externalid":
      s.externalId = op === "remove" ? null : parsed(ScimExternalId.nullable(), value, "externalId");
      return;
    case "members": {
      if (op === "remove" && value === undefined) {
        s.members = [];
        return;
      }
      const ids = parsed(Members, value, "members").map((m) => m.value);
      if (op === "replace") s.members = [...new Set(ids)];
      else if (op === "add") s.members = [...new Set([...s.members, ...ids])];
      else s.members = s.members.filter((m) => !ids.includes(m));
      if (s.members.length > SCIM_MAX_MEMBERS) throw new ScimFailure(400, "tooMany", "too many members");
      return;
    }
  }
  throw bad("invalidPath", `unknown attribute ${rawPath.slice(0, 128)}`);
}

export function patchGroup(before: GroupState, operations: ScimPatchOperation[]): GroupState {
  const s = { ...before, members: [...before.members] };
  for (const operation of operations) {
    const op = opOf(operation);
    if (operation.path) setGroupAttr(s, op, operation.path, operation.value);
    else if (op === "remove") throw bad("noTarget", "remove needs a path");
    else eachKey(operation.value, (key, v) => setGroupAttr(s, op, key, v));
  }
  return s;
}
