// The notification outbox: rows written in the same D1 batch as the checkout change, delivered later by a sweep
// that claims each row, retries with capped exponential backoff, and keeps rows it gave up on (dead) for admins.
// The one owner of `notifications` (AGENTS.md, "One owner per table"): every write of the table is here.
import { MAIL_ANSWER_TIMEOUT_MS } from "../../protocol/index.ts";
import type { DeliveryResult } from "./delivery.ts";
import { deliverEmail, EMAIL_SEND_TIMEOUT_MS, isEmailAddress, type SendRawEmail } from "./email.ts";
import {
  type CheckoutNotice,
  type EventNotice,
  type RotationFailureNotice,
  renderEvent,
  renderNotice,
  renderRotationFailure,
} from "./messages.ts";
import { deliverPush, PUSH_TIMEOUT_MS } from "./push.ts";
import type { RelayMail } from "./relay.ts";
import { deliverWebhook, WEBHOOK_TIMEOUT_MS } from "./webhook.ts";

/** The bindings and vars the outbox reads; the Worker's Env satisfies it once they are declared there. */
export type NotifyEnv = {
  DB: D1Database;
  /** the send_email binding; absent when email is not configured */
  EMAIL?: SendEmail;
  NOTIFY_WEBHOOK_URL?: string;
  /** signs webhook requests; read at delivery time, never stored in a row */
  NOTIFY_WEBHOOK_SECRET?: string;
  /** bare sender address, e.g. psm@example.com */
  NOTIFY_EMAIL_FROM?: string;
  APP_URL?: string;
  /** Web Push (worker/notify/push.ts): the VAPID signing key, a private P-256 JWK; read at delivery time */
  PUSH_VAPID_KEY?: string;
  /** VAPID `sub`: a mailto: or https: contact for push services (defaults to APP_URL) */
  PUSH_VAPID_SUBJECT?: string;
};

export type NotificationRow = {
  id: string;
  channel: "webhook" | "email" | "push";
  /** webhook URL, email address, or the push subscription's id (push_subscriptions.id) */
  target: string;
  event: string;
  subject: string;
  /** webhook: the JSON payload; email: the plain-text body; push: the notice and its expiry (push.ts) */
  body: string;
};

export type SweepDeps = {
  fetch: typeof fetch;
  /** absent when no send_email binding is configured: email rows then fail (and eventually go dead) */
  sendEmail?: SendRawEmail;
  /** the organisation's SMTP relay through a connector (relay.ts): when set, email rows go there, not to send_email */
  relayMail?: RelayMail;
  /** [0, 1) for the backoff jitter; Math.random by default */
  random?: () => number;
};

/** delivered: sent now; failed: will be retried; dead: failed for the last time and given up. */
export type SweepCounts = { delivered: number; failed: number; dead: number };

/** First retry after 30 s, doubling per failure. */
export const BACKOFF_BASE_MS = 30_000;
/** No retry waits longer than 1 h, jitter included. */
export const BACKOFF_MAX_MS = 3_600_000;
/** ±20 %: rows that failed together (one receiver outage) do not all retry in the same second. */
export const BACKOFF_JITTER = 0.2;
/** The 10th failed attempt marks the row dead. */
export const MAX_ATTEMPTS = 10;
/**
 * Parallel deliveries in one sweep. Workers allow 6 simultaneous outgoing connections per invocation; more would
 * queue inside the runtime and eat into the claim lease.
 */
const SWEEP_CONCURRENCY = 4;
/** The longest one delivery can take before it counts as failed. */
const DELIVERY_MAX_MS = Math.max(WEBHOOK_TIMEOUT_MS, EMAIL_SEND_TIMEOUT_MS, PUSH_TIMEOUT_MS, MAIL_ANSWER_TIMEOUT_MS);
/** Slack for D1 writes and scheduling on top of the slowest possible delivery rounds. */
const LEASE_MARGIN_MS = 60_000;

