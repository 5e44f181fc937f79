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
  "session.moderator_joined", // a moderator started watching a moderated session (docs/governance.md)
  "session.moderator_left",
  "session.input_locked", // a moderator locked (or unlocked) a moderated session's input
  "session.invited", // the session's user invited a person to join with input (shared sessions, docs/governance.md)
  "session.invitation_revoked", // the session's user took an invitation back (a joined person's input socket closes)
  "session.invitation_accepted", // the invitee accepted, after their own step-up
  "session.participant_joined", // an invited person's input socket joined the session
  "session.participant_left",
  "session.command", // a command line the user ran (command control, docs/governance.md), with its output offset
  "session.command_alert", // a command a policy rule alerts on: it ran
  "session.command_denied", // a command a policy rule denies: it never reached the shell
  "session.command_review", // a command a `review` rule holds until a reviewer answers
  "session.command_approved", // a reviewer allowed a held command (the actor is the reviewer): it ran
  "session.file_transfer", // a finished SFTP upload or download (docs/governance.md): direction, path, size, sha256
  "session.file_transfer_refused", // a refused or failed transfer: direction, path, reason, message
  "session.command_refused", // a held command a reviewer refused, nobody answered in time, or the user withdrew
  "access.revoked", // a right was removed: the checkouts, sessions and live views that depended on it ended
  "admin.change",
  "recording.alert", // recording could not be persisted (optional policy: the session went on)
  "recording.deleted", // retention sweep or an admin removed a recording after its retention
  "recording.chunk_refused", // a connector uploaded a chunk the edge refused (bad signature or hash, another site, a used number)
  "recording.sealed", // the edge signed a recording's manifest (complete, or incomplete with the missing range)
  "credential.rotation_requested", // check-in, an admin, the schedule: a rotation or a verification is due
  "credential.rotated", // the connector changed the secret on the target; the edge holds only the sealed blob
  "credential.rotation_failed", // a rotation failed (retried with backoff) or a job went unanswered
  "credential.verified", // a verification: the vaulted secret logs in (in sync) or not (out of sync)
  "site.seal_key_rotation_requested", // an admin asked a connector to make a new site seal key and re-seal
  "site.seal_key_rotated", // the edge swapped every blob and the site's public key at once
  "site.seal_key_rotation_failed",
  "connector.seal_key_adopted", // a connector opened the new site key delivered to it
  "discovery.address_changed", // a rerun found a discovered host at a new address (its enabled server followed)
  "discovery.stale", // no rerun saw a discovered host for the site's stale days
  "discovery.retired", // ... nor for its retire days: its enabled server cannot be checked out
  "discovery.returned", // a rerun saw a stale or retired host again
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

/** A name typed into a filter: matched in part, case-insensitively, against users', servers' or zones' names. */
const NamePart = z.string().trim().min(1).max(64);

/** What the audit page and its export filter by. */
export const AuditFilterQuery = z.object({
  userId: Ref.optional(),
  serverId: Ref.optional(),
  /** Part of a user's name: the entries that user did or that concern them. */
  user: NamePart.optional(),
  /** Part of a server's name. */
  server: NamePart.optional(),
  /** Part of a zone's name: entries about its servers, or about the zone itself. */
  zone: NamePart.optional(),
  action: AuditAction.optional(),
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
});
export type AuditFilterQuery = z.infer<typeof AuditFilterQuery>;

export const AuditQuery = AuditFilterQuery.extend({
  /** Entries with idx below this, newest first: for paging back. */
  before: z.coerce.number().int().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

/**
 * Names the edge knows today for an entry's refs, looked up when the entry is read (the hashed entry keeps
 * only ids for them): the page writes sentences and links with these. A name that is gone is left out.
 */
export const AuditContext = z.object({
  user: z.string().optional(),
  server: z.string().optional(),
  zone: z.string().optional(),
  /** The target's name, when the entry was written without one. */
  target: z.string().optional(),
  /** The session's recording, for a link to its replay. */
  recordingId: z.string().optional(),
});
export type AuditContext = z.infer<typeof AuditContext>;

/** An entry as GET /api/audit lists it: the stored entry, untouched, and its context. */
export const AuditListEntry = AuditEntry.extend({ context: AuditContext });
export type AuditListEntry = z.infer<typeof AuditListEntry>;

/** A filter picker's question: names of one kind containing `q` (any case). */
export const FilterNamesQuery = z.object({
  kind: z.enum(["user", "server", "zone"]).default("user"),
  q: z.string().trim().max(64).default(""),
});
export type FilterNamesQuery = z.infer<typeof FilterNamesQuery>;

/** Most names a picker offers at once. */
export const FILTER_NAMES_LIMIT = 20;

export const FilterName = z.object({ id: z.string(), name: z.string() });
export type FilterName = z.infer<typeof FilterName>;

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
