// JSON control messages on every socket, as `type`-tagged unions, one union per direction.
// The first message on every socket, in each direction, is `hello` carrying PROTOCOL_VERSION.
import { z } from "zod";
import { PublicSealKey } from "./seal-rotation.ts";
import { SpoolHealth } from "./recording.ts";
import { HostKeyFingerprint } from "./tokens.ts";
import { AuditSyslogJob, AuditSyslogResult } from "./audit-stream.ts";
import { REVIEW_SECONDS } from "./command-rules.ts";
import { MailJob, MailResult } from "./mail.ts";
import {
  FileCancel,
  FileDone,
  FileDownload,
  FileList,
  FileListing,
  FileReady,
  FileRefused,
  FileTransferAllowed,
  FileUpload,
} from "./file-transfer.ts";
import { MAX_COLS, MAX_CONTROL_MESSAGE, MAX_ROWS } from "./limits.ts";

/** Why a session ended. Shown to the user; stable across versions (add, never rename). */
export const EndReason = z.enum([
  "user_exit", // the remote shell exited
  "closed", // the user closed the session
  "time_limit", // the deadline passed
  "idle", // no input for the policy's idle timeout
  "killed", // an admin ended it
  "connector_lost", // the connector's socket dropped mid-session
  "connector_unavailable", // no connector of the site took the session
  "grant_rejected", // the connector refused the session grant
  "host_key_mismatch", // the target's host key does not match the pin
  "target_unreachable", // TCP/SSH connection to the target failed
  "target_refused", // the target's address is outside the site's allowed ranges (or never allowed)
  "auth_failed", // the target refused the vaulted credential
  "credential_unavailable", // the connector could not open the credential
  "recording_unavailable", // recording is required and could not be persisted (buffer limit reached)
  "checkout_ended", // the checkout the session runs under ended (expired or checked in)
  "checkout_revoked", // an admin revoked the checkout
  "connector_revoked", // an admin revoked the connector serving the session
  "access_revoked", // the person lost the right the session depended on (account, group, grant, server, credential, policy, sign-in)
  "disconnected", // the user's browser stayed away longer than the policy's grace period
  "protocol_error", // a peer broke the protocol
  "engine_unavailable", // the connector cannot run this kind of session (RDP engine not built there)
  "security_refused", // the target offered no security the policy accepts (e.g. NLA required)
  "master_password_wrong", // the connector checked the sealed master password against its verifier: no
  "internal_error",
  "credential_refused", // the credential authority (EmpowerID) refused to release the credential
  "credential_invalid", // the credential opened but cannot be used (a key ssh2 cannot load, or no key at all)
  "sandbox_unavailable", // policy requires the RDP bridge's sandbox and this connector cannot run it (no bubblewrap)
  "input_overflow", // the target stopped reading input and more than INPUT_HOLD_BYTES of it waited
]);
export type EndReason = z.infer<typeof EndReason>;

/** Session states the browser is shown. */
export const SessionState = z.enum(["waiting_for_connector", "connecting", "connected", "reconnecting", "ended"]);
export type SessionState = z.infer<typeof SessionState>;

