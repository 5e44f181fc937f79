// The audit stream's syslog sink on the connector (docs/audit.md "Syslog to an on-prem collector"): the edge hands a
// batch of ledger entries (`audit_syslog`), this writes each as one RFC 5424 message over TLS (RFC 5425, octet
// counting) to the organisation's collector and answers `audit_syslog_result`. The formatter is pure; the forwarder
// is thin glue over node:tls.
//
// TLS gives no application acknowledgement: `sent` means the bytes reached our socket, not the collector's disk. So
// each sink keeps the last `overlap` messages written, and every new connection after the first starts by writing
// them again, then the job. The collector sees some entries twice; each carries its idx and chain hash, so the SIEM
// drops the duplicates (same idx, same hash) and can check the chain (prev = the hash of idx - 1).
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { hostname as osHostname } from "node:os";
import { connect, type TLSSocket } from "node:tls";
import type { AuditEntry, AuditSyslogJob, AuditSyslogResult, SyslogTarget } from "../protocol/index.ts";
import { canonicalJson } from "../protocol/canonical-json.ts";
import type { Log } from "./log.ts";

// ---- the message (pure) ------------------------------------------------------------------------------

/** RFC 5424 facility 13: log audit. */
export const FACILITY_LOG_AUDIT = 13;
export const SEVERITY_WARNING = 4;
export const SEVERITY_NOTICE = 5;
/** The SD-ID's enterprise number by default: 32473, the one RFC 5612 reserves for documentation. */
export const DEFAULT_ENTERPRISE_NUMBER = 32473;
/** Messages a sink remembers and writes again after a reconnect, by default. */
export const DEFAULT_OVERLAP = 100;
export const MAX_OVERLAP = 1000;

const APP_NAME = "psm";
const NIL = "-";
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Entries someone should look at: failures, denials, kills, alerts, lockouts, protocol violations, refusals. */
const WARNING_ACTION = /(_failed|denied|killed|alert|locked_out|protocol_violation|refused)$/;

export function severityOf(action: string): number {
  return WARNING_ACTION.test(action) ? SEVERITY_WARNING : SEVERITY_NOTICE;
}

/** A header field of RFC 5424: printable US-ASCII only (33..126), at most `max` characters, NILVALUE if empty. */
export function headerField(value: string, max: number): string {
  const out = value.replace(/[^\x21-\x7e]/g, "_").slice(0, max);
  return out.length > 0 ? out : NIL;
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
export function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** RFC 3339 in UTC with milliseconds; NILVALUE for a time outside years 0000-9999. */
export function timestamp(ms: number): string {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime()) || d.getUTCFullYear() < 0 || d.getUTCFullYear() > 9999) return NIL;
  return d.toISOString();
}

export type FormatOptions = {
  /** HOSTNAME: the connector's host name (or the configured one). */
  hostname: string;
  /** PROCID: the connector's pid by default. */
  procId?: string;
  /** The SD-ID is `psm@<enterpriseNumber>`. */
  enterpriseNumber?: number;
};

/**
 * One entry as one RFC 5424 message:
 * `<PRI>1 TIMESTAMP HOSTNAME psm PROCID MSGID [psm@PEN idx="N" hash="…" prev="…"] BOM{canonical JSON}`.
 * PRI = facility 13 × 8 + severity; MSGID = the action. The JSON is the whole entry (hash included) in the chain's
 * canonical form, so sha256(canonicalJson(entry without `hash`)) = `hash`.
 */
export function formatEntry(entry: AuditEntry, opts: FormatOptions): Buffer {
  const pri = FACILITY_LOG_AUDIT * 8 + severityOf(entry.action);
  const sd =
    `[${APP_NAME}@${opts.enterpriseNumber ?? DEFAULT_ENTERPRISE_NUMBER}` +
    ` idx="${entry.idx}" hash="${sdValue(entry.hash)}" prev="${sdValue(entry.prev)}"]`;
  const header = [
    `<${pri}>1`,
    timestamp(entry.ts),
    headerField(opts.hostname, 255),
    APP_NAME,
    headerField(opts.procId ?? String(process.pid), 128),
    headerField(entry.action, 32),
    sd,
  ].join(" ");
  return Buffer.concat([Buffer.from(`${header} `, "ascii"), BOM, Buffer.from(canonicalJson(entry), "utf8")]);
}

/** RFC 6587 / RFC 5425 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function frame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, "ascii"), message]);
}

/**
 * The last `count` frames written, and at most `maxBytes` of them: the oldest go first. Written again, in order,
 * at the start of every new connection to the sink.
 */
