// Renders checkout events as an email (subject + plain text) and a Slack payload. The input holds names and times
// only, never a credential, grant or token, so nothing secret can reach a channel.
import { truncate } from "./delivery.ts";
import { escapeMrkdwn, type SlackPayload, slackPayload } from "./webhook.ts";

export const NOTIFY_EVENTS = [
  "checkout.requested",
  "checkout.approved",
  "checkout.denied",
  "checkout.expired",
  "checkout.revoked",
  "checkout.checked_in",
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export type CheckoutNotice = {
  event: NotifyEvent;
  checkoutId: string;
  /** display names, not ids */
  requester: string;
  server: string;
  credential: string;
  /** window, ms since the epoch */
  startsAt: number;
  endsAt: number;
  justification?: string;
  /** the approver (approved/denied) or admin (revoked) */
  decidedBy?: string;
  /** the approver's comment (approved/denied) */
  comment?: string;
  /** why it was revoked */
  reason?: string;
};

/** A credential's rotation failed (the first failure of a run: retries are not announced again). */
export type RotationFailureNotice = {
  event: "credential.rotation_failed";
  credentialId: string;
  /** display name and account */
  credential: string;
  /** why, in words (ROTATION_ERROR_TEXT) */
  reason: string;
  attempts: number;
  /** ms since the epoch; null when no retry is planned */
  retryAt: number | null;
};

export type RenderedNotice = { subject: string; text: string; slack: SlackPayload };

export function renderRotationFailure(n: RotationFailureNotice, appUrl?: string): RenderedNotice {
  const credential = oneLine(n.credential);
  const base = appUrl?.replace(/\/+$/, "");
  const shape: Shape = {
    subject: `Rotation failed: ${credential}`,
    headline: `The connector could not rotate ${credential}. It is not handed out until a retry succeeds.`,
    fields: [
      { label: "Credential", value: credential },
      { label: "Reason", value: oneLine(n.reason) },
      { label: "Attempts", value: String(n.attempts) },
      { label: "Next try", value: n.retryAt ? formatTime(n.retryAt) : "none planned" },
    ],
    link: base ? { label: "Open Admin › Credentials", url: `${base}/#/admin/credentials` } : undefined,
  };
  const context = `Credential ${oneLine(n.credentialId)} · ${n.event}`;
  return { subject: shape.subject, text: plainText(shape, context), slack: slackOf(shape, context) };
}

/**
 * Any other event a person should act on or know about (an extension asked or decided, a kill, a recording alert,
 * a connector down): already in words, built by notify/events.ts from names and fixed phrases only.
 */
export type EventNotice = {
  /** the audit action, or connector.down */
  event: string;
  subject: string;
  headline: string;
  fields: Field[];
  note?: Field;
  /** where to act, as an app route after the origin, e.g. "/#/approvals" */
  link?: { label: string; path: string };
  /** the footer's first words, e.g. "Session 1234" */
  context: string;
};

export function renderEvent(n: EventNotice, appUrl?: string): RenderedNotice {
  const base = appUrl?.replace(/\/+$/, "");
  const shape: Shape = {
    subject: oneLine(n.subject),
    headline: oneLine(n.headline),
    fields: n.fields.map((f) => ({ label: f.label, value: oneLine(f.value) })),
    note: n.note?.value.trim()
      ? { label: n.note.label, value: truncate(n.note.value.trim(), FREE_TEXT_MAX_CHARS) }
      : undefined,
    link: base && n.link ? { label: n.link.label, url: `${base}${n.link.path}` } : undefined,
  };
  const context = `${oneLine(n.context)} · ${n.event}`;
  return { subject: shape.subject, text: plainText(shape, context), slack: slackOf(shape, context) };
}

/** Names are one line and this long at most (code points); longer ones are cut with "…". */
const NAME_MAX_CHARS = 120;
/** Justification, comment and reason are quoted up to this many code points. */
const FREE_TEXT_MAX_CHARS = 1000;

type Field = { label: string; value: string };
type Shape = {
  subject: string;
  headline: string;
  fields: Field[];
  note?: Field;
  link?: { label: string; url: string };
};

/** `appUrl` is the app's origin (APP_URL); without it the approvals link is left out. */
export function renderNotice(n: CheckoutNotice, appUrl?: string): RenderedNotice {
  const shape = describe(n, appUrl?.replace(/\/+$/, ""));
  const context = `Checkout ${oneLine(n.checkoutId)} · ${n.event}`;
  return { subject: shape.subject, text: plainText(shape, context), slack: slackOf(shape, context) };
}

function describe(n: CheckoutNotice, appUrl: string | undefined): Shape {
  const who = oneLine(n.requester);
  const target = `${oneLine(n.credential)} on ${oneLine(n.server)}`;
  const decider = n.decidedBy ? oneLine(n.decidedBy) : undefined;
  const fields: Field[] = [
    { label: "Requester", value: who },
    { label: "Server", value: oneLine(n.server) },
    { label: "Credential", value: oneLine(n.credential) },
    { label: "Window", value: formatWindow(n.startsAt, n.endsAt) },
  ];
  const note = (label: string, value: string | undefined): Field | undefined =>
    value?.trim() ? { label, value: truncate(value.trim(), FREE_TEXT_MAX_CHARS) } : undefined;
  switch (n.event) {
    case "checkout.requested":
      return {
        subject: `Approval needed: ${who} requests ${target}`,
        headline: `${who} requests a checkout that needs your approval.`,
        fields,
        note: note("Justification", n.justification),
        // Straight to this request's card (#/approvals/<id>), not the inbox at large.
        link: appUrl
          ? { label: "Open this request", url: `${appUrl}/#/approvals/${encodeURIComponent(n.checkoutId)}` }
          : undefined,
      };
    case "checkout.approved":
      return {
        subject: `Checkout approved: ${target}`,
        headline: `${decider ?? "An approver"} approved ${who}'s checkout.`,
        fields,
        note: note("Comment", n.comment),
      };
    case "checkout.denied":
      return {
        subject: `Checkout denied: ${target}`,
        headline: `${decider ?? "An approver"} denied ${who}'s checkout.`,
        fields,
        note: note("Comment", n.comment),
      };
    case "checkout.expired":
      return { subject: `Checkout expired: ${target}`, headline: `${who}'s checkout has expired.`, fields };
    case "checkout.revoked":
      return {
        subject: `Checkout revoked: ${target}`,
        headline: `${decider ?? "An administrator"} revoked ${who}'s checkout.`,
        fields,
        note: note("Reason", n.reason),
      };
    case "checkout.checked_in":
      return { subject: `Checkout checked in: ${target}`, headline: `${who} checked the credential back in.`, fields };
  }
}

function plainText(s: Shape, context: string): string {
  const width = Math.max(...s.fields.map((f) => f.label.length)) + 2;
  const lines = [s.headline, "", ...s.fields.map((f) => `${`${f.label}:`.padEnd(width)}${f.value}`)];
  if (s.note) lines.push("", `${s.note.label}:`, ...s.note.value.split(/\r?\n/).map((l) => `  ${l}`));
  if (s.link) lines.push("", `${s.link.label}: ${s.link.url}`);
  lines.push("", "-- ", `${context}. Sent by the Privileged Session Manager.`);
  return lines.join("\n");
}

function slackOf(s: Shape, context: string): SlackPayload {
  const lines = [`*${escapeMrkdwn(s.headline)}*`, ...s.fields.map((f) => `*${f.label}:* ${escapeMrkdwn(f.value)}`)];
  if (s.note) {
    lines.push(`*${s.note.label}:*`, ...s.note.value.split(/\r?\n/).map((l) => `>${escapeMrkdwn(l)}`));
  }
  if (s.link) lines.push(`<${escapeMrkdwn(s.link.url)}|${s.link.label}>`);
  return slackPayload(s.subject, lines.join("\n"), context);
}

/** e.g. "2026-05-01 14:00 UTC to 2026-05-01 16:30 UTC (2 h 30 min)" */
export function formatWindow(startsAt: number, endsAt: number): string {
  const minutes = Math.max(0, Math.round((endsAt - startsAt) / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const length = [h ? `${h} h` : "", m || !h ? `${m} min` : ""].filter(Boolean).join(" ");
  return `${formatTime(startsAt)} to ${formatTime(endsAt)} (${length})`;
}

function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: names must stay on one line (subjects, Slack fields)
  return truncate(text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), NAME_MAX_CHARS);
}