/** Stable error codes sent to browsers. Never carry upstream text. */
export const ErrorCode = z.enum([
  "bad_request",
  "unauthorized",
  "forbidden",
  "not_found",
  "conflict",
  "rate_limited",
  "step_up_required",
  "connector_unavailable",
  "recording_unavailable",
  "protocol_error",
  "too_large",
  "internal",
  /** A policy id that names no policy. */
  "unknown_policy",
  /** A zone admin named a policy a global admin has not allowed for the zone. */
  "policy_not_allowed",
  /** A zone admin named a policy weaker than the zone's own (approval, recording, live view, MFA, limits). */
  "policy_weaker_than_zone",
  "credential_rotating",
  /** A secret was sealed to a site seal key that has since been replaced: seal it again. */
  "seal_key_changed",
  /** Changing a master password already set needs a second factor the user does not have: an admin resets it. */
  "second_factor_needed",
  /**
   * A code the signed-in user typed (TOTP, recovery, security key) was not accepted; the sign-in stands. Not a
   * 401: that means the sign-in itself is over, and the page sends the user to sign in again.
   */
  "code_not_accepted",
  /** A policy whose limits contradict each other (protocol/policy-rules.ts): e.g. an extension longer than the session. */
  "policy_inconsistent",
  /** Only a server or credential that is turned off can be deleted (turning off ends what is open on it). */
  "still_enabled",
  /** Duo (the second factor) cannot be reached or says it is unhealthy, and the deployment fails closed. */
  "duo_unavailable",
  /** Duo settings an admin saved that Duo refuses (its health check rejects the client id or secret). */
  "duo_refused",
  /** A policy's command rule the product will not run: an unsafe regular expression, too many rules, or `review`. */
  "command_rule_refused",
  /** Shared sessions: the session's policy does not let its user invite anyone (or it is a desktop session). */
  "sharing_off",
  /** Shared sessions: that person may not join this session (unknown, disabled, the user, or not entitled). */
  "not_eligible",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

const version = z.number().int().positive();
const cols = z.number().int().min(1).max(MAX_COLS);
const rows = z.number().int().min(1).max(MAX_ROWS);
/** An offset in the session's output stream (see output-log.ts). */
const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

// ---- browser <-> SessionRoom -------------------------------------------------------------

export const BrowserHello = z.strictObject({
  type: z.literal("hello"),
  v: version,
  cols,
  rows,
  /** Resuming after a dropped socket: the output offset this browser has received up to. */
  resume: offset.optional(),
});
export const Resize = z.strictObject({ type: z.literal("resize"), cols, rows });
/**
 * A moderator's command (moderated sessions, docs/governance.md): lock the session's input for `seconds`
 * (default 30), unlock it, or end the session. Refused from any socket that is not a moderator's.
 */
export const Moderate = z.strictObject({
  type: z.literal("moderate"),
  action: z.enum(["lock", "unlock", "end"]),
  seconds: z.number().int().min(1).max(600).optional(),
});
export type Moderate = z.infer<typeof Moderate>;
/** File transfer (protocol/file-transfer.ts): only the session's own user may send these; the room forwards them. */
const FileRequests = [FileList, FileUpload, FileDownload, FileCancel] as const;
export const BrowserToRoom = z.discriminatedUnion("type", [BrowserHello, Resize, Moderate, ...FileRequests]);
export type BrowserToRoom = z.infer<typeof BrowserToRoom>;

export const RoomHello = z.strictObject({
  type: z.literal("hello"),
  v: version,
  sessionId: id,
  /** Unix ms when the session will be ended. */
  deadline: z.number().int(),
});
export const Status = z.strictObject({ type: z.literal("status"), state: SessionState });
export const Ended = z.strictObject({
  type: z.literal("ended"),
  reason: EndReason,
  /** A person's words, e.g. the admin's reason for a kill. */
  note: z.string().max(500).optional(),
});
/** The session will end at `at` (unix ms) for `reason` unless something changes (more time, input). */
export const Warning = z.strictObject({
  type: z.literal("warning"),
  reason: z.enum(["time_limit", "idle"]),
  at: z.number().int(),
});
export const ErrorMessage = z.strictObject({ type: z.literal("error"), code: ErrorCode });
/**
 * Where the output that follows sits in the session's output stream. `at`: the next DATA byte's
 * offset (count from there; acknowledge only counted bytes); null: the bytes that follow are a
 * repaint, not counted, until the next `sync`. `reset`: clear the terminal first.
 */
export const Sync = z.strictObject({ type: z.literal("sync"), at: offset.nullable(), reset: z.boolean() });
/** The session's deadline moved (an extension was granted). */
export const Extended = z.strictObject({ type: z.literal("extended"), deadline: z.number().int() });
/** How many people are watching this session live (sent to the user when policy says to tell them). */
export const Watchers = z.strictObject({ type: z.literal("watchers"), count: z.number().int().nonnegative() });
/**
 * Something the session's user should read, from the connector (command control, docs/governance.md): the room
 * passes it on to the user's browser unchanged. `message` is the policy's words, never upstream text.
 */
export const Notice = z.strictObject({
  type: z.literal("notice"),
  /**
   * `command_review`: the line waits for a reviewer (the page says so until the next notice); `command_approved`: a
   * reviewer allowed it and it runs; `command_denied`: it was refused (by a rule, a reviewer, or no answer in time).
   */
  code: z.enum(["command_denied", "command_review", "command_approved"]),
  message: z.string().max(300),
});
export type Notice = z.infer<typeof Notice>;
/**
 * A moderated session's state, to everyone in it whenever it changes: the policy's number of moderators, who
 * moderates now (usernames), and whether a moderator locked input. Input reaches the target only while enough
 * moderators are present and it is not locked; output is relayed and recorded throughout.
 */
export const Moderation = z.strictObject({
  type: z.literal("moderation"),
  required: z.number().int().min(0).max(5),
  moderators: z.array(z.string().max(128)).max(100),
  locked: z.boolean(),
});
export type Moderation = z.infer<typeof Moderation>;
/**
 * A shared session's writers (docs/governance.md "Shared sessions"), to everyone in it whenever they change: the
 * session's user and the invited people who joined with input (usernames), so everybody knows whose keys reach the
 * target.
 */
export const Participants = z.strictObject({
  type: z.literal("participants"),
  user: z.string().max(128),
  writers: z.array(z.string().max(128)).max(20),
});
export type Participants = z.infer<typeof Participants>;
/**
 * Who is typing in a shared session: sent to everyone in it when another writer's input reaches the target, and
 * at most once a second while the same writer goes on. A page shows the name for a few seconds after the last one.
 */
export const Typing = z.strictObject({ type: z.literal("typing"), name: z.string().max(128) });
export type Typing = z.infer<typeof Typing>;
export const RoomToBrowser = z.discriminatedUnion("type", [
  Participants,
  Typing,
  FileTransferAllowed,
  FileListing,
  FileReady,
  FileDone,
  FileRefused,
  Moderation,
  Notice,
  RoomHello,
  Status,
  Ended,
  Warning,
  Watchers,
  Sync,
  Extended,
  ErrorMessage,
]);
export type RoomToBrowser = z.infer<typeof RoomToBrowser>;

// ---- connector data socket <-> SessionRoom ----------------------------------------------

export const ConnectorSessionHello = z.strictObject({
  type: z.literal("hello"),
  v: version,
  sessionId: id,
  /** Redialling after the data socket dropped: the SSH session is up and `sent` output bytes were produced. */
  resume: z.strictObject({ sent: offset }).optional(),
});
export const ConnectorStatus = z.strictObject({
  type: z.literal("status"),
  state: z.enum(["connecting", "connected"]),
});
/** Either side ends the session with a reason. */
export const End = z.strictObject({ type: z.literal("end"), reason: EndReason });
/** Answers `attach`: the DATA that follows resends output from `from`; `to` is the offset of the next new byte. */
export const ConnectorSync = z.strictObject({ type: z.literal("sync"), from: offset, to: offset });
/**
 * The connector's recorder (docs/recording.md): "failing" while an optional recording cannot be
 * spooled (the room audits an alert once); a required one ends the session with
 * `recording_unavailable` instead. `detail` is a fixed phrase, never upstream text.
 */
export const ConnectorRecording = z.strictObject({
  type: z.literal("recording"),
  state: z.enum(["recording", "failing"]),
  detail: z.string().max(200).optional(),
});
/**
 * A command line the user ran, or tried to (command control, docs/governance.md), for the commands timeline:
 * `action` is what the connector did (`deny`: never sent; `alert`: sent, to be alerted), `rule` the index of the
 * policy rule that matched (null: none), `at` the output offset when Enter was pressed (where it is in the
 * recording). The line is cut at MAX_COMMAND_EVENT_LINE characters. Sent on the data socket, in order with output.
 * `ms`: where Enter fell on the recording's own clock (ms since it started; absent when the session is not
 * recorded), so the timeline links into the replay at that moment. `message`: the matched rule's message.
 */
export const MAX_COMMAND_EVENT_LINE = 1024;
export const CommandEvent = z.strictObject({
  type: z.literal("command"),
  line: z.string().max(MAX_COMMAND_EVENT_LINE),
  action: z.enum(["allow", "alert", "deny"]),
  rule: z.number().int().nonnegative().max(64).nullable(),
  at: offset,
  ms: z.number().int().nonnegative().optional(),
  message: z.string().max(200).optional(),
});
export type CommandEvent = z.infer<typeof CommandEvent>;
/**
 * A line that a `review` rule holds (docs/governance.md): the connector keeps its Enter until the room answers with
 * `command_review_answer` for this `id` (the connector's, unique in the session). `seconds`: the rule's bound, which
 * the room enforces (within REVIEW_SECONDS); `at`/`ms` as for `command`.
 */
export const CommandReview = z.strictObject({
  type: z.literal("command_review"),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  line: z.string().max(MAX_COMMAND_EVENT_LINE),
  rule: z.number().int().nonnegative().max(64),
  message: z.string().max(200),
  seconds: z.number().int().min(REVIEW_SECONDS.min).max(REVIEW_SECONDS.max),
  at: offset,
  ms: z.number().int().nonnegative().optional(),
});
export type CommandReview = z.infer<typeof CommandReview>;
/**
 * The room's answer to a held line: `allowed` (a reviewer let it run) or not, with what the user reads
 * (`message`: who refused it, or that nobody answered in time; the reviewer's words are never passed on).
 */
export const CommandReviewAnswer = z.strictObject({
  type: z.literal("command_review_answer"),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  allowed: z.boolean(),
  message: z.string().max(300),
});
export type CommandReviewAnswer = z.infer<typeof CommandReviewAnswer>;
/** The user took a held line back (Ctrl-C): the room closes its review; a later answer for `id` is ignored. */
export const CommandReviewWithdrawn = z.strictObject({
  type: z.literal("command_review_withdrawn"),
  id: z.string().regex(/^[0-9a-f]{16}$/),
});
export const ConnectorToRoom = z.discriminatedUnion("type", [
  FileListing,
  FileReady,
  FileDone,
  FileRefused,
  CommandEvent,
  CommandReview,
  CommandReviewWithdrawn,
  Notice,
  ConnectorSessionHello,
  ConnectorStatus,
  ConnectorSync,
  End,
  ConnectorRecording,
]);
export type ConnectorToRoom = z.infer<typeof ConnectorToRoom>;

/**
 * A browser (re)attached, or the data socket was redialled. The connector opens an OUTPUT_WINDOW of
 * credit counted from `acked` (the browser holds everything before it; null: a fresh page that needs
 * nothing outstanding; absent: keep the count), then answers `sync` and resends its output from
 * `from` (null: nothing to resend). The room drops the connector's DATA between `attach` and `sync`.
 */
export const Attach = z.strictObject({
  type: z.literal("attach"),
  acked: offset.nullable().optional(),
  from: offset.nullable(),
});
/** A fresh session grant with a later deadline `dl` (an extension); the connector verifies it like the first. */
export const Extend = z.strictObject({ type: z.literal("extend"), grant: z.string().max(12 * 1024) });
/**
 * A desktop viewer joined (or caught up): the connector has the RDP engine send the whole screen again,
 * into the ordinary output stream (no credit or offset changes). Terminal sessions ignore it.
 */
export const Repaint = z.strictObject({ type: z.literal("repaint") });
/**
 * A marker for the recording (a warning, an extension, a gap): the connector writes it into the
 * stream where it arrives, so it lands in order with the bytes around it. The room witnesses it too.
 */
export const RecordingMarker = z.strictObject({
  type: z.literal("marker"),
  label: z.string().min(1).max(200),
});
export const RoomToConnector = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), v: version, sessionId: id }),
  CommandReviewAnswer,
  Resize,
  Attach,
  Extend,
  End,
  Repaint,
  RecordingMarker,
  ...FileRequests,
]);
export type RoomToConnector = z.infer<typeof RoomToConnector>;