export class Overlap {
  private frames: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly count: number,
    private readonly maxBytes = OVERLAP_MAX_BYTES,
  ) {}

  push(f: Buffer): void {
    if (this.count === 0) return;
    this.frames.push(f);
    this.bytes += f.length;
    while (this.frames.length > this.count || (this.bytes > this.maxBytes && this.frames.length > 1)) {
      this.bytes -= this.frames.shift()?.length ?? 0;
    }
  }

  all(): readonly Buffer[] {
    return this.frames;
  }

  get size(): number {
    return this.frames.length;
  }
}

// ---- the forwarder (glue) ------------------------------------------------------------------------------

/** Bytes of overlap one sink keeps at most: 4 MiB (100 entries are ~50-100 KiB in practice). */
export const OVERLAP_MAX_BYTES = 4 * 1024 * 1024;
/**
 * Sinks with a connection and an overlap at once; a new one past this closes the least recently used idle one
 * (its overlap goes with it). An organisation has one or two syslog sinks.
 */
const MAX_SINKS = 16;
/**
 * Jobs waiting for one sink. The edge has one job per sink out at a time; more only after its answer timed out
 * (AUDIT_SYSLOG_ANSWER_TIMEOUT_MS), and a job past this is answered `failed` at once: the edge retries it.
 */
const MAX_QUEUED_JOBS = 4;
/** Connect, handshake and every write of one job: a collector slower than this fails the job. Below the edge's 20 s. */
export const SYSLOG_JOB_TIMEOUT_MS = 15_000;
/**
 * Under TLS 1.3 the client's side of the handshake ends before the collector has checked the client's certificate:
 * a collector that refuses it (mutual TLS) answers with an alert only after `secureConnect`, and bytes written in
 * between would be thrown away while we answer `sent`. So a new TLS 1.3 connection is used only once the collector
 * has shown it accepted us: its first session ticket (OpenSSL, GnuTLS and Node servers send one right after they
 * checked the client), or, from a collector that sends none, this long without an alert or a close.
 */
export const SETTLE_MS = 2_000;
/** TCP keepalive on an idle connection, so a collector that vanished is noticed before the next job. */
const KEEPALIVE_MS = 30_000;

/** Fixed phrases a failure is answered with (never a message from the socket or the collector). */
export const SyslogFailure = {
  unreachable: "collector unreachable",
  handshake: "tls handshake failed",
  untrusted: "collector certificate not trusted",
  lost: "collector connection lost",
  refused: "collector refused the connection",
  timeout: "collector timed out",
  tlsFiles: "tls files unreadable",
  busy: "connector busy",
  order: "entries out of order",
} as const;

export type SyslogForwarderOptions = {
  /** PEM bundle the collector's certificate must chain to (config `syslog.caFile`); absent: the system's roots. */
  caFile?: string;
  /** Client certificate and key (PEM) for a collector that requires mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** HOSTNAME in every message; absent: this host's name. */
  hostname?: string;
  overlap?: number;
  enterpriseNumber?: number;
  jobTimeoutMs?: number;
  log: Log;
};

type Sink = {
  socket?: TLSSocket;
  /** host:port the socket is connected to: a job naming another target opens a new connection. */
  to?: string;
  overlap: Overlap;
  /** Whether this process has written a job for the sink: until then it holds no overlap to resend. */
  wrote?: boolean;
  /** The previous job's end: jobs for one sink run strictly one after another. */
  tail: Promise<unknown>;
  queued: number;
  usedAt: number;
};

class Failed extends Error {
  constructor(
    readonly phrase: string,
    readonly code: string,
  ) {
    super(phrase);
  }
}

const NETWORK = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
]);
const CERTIFICATE = /CERT|UNABLE_TO_|SELF_SIGNED|ALTNAME|HOSTNAME/;
/** A TLS alert from the collector (e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED): it refused us. */
const ALERT = /^ERR_SSL_.*ALERT/;

export class SyslogForwarder {
  private readonly sinks = new Map<string, Sink>();
  private readonly format: FormatOptions;
  private readonly overlapCount: number;

  constructor(private readonly opts: SyslogForwarderOptions) {
    this.format = {
      hostname: opts.hostname ?? osHostname(),
      ...(opts.enterpriseNumber ? { enterpriseNumber: opts.enterpriseNumber } : {}),
    };
    this.overlapCount = Math.min(Math.max(opts.overlap ?? DEFAULT_OVERLAP, 0), MAX_OVERLAP);
  }