/** The rows to write for one checkout event: one webhook row if configured, one email row per valid recipient. */
export function planNotifications(
  input: CheckoutNotice | RotationFailureNotice | EventNotice,
  recipients: { emails: string[] },
  env: Pick<NotifyEnv, "EMAIL" | "NOTIFY_WEBHOOK_URL" | "NOTIFY_EMAIL_FROM" | "APP_URL"> & {
    /** an SMTP relay is set up and on (relay.ts): email rows are written even without the send_email binding */
    mailRelay?: boolean;
  },
): NotificationRow[] {
  const msg =
    "headline" in input
      ? renderEvent(input, env.APP_URL)
      : input.event === "credential.rotation_failed"
        ? renderRotationFailure(input, env.APP_URL)
        : renderNotice(input, env.APP_URL);
  const rows: NotificationRow[] = [];
  const row = (channel: NotificationRow["channel"], target: string, body: string) =>
    rows.push({ id: crypto.randomUUID(), channel, target, event: input.event, subject: msg.subject, body });
  if (env.NOTIFY_WEBHOOK_URL) row("webhook", env.NOTIFY_WEBHOOK_URL, JSON.stringify(msg.slack));
  if (env.mailRelay || (env.EMAIL && env.NOTIFY_EMAIL_FROM)) {
    // One row per address: a bounce for one approver must not hold back or repeat the others' mail.
    const seen = new Set<string>();
    for (const raw of recipients.emails) {
      const address = raw.trim();
      if (!isEmailAddress(address) || seen.has(address.toLowerCase())) continue;
      seen.add(address.toLowerCase());
      row("email", address, msg.text);
    }
  }
  return rows;
}

/** INSERTs for `rows`, due at once; put them in the same db.batch as the state change they announce. */
export function enqueueStatements(db: D1Database, rows: NotificationRow[], now: number): D1PreparedStatement[] {
  const insert = db.prepare(
    `INSERT INTO notifications (id, channel, target, event, subject, body, created_at, attempts, next_attempt_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`,
  );
  return rows.map((r) => insert.bind(r.id, r.channel, r.target, r.event, r.subject, r.body, now, now));
}

/** Writes `rows` on their own; returns the statements it ran. */
export async function enqueue(db: D1Database, rows: NotificationRow[], now: number): Promise<D1PreparedStatement[]> {
  const statements = enqueueStatements(db, rows, now);
  if (statements.length > 0) await db.batch(statements);
  return statements;
}

/**
 * An admin's retry of a failed or dead row: due at once, its attempts start over (a dead row would otherwise be dead
 * again after one more failure). False when no such row waits or is dead (delivered, or unknown).
 */
export async function retryNotification(db: D1Database, id: string, now: number): Promise<boolean> {
  const { meta } = await db
    .prepare(
      `UPDATE notifications SET dead_at = NULL, attempts = 0, next_attempt_at = ?
       WHERE id = ? AND delivered_at IS NULL AND (dead_at IS NOT NULL OR next_attempt_at > ?)`,
    )
    .bind(now, id, now)
    .run();
  return meta.changes === 1;
}

/**
 * Delivers just `ids` now (rows enqueued a moment ago that cannot wait for the next cron sweep: a sign-in request
 * lives 60 s), with the same claim, retry and dead-row rules as the sweep; a failure is retried by later sweeps.
 */
export function deliverNow(env: NotifyEnv, ids: string[], deps: SweepDeps, now = Date.now()): Promise<SweepCounts> {
  if (ids.length === 0) return Promise.resolve({ delivered: 0, failed: 0, dead: 0 });
  return deliverDue(env, now, deps, ids.length, ids);
}

/** Wait before the next try after `attempts` failures (1 = first failure), in ms; `random` in [0, 1). */
export function backoffMs(attempts: number, random: number): number {
  const base = Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
  const jittered = base * (1 + BACKOFF_JITTER * (2 * random - 1));
  return Math.round(Math.min(jittered, BACKOFF_MAX_MS));
}

export type AttemptUpdate = {
  outcome: keyof SweepCounts;
  attempts: number;
  nextAttemptAt: number;
  deliveredAt: number | null;
  deadAt: number | null;
  /** null keeps the row's previous last_error (a success leaves the history of failures visible) */
  lastError: string | null;
};

/** The row's new state after one attempt; `attemptsBefore` counts earlier attempts, `now` is ms since the epoch. */
export function afterAttempt(
  attemptsBefore: number,
  result: DeliveryResult,
  now: number,
  random: number,
): AttemptUpdate {
  const attempts = attemptsBefore + 1;
  if (result.ok) {
    return { outcome: "delivered", attempts, nextAttemptAt: now, deliveredAt: now, deadAt: null, lastError: null };
  }
  if (attempts >= MAX_ATTEMPTS || result.final) {
    return { outcome: "dead", attempts, nextAttemptAt: now, deliveredAt: null, deadAt: now, lastError: result.error };
  }
  return {
    outcome: "failed",
    attempts,
    nextAttemptAt: now + backoffMs(attempts, random),
    deliveredAt: null,
    deadAt: null,
    lastError: result.error,
  };
}

