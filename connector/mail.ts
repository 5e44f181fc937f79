// Mail through the connector (docs/notifications.md "SMTP relay"): relays the edge's notification emails to the
// organisation's SMTP relay with nodemailer (STARTTLS, AUTH with the relay password sealed to the site and opened
// here only for the send), and answers each job once. A job id the relay accepted is remembered on disk, so a job
// the edge sends again (its answer was lost) is answered `accepted` without a second message.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import nodemailer from "nodemailer";
import type { MailJob, MailResult } from "../protocol/index.ts";
import type { Log } from "./log.ts";
import { openSealed, RetiredSealKey } from "./seal.ts";

/** The file of accepted job ids, in the state dir. */
export const MAIL_SENT_FILE = "mail-sent.json";
/** Accepted job ids kept, at most; the oldest are forgotten first (the edge gives a job up well before this). */
const SENT_REMEMBERED = 5_000;
/** An accepted id is kept this long at least, unless SENT_REMEMBERED newer ones push it out: 30 days. */
const SENT_KEEP_MS = 30 * 24 * 3_600_000;
/** Connect, greeting and each reply: a relay slower than this fails the job (retryable). */
export const MAIL_TIMEOUT_MS = 10_000;
/** Longest error or response text kept, in characters. */
const TEXT_MAX = 200;

type Sent = Record<string, { at: number; response: string }>;

export type MailDeps = {
  stateDir: string;
  sealKey: () => JWK;
  /** PEM bundle the relay's certificate may chain to, besides the system's roots (config `mail.caFile`). */
  caFile?: string;
  log: Log;
  now?: () => number;
};

export class MailRelayer {
  private sent?: Sent;
  /**
   * Jobs being sent now, by id: a job that arrives again while its first send is under way waits for that one's
   * answer instead of sending twice. Bounded by the edge, which has at most a few jobs out at once.
   */
  private readonly inFlight = new Map<string, Promise<MailResult>>();

  constructor(private readonly deps: MailDeps) {}

  handle(job: MailJob): Promise<MailResult> {
    const running = this.inFlight.get(job.jobId);
    if (running) return running;
    const p = this.once(job).finally(() => this.inFlight.delete(job.jobId));
    this.inFlight.set(job.jobId, p);
    return p;
  }

  private async once(job: MailJob): Promise<MailResult> {
    const sent = await this.load();
    const before = sent[job.jobId];
    if (before) {
      this.deps.log("mail.already_accepted", { job: job.jobId });
      return { type: "mail_result", jobId: job.jobId, result: { outcome: "accepted", response: before.response } };
    }
    let password: string | undefined;
    try {
      password = job.relay.password
        ? (await openSealed(this.deps.sealKey(), job.relay.password)).toString("utf8")
        : undefined;
    } catch (err) {
      const retired = err instanceof RetiredSealKey;
      this.deps.log("mail.failed", { job: job.jobId, error: retired ? "retired_seal_key" : "seal_open_failed" });
      return failed(
        job,
        false,
        retired
          ? "the relay password is sealed to a replaced site key: save it again"
          : "the relay password cannot be opened",
      );
    }
    const ca = this.deps.caFile ? [await readFile(this.deps.caFile)] : undefined;
    const transport = nodemailer.createTransport({
      host: job.relay.host.replace(/^\[|\]$/g, ""),
      port: job.relay.port,
      secure: job.relay.tls === "implicit",
      // A password never crosses in the clear: with one, "STARTTLS when offered" becomes "STARTTLS or nothing" (a
      // relay, or an attacker stripping STARTTLS from its greeting, that offers none gets no login).
      requireTLS: job.relay.tls === "required" || (job.relay.tls === "opportunistic" && password !== undefined),
      ...(job.relay.user ? { auth: { user: job.relay.user, pass: password ?? "" } } : {}),
      tls: { ...(ca ? { ca } : {}), rejectUnauthorized: true, minVersion: "TLSv1.2" },
      connectionTimeout: MAIL_TIMEOUT_MS,
      greetingTimeout: MAIL_TIMEOUT_MS,
      socketTimeout: MAIL_TIMEOUT_MS,
      logger: false,
      debug: false,
    });
    try {
      const info = await transport.sendMail({ envelope: { from: job.from, to: [job.to] }, raw: job.raw });
      const response = clean(String(info.response ?? "accepted"), password);
      // Remembered before the answer goes out: a crash between the two resends at most once more.
      sent[job.jobId] = { at: this.now(), response };
      // The relay has it whatever happens to the file: answered `accepted` (memory still holds the id).
      await this.save(sent).catch((err: Error) => this.deps.log("mail.sent_file_failed", { error: err.name }));
      this.deps.log("mail.accepted", { job: job.jobId });
      return { type: "mail_result", jobId: job.jobId, result: { outcome: "accepted", response } };
    } catch (err) {
      const e = err as { code?: unknown; responseCode?: unknown; response?: unknown };
      const reply = typeof e.responseCode === "number" ? e.responseCode : undefined;
      const code = typeof e.code === "string" ? e.code : "ESEND";
      // 5xx is the relay's final no; anything else (4xx, no reply: connection, TLS, timeout) may pass later.
      const retryable = reply === undefined || reply < 500;
      this.deps.log("mail.failed", { job: job.jobId, code, reply, retryable });
      const text = typeof e.response === "string" ? `: ${e.response}` : "";
      return failed(job, retryable, clean(`smtp ${reply ?? "no reply"} (${code})${text}`, password));
    } finally {
      transport.close();
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async load(): Promise<Sent> {
    if (this.sent) return this.sent;
    const text = await readFile(join(this.deps.stateDir, MAIL_SENT_FILE), "utf8").catch(() => "{}");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = {};
    }
    this.sent = parsed && typeof parsed === "object" ? (parsed as Sent) : {};
    return this.sent;
  }

  private async save(sent: Sent): Promise<void> {
    const cutoff = this.now() - SENT_KEEP_MS;
    const kept = Object.entries(sent)
      .filter(([, v]) => v.at >= cutoff)
      .sort((a, b) => b[1].at - a[1].at)
      .slice(0, SENT_REMEMBERED);
    this.sent = Object.fromEntries(kept);
    await mkdir(this.deps.stateDir, { recursive: true, mode: 0o700 });
    const file = join(this.deps.stateDir, MAIL_SENT_FILE);
    await writeFile(`${file}.tmp`, JSON.stringify(this.sent), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }
}

function failed(job: MailJob, retryable: boolean, error: string): MailResult {
  return { type: "mail_result", jobId: job.jobId, result: { outcome: "failed", retryable, error } };
}

/** One line, the password cut out, at most TEXT_MAX characters. */
function clean(text: string, password: string | undefined): string {
  let out = password ? text.replaceAll(password, "[redacted]") : text;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replies are one line in a row
  out = out.replace(/[\u0000-\u001f\u007f\s]+/g, " ").trim();
  return out.length > TEXT_MAX ? `${out.slice(0, TEXT_MAX - 1)}…` : out;
}
