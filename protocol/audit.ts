// Audit ledger entries: what the edge records, and the hash-chained form the AuditLedger stores.
import { z } from "zod";

export const AuditAction = z.enum([
  "auth.login",
  "auth.login_failed",
  "auth.logout",
  "auth.mfa",
  "auth.mfa_failed",
  "auth.locked_out",
  "auth.step_up",
  "auth.credentials_changed",
  "checkout.requested",
  "checkout.approved",
  "checkout.denied",
  "checkout.withdrawn",
  "checkout.expired",
  "checkout.checked_in",
  "checkout.revoked",
  "session.started",
  "session.ended",
  "session.killed",
  "session.extension_requested",
  "session.extended",
  "session.extension_denied",
  "session.protocol_violation", // a socket sent an offset or credit the room never produced: closed
  "access.revoked", // a right was removed: the checkouts, sessions and live views that depended on it ended
  "admin.change",
  "recording.alert", // recording could not be persisted (optional policy: the session went on)
  "recording.deleted", // retention sweep or an admin removed a recording after its retention
  "credential.rotation_requested", // check-in, an admin, the schedule: a rotation or a verification is due
  "credential.rotated", // the connector changed the secret on the target; the edge holds only the sealed blob
  "credential.rotation_failed", // a rotation failed (retried with backoff) or a job went unanswered
  "credential.verified", // a verification: the vaulted secret logs in (in sync) or not (out of sync)
  "site.seal_key_rotation_requested", // an admin asked a connector to make a new site seal key and re-seal
  "site.seal_key_rotated", // the edge swapped every blob and the site's public key at once
  "site.seal_key_rotation_failed",
  "connector.seal_key_adopted", // a connector opened the new site key delivered to it
]);
export type AuditAction = z.infer<typeof AuditAction>;

const Ref = z.string().max(128);

/** What a caller hands the ledger. `refs` index the entry for filtering by user, server, session. */
export const AuditEntryInput = z.object({
  actor: z.object({ id: Ref, name: z.string().max(128) }).nullable(),
  action: AuditAction,
  target: z.object({ type: z.string().max(32), id: Ref, name: z.string().max(256).optional() }),
  refs: z
    .object({ userId: Ref.optional(), serverId: Ref.optional(), sessionId: Ref.optional(), checkoutId: Ref.optional() })
    .default({}),
  /** Free-form detail: for admin changes `{ before, after }`. Never a secret. */
  data: z.record(z.string(), z.unknown()).default({}),
});
export type AuditEntryInput = z.input<typeof AuditEntryInput>;

/** A stored entry: `prev` is the previous entry's `hash` (64 zeros for the first), `hash` covers all other fields. */
export const AuditEntry = AuditEntryInput.extend({
  idx: z.number().int().nonnegative(),
  ts: z.number().int(),
  prev: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditQuery = z.object({
  userId: Ref.optional(),
  serverId: Ref.optional(),
  action: AuditAction.optional(),
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
  /** Entries with idx below this, newest first: for paging back. */
  before: z.coerce.number().int().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditVerifyResult = z.union([
  z.object({ ok: z.literal(true), count: z.number(), head: z.string() }),
  z.object({
    ok: z.literal(false),
    count: z.number(),
    firstBadIndex: z.number(),
    problem: z.enum(["hash_mismatch", "broken_link", "index_gap", "malformed"]),
  }),
]);
export type AuditVerifyResult = z.infer<typeof AuditVerifyResult>;