// ---- connector control socket <-> ConnectorHub --------------------------------------------

export const ConnectorHello = z.strictObject({
  type: z.literal("hello"),
  v: version,
  /** The connector software version, for the admin's health view. */
  agent: z.string().max(64),
  /** Its public transport key: another connector seals a rotated site key to it (protocol/seal-rotation.ts). */
  transportKey: PublicSealKey.optional(),
  /** The id of the site seal key it holds. */
  sealKid: z.string().max(64).optional(),
});
/** The connector refused an `open` (bad grant, credential not openable). */
export const Rejected = z.strictObject({
  type: z.literal("rejected"),
  sessionId: id,
  reason: EndReason,
});
/** The connector verified an `open`'s grant and took the session (the hub tries another otherwise). */
export const Accepted = z.strictObject({ type: z.literal("accepted"), sessionId: id });
/**
 * The connector's health, sent on connect and every HEARTBEAT_INTERVAL_MS: live sessions and its
 * last errors (event names and reason codes only: never a secret, host credential or upstream text).
 */
export const ConnectorReport = z.strictObject({
  type: z.literal("report"),
  sessions: z.number().int().nonnegative(),
  errors: z
    .array(
      z.strictObject({
        at: z.number().int(),
        event: z.string().max(64),
        reason: z.string().max(64).optional(),
      }),
    )
    .max(10),
  /** Its recording spool (docs/recording.md): bytes held, the bound, and the oldest chunk not yet uploaded. */
  spool: SpoolHealth.optional(),
});
/** The connector opened a delivered site seal key and holds it now. */
export const SealKeyAdopted = z.strictObject({
  type: z.literal("seal_key_adopted"),
  rotationId: id,
  kid: z.string().max(64),
});
/** Why a host key probe found no key: the site's target policy refused the address, or no SSH server answered. */
export const HostKeyProbeError = z.enum(["refused", "unreachable"]);
/** The answer to `probe_host_key`: the key the server presented (never trusted: an admin compares and pins). */
export const HostKeyProbed = z.strictObject({
  type: z.literal("host_key"),
  probeId: id,
  result: z.union([
    z.strictObject({ ok: z.literal(true), fingerprint: HostKeyFingerprint, keyType: z.string().max(64) }),
    z.strictObject({ ok: z.literal(false), error: HostKeyProbeError }),
  ]),
});
export type HostKeyProbed = z.infer<typeof HostKeyProbed>;
export const ConnectorToHub = z.discriminatedUnion("type", [
  ConnectorHello,
  Rejected,
  Accepted,
  ConnectorReport,
  SealKeyAdopted,
  HostKeyProbed,
  MailResult,
  AuditSyslogResult,
]);
export type ConnectorToHub = z.infer<typeof ConnectorToHub>;

