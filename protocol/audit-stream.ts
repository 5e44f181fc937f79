// The audit stream (docs/audit.md "Streaming to a SIEM"): every ledger entry also goes out, in order and at least
// once, to the sinks an admin configures. Two kinds:
// - `hec`: an HTTPS event collector (Splunk HEC JSON), posted by the edge; resumes after the last acknowledged entry;
// - `syslog`: RFC 5424 over TLS (RFC 5425 octet counting) to an on-prem collector, sent by a connector of one site.
//   The edge's ConnectorHub hands the connector a batch (`audit_syslog`); it answers `audit_syslog_result` once the
//   batch is written to the collector's socket. TLS has no acknowledgement, so after a reconnect the connector first
//   resends an overlap of what it wrote last; every entry carries its sequence number (`idx`) and chain hash, so the
//   SIEM drops duplicates and can check the chain.
import { z } from "zod";
import { AuditEntry } from "./audit.ts";
import { Hostname, OpaqueId } from "./mail.ts";

const port = z.number().int().min(1).max(65535);

export const AuditSinkKind = z.enum(["hec", "syslog"]);
export type AuditSinkKind = z.infer<typeof AuditSinkKind>;

/** Most entries one delivery carries (one HEC POST, one syslog job). */
export const AUDIT_BATCH_ENTRIES = 200;
/** Most bytes of entry JSON one delivery carries; an `audit_syslog` job must fit MAX_HUB_MESSAGE with room to spare. */
export const AUDIT_BATCH_BYTES = 48 * 1024;
/**
 * Entries the edge sends a syslog sink again when a connector answers `fresh` (its first job for the sink): the
 * window another connection may have written without it reaching the collector. The connector's own overlap after a
 * reconnect is the same size by default.
 */
export const AUDIT_SYSLOG_REWIND = 100;
/** How long the edge waits for a connector's answer to an `audit_syslog` job. */
export const AUDIT_SYSLOG_ANSWER_TIMEOUT_MS = 20_000;

// ---- edge <-> connector -----------------------------------------------------------------------------

/** Where the connector sends; its CA and client certificate are the connector's own configuration. */
export const SyslogTarget = z.strictObject({
  /** the sink's id: the connector keeps one connection and one overlap per sink */
  sinkId: OpaqueId,
  host: Hostname,
  port,
});
export type SyslogTarget = z.infer<typeof SyslogTarget>;

/** Edge -> connector: write these entries, in order, to the collector; answer `audit_syslog_result`. */
export const AuditSyslogJob = z.strictObject({
  type: z.literal("audit_syslog"),
  jobId: OpaqueId,
  target: SyslogTarget,
  entries: z.array(AuditEntry).min(1).max(AUDIT_BATCH_ENTRIES),
});
export type AuditSyslogJob = z.infer<typeof AuditSyslogJob>;

/**
 * Connector -> edge. `sent`: every entry up to `through` (the batch's last idx) was written to the collector's TLS
 * socket; `fresh`: this was the connector process's first job for the sink, so it held no overlap of what was
 * written before (another connector, or itself before a restart): the edge then sends the last AUDIT_SYSLOG_REWIND
 * entries before the batch again. `failed`: the collector could not be reached or refused the connection; `error`
 * is a fixed phrase.
 */
export const AuditSyslogResult = z.strictObject({
  type: z.literal("audit_syslog_result"),
  jobId: OpaqueId,
  result: z.discriminatedUnion("outcome", [
    z.strictObject({
      outcome: z.literal("sent"),
      through: z.number().int().nonnegative(),
      fresh: z.boolean().optional(),
    }),
    z.strictObject({ outcome: z.literal("failed"), error: z.string().max(200) }),
  ]),
});
export type AuditSyslogResult = z.infer<typeof AuditSyslogResult>;

// ---- API bodies (Admin › Audit › Streaming) -----------------------------------------------------------

const name = z.string().trim().min(1).max(64);
/** Where an HEC collector listens: https only (the token travels in the Authorization header). */
const hecUrl = z
  .url({ protocol: /^https$/ })
  .max(2048)
  .refine((u) => !new URL(u).username && !new URL(u).password, "no credentials in the URL");

/**
 * Creating or replacing a sink. `token` (HEC): absent keeps the stored one on a replace of the same URL. `from`: `start` sends the
 * whole ledger, `now` only entries written from now on.
 */
export const AuditSinkInput = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("hec"),
    name,
    enabled: z.boolean().default(true),
    url: hecUrl,
    token: z.string().min(1).max(256).optional(),
    from: z.enum(["start", "now"]).default("start"),
  }),
  z.strictObject({
    kind: z.literal("syslog"),
    name,
    enabled: z.boolean().default(true),
    siteId: OpaqueId,
    host: Hostname,
    port,
    from: z.enum(["start", "now"]).default("start"),
  }),
]);
export type AuditSinkInput = z.input<typeof AuditSinkInput>;

/** A sink as admins see it: never the HEC token, only whether one is set. */
export const AuditSink = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: AuditSinkKind,
  enabled: z.boolean(),
  url: z.string().nullable(),
  tokenSet: z.boolean(),
  siteId: z.string().nullable(),
  host: z.string().nullable(),
  port: z.number().int().nullable(),
  /** the last entry the sink acknowledged (-1: none yet) */
  afterIdx: z.number().int(),
  /** entries written to the ledger and not yet acknowledged by this sink */
  behind: z.number().int().nonnegative(),
  lastOkAt: z.number().int().nullable(),
  failingSince: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.number().int().nullable(),
});
export type AuditSink = z.infer<typeof AuditSink>;
