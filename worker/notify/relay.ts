// The SMTP relay channel (docs/notifications.md "SMTP relay"): an email row of the outbox, when an admin has set a
// relay up, goes to the ConnectorHub of the site named for mail, which hands it to one online connector; that
// connector relays it (connector/mail.ts) and answers. The job id is the row's id, so a retry of a message the
// relay already accepted is answered `accepted` by the connector without a second send. The one owner of `mail_relay`
// (AGENTS.md, "One owner per table"): its one row is read and written here.
import { MAX_MAIL_RAW, type MailJob, type MailResult, type MailTls } from "../../protocol/index.ts";
import type { Env } from "../env.ts";
import type { DeliveryResult } from "./delivery.ts";
import { buildEmail } from "./email.ts";

export type MailRelayRow = {
  enabled: number;
  site_id: string;
  host: string;
  port: number;
  tls: MailTls;
  username: string | null;
  password_sealed: string | null;
  from_address: string;
  updated_at: number;
};

/** What a relayed email needs: the row's id (the job id), address, subject and plain text. */
export type RelayedEmail = { id: string; to: string; subject: string; text: string };
export type RelayMail = (email: RelayedEmail, now: number) => Promise<DeliveryResult>;

/** Hands one job to the mail site's connectors and waits for the answer (ConnectorHub.sendMail). */
export type SendToSite = (siteId: string, job: MailJob) => Promise<MailResult["result"]>;

export async function loadRelay(db: D1Database): Promise<MailRelayRow | null> {
  return db
    .prepare(
      `SELECT enabled, site_id, host, port, tls, username, password_sealed, from_address, updated_at
       FROM mail_relay WHERE id = 1`,
    )
    .first<MailRelayRow>();
}

/** Sets the one relay row (created on the first save); `passwordSealed` as the caller decided to keep or replace it. */
export async function saveRelay(
  db: D1Database,
  relay: {
    enabled: boolean;
    siteId: string;
    host: string;
    port: number;
    tls: MailTls;
    user: string | null;
    passwordSealed: string | null;
    from: string;
  },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO mail_relay (id, enabled, site_id, host, port, tls, username, password_sealed, from_address, updated_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled, site_id = excluded.site_id, host = excluded.host,
         port = excluded.port, tls = excluded.tls, username = excluded.username,
         password_sealed = excluded.password_sealed, from_address = excluded.from_address, updated_at = excluded.updated_at`,
    )
    .bind(
      relay.enabled ? 1 : 0,
      relay.siteId,
      relay.host,
      relay.port,
      relay.tls,
      relay.user,
      relay.passwordSealed,
      relay.from,
      Date.now(),
    )
    .run();
}

/** The relay channel, or undefined when no relay is set up and turned on (email then goes by send_email). */
export async function relayChannel(db: D1Database, send: SendToSite): Promise<RelayMail | undefined> {
  const relay = await loadRelay(db);
  if (!relay?.enabled) return undefined;
  return (email, now) => relayOne(relay, send, email, now);
}

/** Builds the message (at most MAX_MAIL_RAW: a long text is cut), sends the job and reads the connector's answer. */
export async function relayOne(
  relay: MailRelayRow,
  send: SendToSite,
  email: RelayedEmail,
  now: number,
): Promise<DeliveryResult> {
  let raw: string;
  try {
    raw = fitted(relay.from_address, email, now);
  } catch {
    return { ok: false, error: "invalid sender or recipient address", final: true };
  }
  const job: MailJob = {
    type: "mail",
    jobId: email.id,
    relay: {
      host: relay.host,
      port: relay.port,
      tls: relay.tls,
      ...(relay.username ? { user: relay.username } : {}),
      ...(relay.password_sealed ? { password: relay.password_sealed } : {}),
    },
    from: relay.from_address,
    to: email.to,
    raw,
  };
  let outcome: MailResult["result"];
  try {
    outcome = await send(relay.site_id, job);
  } catch {
    return { ok: false, error: "the mail site's hub did not answer" };
  }
  if (outcome.outcome === "accepted") return { ok: true };
  // A 5xx is the relay's final word: the row is dead at once, for admins to see (Admin › Notifications).
  return { ok: false, error: `relay: ${outcome.error}`, ...(outcome.retryable ? {} : { final: true }) };
}

/** The RFC 5322 message, its Message-ID the row's id (the same on every retry); text halved until it fits. */
function fitted(from: string, email: RelayedEmail, now: number): string {
  let text = email.text;
  for (;;) {
    const raw = buildEmail({ from, to: email.to, subject: email.subject, text, now, id: email.id });
    if (raw.length <= MAX_MAIL_RAW) return raw;
    text = `${text.slice(0, Math.floor(text.length / 2))}\n[cut]`;
  }
}

/** SendToSite through the site's ConnectorHub Durable Object. */
export function hubSender(env: Pick<Env, "CONNECTOR_HUB">): SendToSite {
  return (siteId, job) => env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(siteId)).sendMail(job);
}
