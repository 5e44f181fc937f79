// Credential rotation (issue 17): the edge asks, the connector changes the secret on the target and
// answers with the new secret sealed to the site key. The edge never sees a plaintext secret, old or new.
//
// A job travels edge -> connector as a signed JWT on the control socket (its own `typ`, so it can never
// stand in for a session grant), and the answer connector -> edge over HTTPS to the job's own path.
import { z } from "zod";
import { CredentialKind, HostKeyFingerprint, SealedSecret } from "./tokens.ts";

export const ROTATION_TYP = "psm-rotation+jwt";
export const ROTATION_TTL_SECONDS = 300;

/** `rotate`: a new secret replaces the vaulted one. `verify`: does the vaulted secret still log in? */
export const RotationOp = z.enum(["rotate", "verify"]);
export type RotationOp = z.infer<typeof RotationOp>;

const ldapUrl = z
  .string()
  .max(512)
  .regex(/^ldaps?:\/\/[A-Za-z0-9.:_[\]-]+(:\d{1,5})?\/?$/, "ldap://host[:port] or ldaps://host[:port]");

/**
 * Where the account lives, and so how its secret is changed:
 * - `ssh`: a local account on the credential's one server (password: `passwd` as itself or `chpasswd`
 *   through the rotation credential; key: `authorized_keys`);
 * - `ldap`: an OpenLDAP entry, RFC 3062 password modify; `ad`: an Active Directory user, `unicodePwd`.
 *   Both over TLS: `ldaps://`, or `ldap://` with StartTLS (`startTls` must then be true).
 */
export const RotationAccount = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("ssh"),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    hostKey: HostKeyFingerprint,
  }),
  z.strictObject({
    type: z.enum(["ldap", "ad"]),
    url: ldapUrl,
    dn: z.string().min(3).max(1024),
    startTls: z.boolean(),
  }),
]);
export type RotationAccount = z.infer<typeof RotationAccount>;

/** A vaulted secret as the connector gets it: sealed, with what it is for. */
const SealedCredential = z.strictObject({
  username: z.string().min(1).max(256),
  kind: CredentialKind,
  sealed: SealedSecret,
  /** The directory entry, for an `ldap`/`ad` rotation credential (an admin that may reset passwords). */
  dn: z.string().max(1024).optional(),
});

/** A rotation job's claims, beyond the registered ones (iss, aud = site, sub = job id, iat, exp, jti). */
export const RotationClaims = z.object({
  sub: z.string().min(1).max(64),
  op: RotationOp,
  /** The credential: its id (for the answer) and its current sealed secret. */
  cid: z.string().min(1).max(64),
  cred: SealedCredential,
  acct: RotationAccount,
  /** The rotation credential, where one is named: it changes the secret without knowing the old one. */
  via: SealedCredential.optional(),
});
export type RotationClaims = z.infer<typeof RotationClaims>;

/** Why a rotation or a verification did not succeed: codes only, never target text. */
export const RotationError = z.enum([
  "target_unreachable",
  "target_refused", // the connector's address policy refuses the target
  "host_key_mismatch",
  "auth_failed", // the vaulted secret (or the rotation credential) did not log in
  "change_refused", // the target refused the new secret (policy, history, permissions)
  "verify_failed", // the change was accepted but the new secret does not log in
  "unsupported", // no way to rotate this account (e.g. an EmpowerID credential)
  "job_rejected", // the job's signature or claims did not verify
  "no_answer", // the connector did not answer in time (it may have died): retried
  "internal_error",
]);
export type RotationError = z.infer<typeof RotationError>;

/** Each code in words, for the admin's page and the failure alert. */
export const ROTATION_ERROR_TEXT: Record<RotationError, string> = {
  target_unreachable: "the server did not answer",
  target_refused: "the connector's address policy refuses the server",
  host_key_mismatch: "the server's host key does not match its pin",
  auth_failed: "the vaulted secret no longer logs in (name a rotation credential to reconcile)",
  change_refused: "the server refused the new secret",
  verify_failed: "the new secret did not log in",
  unsupported: "no way to rotate it (one SSH server, or a directory entry, is needed)",
  job_rejected: "the connector refused the job",
  no_answer: "no connector answered",
  internal_error: "the connector failed",
};

/** The connector's answer to one job. */
export const RotationResult = z.discriminatedUnion("outcome", [
  /** The target took the new secret and it logs in; `sealed` is it, sealed to the site key. */
  z.strictObject({ outcome: z.literal("rotated"), sealed: SealedSecret }),
  /** A verification: the vaulted secret logs in (`in_sync`) or is refused (`out_of_sync`). */
  z.strictObject({ outcome: z.literal("in_sync") }),
  z.strictObject({ outcome: z.literal("out_of_sync") }),
  z.strictObject({ outcome: z.literal("failed"), error: RotationError }),
]);
export type RotationResult = z.infer<typeof RotationResult>;

/** A credential's rotation state as the admin sees it. Only `ok` and `out_of_sync` are handed out. */
export const RotationState = z.enum(["ok", "pending", "rotating", "failed", "out_of_sync"]);
export type RotationState = z.infer<typeof RotationState>;

/** Admin: where a credential's account lives and what may rotate it (PUT /api/credentials/:id/rotation). */
export const CredentialRotationSettings = z.strictObject({
  /** `ssh` (the default): the account on the credential's server. Directory accounts name their entry. */
  account: z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("ssh") }),
    z.strictObject({
      type: z.enum(["ldap", "ad"]),
      url: ldapUrl,
      dn: z.string().trim().min(3).max(1024),
      startTls: z.boolean().default(false),
    }),
  ]),
  /** A credential of the same site that may change this one's secret (root's key, a directory admin). */
  rotateWith: z.string().nullable().default(null),
});
export type CredentialRotationSettings = z.infer<typeof CredentialRotationSettings>;

export const CredentialRotationInfo = z.object({
  credentialId: z.string(),
  state: RotationState,
  /** The last failure's code while `failed` (or the last verification's while `out_of_sync`). */
  error: RotationError.nullable(),
  attempts: z.number().int(),
  /** When the next attempt is due (pending/failed). */
  dueAt: z.number().int().nullable(),
  rotatedAt: z.number().int().nullable(),
  verifiedAt: z.number().int().nullable(),
  account: CredentialRotationSettings.shape.account,
  rotateWith: z.string().nullable(),
  history: z.array(
    z.object({
      id: z.string(),
      op: RotationOp,
      cause: z.enum(["checkin", "manual", "schedule", "retry"]),
      requestedAt: z.number().int(),
      finishedAt: z.number().int().nullable(),
      outcome: z.string().nullable(),
    }),
  ),
});
export type CredentialRotationInfo = z.infer<typeof CredentialRotationInfo>;
