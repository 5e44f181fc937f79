// Webhook channel: a Slack-compatible JSON payload POSTed with an HMAC-SHA256 signature that receivers can verify.
// Pure WebCrypto + fetch, so it runs the same in workerd and in Node tests.
import { type DeliveryResult, scrubError, truncate } from "./delivery.ts";

/**
 * How a receiver verifies a request (the same check as `verifyWebhookSignature`):
 *   X-PSM-Timestamp: unix seconds when the edge sent it
 *   X-PSM-Signature: "v1=" + lowercase hex of HMAC-SHA256(key = NOTIFY_WEBHOOK_SECRET as UTF-8,
 *                    message = `${timestamp}.${rawBody}`), rawBody being the exact request bytes
 * Compare in constant time and refuse timestamps more than 300 s from your clock (replays).
 * Without NOTIFY_WEBHOOK_SECRET the request goes unsigned (Slack incoming webhooks need no signature).
 */
export type SlackPayload = {
  /** Fallback Slack shows in notifications; mrkdwn-escaped. */
  text: string;
  blocks: [
    { type: "section"; text: { type: "mrkdwn"; text: string } },
    { type: "context"; elements: { type: "mrkdwn"; text: string }[] },
  ];
};

export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Bytes of a failed response read for the error message; the rest is cancelled unread. */
const ERROR_BODY_READ_BYTES = 1024;
/** Slack refuses a section whose text is longer than 3,000 chars. */
const SLACK_SECTION_MAX_CHARS = 3000;

const utf8 = new TextEncoder();

/** Escapes the three characters Slack's mrkdwn treats as markup (links, mentions like <!channel>). */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** `fallback` and `context` are plain text (escaped here); `mrkdwn` is already formatted and escaped. */
export function slackPayload(fallback: string, mrkdwn: string, context: string): SlackPayload {
  return {
    text: escapeMrkdwn(fallback),
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: truncate(mrkdwn, SLACK_SECTION_MAX_CHARS) } },
      { type: "context", elements: [{ type: "mrkdwn", text: escapeMrkdwn(context) }] },
    ],
  };
}

/** The X-PSM-Signature value for a body sent at `timestampSec` (unix seconds). */
export async function signWebhook(secret: string, timestampSec: number, body: string): Promise<string> {
  const key = await hmacKey(secret, "sign");
  const mac = await crypto.subtle.sign("HMAC", key, utf8.encode(`${timestampSec}.${body}`));
  return `v1=${toHex(new Uint8Array(mac))}`;
}

/**
 * True when `header` holds a v1 signature of `${timestamp}.${body}` under `secret` and the timestamp is within
 * `toleranceSec` of `now` (ms since the epoch). Several comma-separated v1 values are accepted (secret rotation).
 */
export async function verifyWebhookSignature(
  secret: string,
  timestamp: string | null | undefined,
  body: string,
  header: string | null | undefined,
  now: number,
  toleranceSec = 300,
): Promise<boolean> {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !header) return false;
  if (Math.abs(Math.floor(now / 1000) - Number(timestamp)) > toleranceSec) return false;
  const key = await hmacKey(secret, "verify");
  const message = utf8.encode(`${timestamp}.${body}`);
  for (const part of header.split(",")) {
    const m = /^v1=([0-9a-f]{64})$/i.exec(part.trim());
    // crypto.subtle.verify compares in constant time.
    if (m && (await crypto.subtle.verify("HMAC", key, fromHex(m[1]!), message))) return true;
  }
  return false;
}

/**
 * POSTs `body` (JSON) to `url`, signed when `secret` is set. Any non-2xx, redirect, network error or timeout is a
 * failure; the error is short, never holds the secret or the URL (Slack URLs carry a token), and quotes at most
 * ERROR_MAX_CHARS (delivery.ts) of the response. `now` is ms since the epoch.
 */
export async function deliverWebhook(
  fetchFn: typeof fetch,
  url: string,
  secret: string | undefined,
  body: string,
  now: number,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<DeliveryResult> {
  if (!/^https?:\/\//i.test(url)) return { ok: false, error: "invalid webhook url" };
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "edge-psm-notify/1" };
  if (secret) {
    const timestamp = Math.floor(now / 1000);
    headers["x-psm-timestamp"] = String(timestamp);
    headers["x-psm-signature"] = await signWebhook(secret, timestamp, body);
  }
  let res: Response;
  try {
    // A redirect is not followed: it would carry the signed payload somewhere nobody configured.
    res = await fetchFn(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, error: scrubError(describeFetchError(err, timeoutMs), [secret, url]) };
  }
  if (res.status >= 200 && res.status < 300) {
    await res.body?.cancel().catch(() => {});
    return { ok: true };
  }
  const text = await readPrefix(res);
  return { ok: false, error: scrubError(`http ${res.status}${text ? `: ${text}` : ""}`, [secret, url]) };
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `timeout after ${timeoutMs} ms`;
  }
  if (!(err instanceof Error)) return "network error";
  // Node's fetch says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND) is in `cause.code`.
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return `network error: ${err.message}${typeof code === "string" ? ` (${code})` : ""}`;
}

async function readPrefix(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut off by the timeout still leaves the status to report.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(bytes.subarray(0, ERROR_BODY_READ_BYTES));
}

function hmacKey(secret: string, use: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [use]);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
