// Mail through a connector (docs/notifications.md "SMTP relay"): the edge's outbox hands a notification email to
// the mail site's ConnectorHub, which sends it to one online connector as `mail`; the connector relays it with
// nodemailer to the organisation's SMTP relay and answers `mail_result`. Also the admin's relay settings and
// each user's notification preferences (API bodies).
import { z } from "zod";
import { SealedSecret } from "./tokens.ts";

/**
 * An id the edge made (a UUID): a job the hub hands a connector (for mail the outbox row's id; the connector answers
 * a job id the relay accepted without resending), a sink, a site.
 */
export const OpaqueId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);
/** A host a connector dials on the edge's word: a DNS name or a bracketed IP literal. */
export const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/, "a host name or address");
/** A bare addr-spec (the outbox checks the stricter isEmailAddress before it builds a message). */
const address = z
  .string()
  .min(3)
  .max(254)
  .regex(/^[^\s<>@]+@[^\s<>@]+$/);

/**
 * How the connector protects the connection to the relay: `required`: STARTTLS must succeed (a relay that does
 * not offer it fails the job); `opportunistic`: STARTTLS when offered (with a password: required, so it never
 * crosses in the clear); `implicit`: TLS from the first byte
 * (port 465). The relay's certificate is always verified (the connector's `mail.caFile` adds a private CA).
 */
export const MailTls = z.enum(["required", "opportunistic", "implicit"]);
export type MailTls = z.infer<typeof MailTls>;

/** The relay as the connector dials it; `password` is sealed to the site and opened only on the connector. */
export const MailRelay = z.strictObject({
  host: Hostname,
  port: z.number().int().min(1).max(65535),
  tls: MailTls,
  user: z.string().min(1).max(256).optional(),
  password: SealedSecret.optional(),
});
export type MailRelay = z.infer<typeof MailRelay>;

/** How long the edge waits for a mail job's answer (the connector gives each step with the relay 10 s). */
export const MAIL_ANSWER_TIMEOUT_MS = 30_000;

/** The raw RFC 5322 message a job carries, at most (it travels in one control message of MAX_CONTROL_MESSAGE). */
export const MAX_MAIL_RAW = 10 * 1024;

/** Edge -> connector: relay this message; answer `mail_result` with the same `jobId`. */
export const MailJob = z.strictObject({
  type: z.literal("mail"),
  jobId: OpaqueId,
  relay: MailRelay,
  /** envelope sender (MAIL FROM), equal to the From header */
  from: address,
  /** envelope recipient (RCPT TO), equal to the To header */
  to: address,
  raw: z.string().min(1).max(MAX_MAIL_RAW),
});
export type MailJob = z.infer<typeof MailJob>;

/**
 * Connector -> edge. `accepted`: the relay answered 2xx after DATA (`response`: its reply line, which names its
 * queue id), or this job id was accepted before and nothing was sent again. `failed`: the relay did not take it;
 * `retryable` for 4xx replies and connection, TLS or timeout failures, not for 5xx (permanent). `error` is a
 * fixed phrase with the relay's reply code, never a secret.
 */
export const MailResult = z.strictObject({
  type: z.literal("mail_result"),
  jobId: OpaqueId,
  result: z.discriminatedUnion("outcome", [
    z.strictObject({ outcome: z.literal("accepted"), response: z.string().max(200) }),
    z.strictObject({ outcome: z.literal("failed"), retryable: z.boolean(), error: z.string().max(200) }),
  ]),
});
export type MailResult = z.infer<typeof MailResult>;

// ---- API bodies -----------------------------------------------------------------------------------

/** Admin › Notifications: the SMTP relay the organisation's mail goes through, and the site that carries it. */
export const MailRelaySettings = z.strictObject({
  configured: z.boolean(),
  enabled: z.boolean(),
  siteId: z.string().nullable(),
  host: z.string().nullable(),
  port: z.number().int().nullable(),
  tls: MailTls,
  user: z.string().nullable(),
  /** whether a sealed password is stored; the password itself never leaves the connector */
  passwordSet: z.boolean(),
  from: z.string().nullable(),
});
export type MailRelaySettings = z.infer<typeof MailRelaySettings>;

/**
 * Saving the relay. `password`: sealed to the site in the browser; absent keeps the stored one (for the same site, host,
 * port and TLS mode only), null clears it.
 */
export const MailRelayUpdate = z.strictObject({
  enabled: z.boolean(),
  siteId: z.string().min(1).max(64),
  host: Hostname,
  port: z.number().int().min(1).max(65535),
  tls: MailTls,
  user: z.string().min(1).max(256).nullable(),
  password: SealedSecret.nullable().optional(),
  from: address,
});
export type MailRelayUpdate = z.infer<typeof MailRelayUpdate>;

/** The events a person can be told about (docs/notifications.md), grouped as the Account page shows them. */
export const NotifyTopic = z.enum([
  "requests", // a checkout asked of me as approver, or my own checkout decided, expired or revoked
  "extensions", // an extension asked of me as approver, or mine decided
  "kills", // my session killed by an admin (admins: any kill)
  "recording_alerts", // admins: a recording alert
  "rotation_failures", // admins: a credential rotation failed
  "connectors", // admins: a connector went offline
  "moderation", // a moderated session waits for me as one of its moderators
]);
export type NotifyTopic = z.infer<typeof NotifyTopic>;

/** Where a person hears of a topic: by email, or not at all (the page and the webhook still show it). */
export const NotifyChannel = z.enum(["email", "off"]);
export type NotifyChannel = z.infer<typeof NotifyChannel>;

export const NotifyPreferences = z.strictObject({
  /** every topic, with the user's choice or the default */
  topics: z.record(NotifyTopic, NotifyChannel),
  /** the address mail goes to (null: none on file, nothing can be sent) */
  email: z.string().nullable(),
});
export type NotifyPreferences = z.infer<typeof NotifyPreferences>;

/** Changing some topics; the others stay as they are. */
export const NotifyPreferencesUpdate = z.strictObject({
  topics: z.partialRecord(NotifyTopic, NotifyChannel),
});

/** Admin › Notifications: outbox rows that failed for good (or keep failing), for admins to see and retry. */
export const OutboxRow = z.strictObject({
  id: z.string(),
  channel: z.enum(["webhook", "email", "smtp"]),
  target: z.string(),
  event: z.string(),
  subject: z.string(),
  attempts: z.number().int(),
  createdAt: z.number().int(),
  state: z.enum(["pending", "delivered", "failed", "dead"]),
  lastError: z.string().nullable(),
});
export type OutboxRow = z.infer<typeof OutboxRow>;