export const Open = z.strictObject({
  type: z.literal("open"),
  sessionId: id,
  /** The signed session grant (compact JWS). Travels only edge -> connector. */
  grant: z.string().max(12 * 1024),
});
export const HubToConnector = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), v: version, siteId: id, connectorId: id }),
  Open,
  /** An admin asked this connector to replace its identity key (connector/identity.ts). */
  z.strictObject({ type: z.literal("rotate_identity") }),
  /** Rotate or verify a credential (protocol/rotation.ts): a job signed by the edge key, `typ` psm-rotation+jwt. */
  z.strictObject({ type: z.literal("rotate"), job: z.string().max(16 * 1024) }),
  /** The keys the edge signs with now and next, in a JWS its current key signed (protocol/edge-keys.ts). */
  z.strictObject({ type: z.literal("edge_keys"), keys: z.string().max(8 * 1024) }),
  /** Make a new site seal key and re-seal the site's credentials (protocol/seal-rotation.ts). */
  z.strictObject({ type: z.literal("rotate_seal_key"), rotationId: id }),
  /** Read the host key the server at host:port presents, as a session would, and answer with `host_key`. */
  z.strictObject({
    type: z.literal("probe_host_key"),
    probeId: id,
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
  }),
  /** The site's new seal key, made by another connector, sealed to this one's transport key. */
  z.strictObject({
    type: z.literal("seal_key"),
    rotationId: id,
    kid: z.string().max(64),
    sealed: z.string().max(8 * 1024),
  }),
  /** Relay a notification email to the organisation's SMTP relay (protocol/mail.ts); answered by `mail_result`. */
  MailJob,
  /** Write audit entries to the on-prem syslog collector (protocol/audit-stream.ts); answered by `audit_syslog_result`. */
  AuditSyslogJob,
]);
export type HubToConnector = z.infer<typeof HubToConnector>;

/** Heartbeats are exact strings so the edge can answer them without waking (auto-response). */
export const PING = '{"type":"ping"}';
export const PONG = '{"type":"pong"}';

export class MessageError extends Error {
  override name = "MessageError";
}

/**
 * Parses a JSON control message against a schema; throws MessageError on size, JSON or shape. `max`: the hop's
 * bound in characters (MAX_HUB_MESSAGE for what the hub sends a connector).
 */
export function parseMessage<T extends z.ZodType>(schema: T, text: string, max = MAX_CONTROL_MESSAGE): z.infer<T> {
  if (text.length > max) throw new MessageError("control message too large");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MessageError("control message is not JSON");
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new MessageError(`invalid ${String(value && (value as { type?: unknown }).type)} message`);
  return result.data;
}

export function encodeMessage<T extends { type: string }>(message: T): string {
  return JSON.stringify(message);
}