  /** Writes the job's entries to its sink's collector, after any job before it for that sink; never rejects. */
  handle(job: AuditSyslogJob): Promise<AuditSyslogResult> {
    const sink = this.sink(job.target.sinkId);
    if (!sink || sink.queued >= MAX_QUEUED_JOBS)
      return Promise.resolve(this.failed(job, new Failed(SyslogFailure.busy, "busy")));
    sink.queued++;
    sink.usedAt = Date.now();
    const run = sink.tail.then(() => this.run(sink, job));
    sink.tail = run.finally(() => {
      sink.queued--;
    });
    return run;
  }

  /** Whether a sink has an open connection (tests wait on this). */
  connected(sinkId: string): boolean {
    return Boolean(this.sinks.get(sinkId)?.socket);
  }

  /** Closes every connection (the connector is stopping). */
  close(): void {
    for (const sink of this.sinks.values()) sink.socket?.destroy();
  }

  private sink(sinkId: string): Sink | undefined {
    const known = this.sinks.get(sinkId);
    if (known) return known;
    if (this.sinks.size >= MAX_SINKS) {
      const idle = [...this.sinks.entries()]
        .filter(([, s]) => s.queued === 0)
        .sort((a, b) => a[1].usedAt - b[1].usedAt)[0];
      if (!idle) return undefined;
      idle[1].socket?.destroy();
      this.sinks.delete(idle[0]);
    }
    const sink: Sink = { overlap: new Overlap(this.overlapCount), tail: Promise.resolve(), queued: 0, usedAt: 0 };
    this.sinks.set(sinkId, sink);
    return sink;
  }