type DueRow = NotificationRow & { attempts: number; next_attempt_at: number };

/**
 * Delivers up to `limit` due rows (oldest due first). Each row is claimed first with a compare-and-set UPDATE on
 * the (attempts, next_attempt_at) it was read with, moving next_attempt_at past the whole sweep: a concurrent sweep
 * that read the same row matches nothing and skips it. A sweep that dies mid-way leaves its rows to be retried when
 * the lease runs out, so delivery is at-least-once, never lost. `now` is ms since the epoch.
 */
export async function deliverDue(
  env: NotifyEnv,
  now: number,
  deps: SweepDeps,
  limit = 50,
  only?: string[],
): Promise<SweepCounts> {
  const { results: due } = await env.DB.prepare(
    `SELECT id, channel, target, event, subject, body, attempts, next_attempt_at FROM notifications
     WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?
       AND (? IS NULL OR id IN (SELECT value FROM json_each(?)))
     ORDER BY next_attempt_at LIMIT ?`,
  )
    .bind(now, only ? JSON.stringify(only) : null, only ? JSON.stringify(only) : null, limit)
    .all<DueRow>();
  const counts: SweepCounts = { delivered: 0, failed: 0, dead: 0 };
  if (due.length === 0) return counts;

  // Long enough for every delivery round of this sweep to time out in turn, so a live sweep never loses its claim.
  // (50 rows = 13 rounds = 390 s at most with mail waiting on the relay's connector, 30 s a round: a webhook late in
  // such a sweep carries a timestamp, `now`, past receivers' 300 s window; refused, it is retried with a fresh one.)
  const leaseUntil = now + Math.ceil(due.length / SWEEP_CONCURRENCY) * DELIVERY_MAX_MS + LEASE_MARGIN_MS;
  const claims = await env.DB.batch(
    due.map((r) =>
      env.DB.prepare(
        `UPDATE notifications SET next_attempt_at = ?
         WHERE id = ? AND attempts = ? AND next_attempt_at = ? AND delivered_at IS NULL AND dead_at IS NULL`,
      ).bind(leaseUntil, r.id, r.attempts, r.next_attempt_at),
    ),
  );
  const mine = due.filter((_, i) => claims[i]?.meta.changes === 1);

  let next = 0;
  const lane = async () => {
    for (let row = mine[next++]; row; row = mine[next++]) {
      const outcome = await attemptOne(env, row, now, leaseUntil, deps);
      if (outcome) counts[outcome]++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, mine.length) }, lane));
  return counts;
}

async function attemptOne(
  env: NotifyEnv,
  row: DueRow,
  now: number,
  leaseUntil: number,
  deps: SweepDeps,
): Promise<keyof SweepCounts | null> {
  const result = await deliverRow(env, row, now, deps);
  const u = afterAttempt(row.attempts, result, now, (deps.random ?? Math.random)());
  // Conditional on our own claim: if the lease ran out and another sweep took the row over, its result stands.
  const write = await env.DB.prepare(
    `UPDATE notifications SET attempts = ?, next_attempt_at = ?, delivered_at = ?, dead_at = ?,
       last_error = COALESCE(?, last_error)
     WHERE id = ? AND attempts = ? AND next_attempt_at = ?`,
  )
    .bind(u.attempts, u.nextAttemptAt, u.deliveredAt, u.deadAt, u.lastError, row.id, row.attempts, leaseUntil)
    .run();
  if (write.meta.changes !== 1) return null;
  if (u.outcome !== "delivered") console.warn(`notification ${row.id} (${row.channel}) ${u.outcome}: ${u.lastError}`);
  return u.outcome;
}

function deliverRow(env: NotifyEnv, row: DueRow, now: number, deps: SweepDeps): Promise<DeliveryResult> {
  if (row.channel === "webhook") {
    const fetchFn = deps.fetch; // called unbound: workerd's fetch refuses a foreign `this`
    return deliverWebhook(fetchFn, row.target, env.NOTIFY_WEBHOOK_SECRET, row.body, now);
  }
  if (row.channel === "push") return deliverPush(deps.fetch, env, row, now);
  if (deps.relayMail) return deps.relayMail({ id: row.id, to: row.target, subject: row.subject, text: row.body }, now);
  if (!deps.sendEmail || !env.NOTIFY_EMAIL_FROM) return Promise.resolve({ ok: false, error: "email not configured" });
  return deliverEmail(deps.sendEmail, {
    from: env.NOTIFY_EMAIL_FROM,
    to: row.target,
    subject: row.subject,
    text: row.body,
    now,
  });
}