  private async run(sink: Sink, job: AuditSyslogJob): Promise<AuditSyslogResult> {
    const { log } = this.opts;
    for (let i = 1; i < job.entries.length; i++) {
      if (job.entries[i]!.idx <= job.entries[i - 1]!.idx)
        return this.failed(job, new Failed(SyslogFailure.order, "order"));
    }
    const frames = job.entries.map((e) => frame(formatEntry(e, this.format)));
    let timer: NodeJS.Timeout | undefined;
    let opening: Promise<TLSSocket> | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Failed(SyslogFailure.timeout, "timeout"));
        }, this.opts.jobTimeoutMs ?? SYSLOG_JOB_TIMEOUT_MS);
      });
      deadline.catch(() => undefined);
      const to = `${job.target.host}:${job.target.port}`;
      if (sink.socket && sink.to !== to) drop(sink);
      let resent = 0;
      if (!sink.socket) {
        opening = this.open(sink, job.target);
        const socket = await Promise.race([opening, deadline]);
        sink.socket = socket;
        sink.to = to;
        // What the last connection wrote may not have reached the collector: write it again first.
        const again = [...sink.overlap.all()];
        resent = again.length;
        if (again.length > 0) await Promise.race([writeAll(socket, again), deadline]);
        log("audit_syslog.connected", { sink: job.target.sinkId, resent });
      }
      await Promise.race([writeAll(sink.socket, frames, (f) => sink.overlap.push(f)), deadline]);
      const through = job.entries[job.entries.length - 1]!.idx;
      // First job here: what another process (or this one before a restart) wrote last is not in our overlap,
      // so the edge is told, and sends that window again (protocol/audit-stream.ts AUDIT_SYSLOG_REWIND).
      const fresh = !sink.wrote;
      sink.wrote = true;
      log("audit_syslog.sent", {
        job: job.jobId,
        sink: job.target.sinkId,
        count: frames.length,
        through,
        resent,
        fresh,
      });
      return {
        type: "audit_syslog_result",
        jobId: job.jobId,
        result: { outcome: "sent", through, ...(fresh ? { fresh } : {}) },
      };
    } catch (err) {
      // Whatever broke, the connection is not trusted again: the next job opens a new one and resends the overlap.
      drop(sink);
      // A connection that came up only after the deadline is closed as soon as it does.
      opening?.then(
        (s) => {
          if (sink.socket !== s) s.destroy();
        },
        () => undefined,
      );
      return this.failed(job, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(job: AuditSyslogJob, err: unknown): AuditSyslogResult {
    const f = err instanceof Failed ? err : new Failed(SyslogFailure.lost, codeOf(err));
    this.opts.log("audit_syslog.failed", {
      job: job.jobId,
      sink: job.target.sinkId,
      count: job.entries.length,
      error: f.phrase,
      code: f.code,
    });
    return { type: "audit_syslog_result", jobId: job.jobId, result: { outcome: "failed", error: f.phrase } };
  }

  /** A verified TLS connection to the collector; rejects with a Failed naming why not. */
  private async open(sink: Sink, target: SyslogTarget): Promise<TLSSocket> {
    let ca: Buffer[] | undefined;
    let cert: Buffer | undefined;
    let key: Buffer | undefined;
    try {
      ca = this.opts.caFile ? [await readFile(this.opts.caFile)] : undefined;
      cert = this.opts.certFile ? await readFile(this.opts.certFile) : undefined;
      key = this.opts.keyFile ? await readFile(this.opts.keyFile) : undefined;
    } catch (err) {
      throw new Failed(SyslogFailure.tlsFiles, codeOf(err));
    }
    const host = target.host.replace(/^\[|\]$/g, "");
    return new Promise<TLSSocket>((resolve, reject) => {
      const socket = connect({
        host,
        port: target.port,
        // SNI takes names only; for an address Node checks the certificate's IP SANs against `host`.
        ...(isIP(host) ? {} : { servername: host }),
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
      });
      // Before TCP is up, refused/unroutable/unnamed: unreachable. During the handshake: a failed check of the
      // collector's certificate is untrusted, anything else (a reset, a close) the handshake failed. After it, an
      // alert or a close before the collector confirmed us: it refused us (a client certificate it does not take).
      let tcpUp = false;
      let secure = false;
      socket.once("connect", () => {
        tcpUp = true;
      });
      let settle: NodeJS.Timeout | undefined;
      const early = (err: Error) => {
        clearTimeout(settle);
        socket.destroy();
        const code = codeOf(err);
        const phrase =
          secure || ALERT.test(code)
            ? SyslogFailure.refused
            : CERTIFICATE.test(code)
              ? SyslogFailure.untrusted
              : !tcpUp && NETWORK.has(code)
                ? SyslogFailure.unreachable
                : SyslogFailure.handshake;
        reject(new Failed(phrase, code));
      };
      const closed = () => {
        clearTimeout(settle);
        reject(new Failed(secure ? SyslogFailure.refused : SyslogFailure.handshake, "closed"));
      };
      socket.once("error", early);
      socket.once("close", closed);
      const ready = () => {
        socket.off("error", early);
        socket.off("close", closed);
        socket.setKeepAlive(true, KEEPALIVE_MS);
        socket.setNoDelay(true);
        // Reading on keeps us hearing its FIN, so a closed connection is dropped at once.
        socket.on("error", () => undefined);
        socket.once("close", () => {
          if (sink.socket === socket) {
            sink.socket = undefined;
            this.opts.log("audit_syslog.disconnected", { to: sink.to });
          }
        });
        resolve(socket);
      };
      socket.once("secureConnect", () => {
        secure = true;
        // The collector sends nothing else; reading lets us hear its ticket, its alert and its FIN.
        socket.resume();
        if (socket.getProtocol() !== "TLSv1.3") return ready(); // TLS 1.2: the collector's Finished came after its checks
        // Not from inside the event: it fires while OpenSSL is still reading, and a write from there (a resolved
        // promise's continuation runs before the read returns) corrupts the record stream.
        const onTicket = () => {
          clearTimeout(settle);
          settle = setTimeout(ready, 0);
        };
        socket.once("session", onTicket);
        settle = setTimeout(() => {
          socket.off("session", onTicket);
          ready();
        }, SETTLE_MS);
      });
    });
  }
}

function drop(sink: Sink): void {
  sink.socket?.destroy();
  sink.socket = undefined;
}

/**
 * Writes the frames in order; resolves once the last one's write callback said it was handed to the kernel, rejects
 * when the socket errs or closes first. `written` sees each frame as its callback succeeds.
 */
function writeAll(socket: TLSSocket, frames: readonly Buffer[], written?: (f: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (socket.destroyed) {
      reject(new Failed(SyslogFailure.lost, "closed"));
      return;
    }
    const onClose = () => reject(new Failed(SyslogFailure.lost, "closed"));
    const onError = (err: Error) => reject(new Failed(SyslogFailure.lost, codeOf(err)));
    socket.once("close", onClose);
    socket.once("error", onError);
    const done = (err?: Error | null) => {
      socket.off("close", onClose);
      socket.off("error", onError);
      if (err) reject(new Failed(SyslogFailure.lost, codeOf(err)));
      else resolve();
    };
    frames.forEach((f, i) => {
      const last = i === frames.length - 1;
      socket.write(f, (err) => {
        if (!err) written?.(f);
        if (last || err) done(err);
      });
    });
    if (frames.length === 0) done();
  });
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code.slice(0, 64) : err instanceof Error ? err.name : "unknown";
}
