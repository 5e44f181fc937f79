// Email channel: builds a plain-text RFC 5322 message (pure, unit-tested in Node) and hands it to a sender.
// The send_email binding itself is wrapped in email-send.ts so that nothing here imports cloudflare:email.
import { type DeliveryResult, scrubError, truncate } from "./delivery.ts";

/** Delivers one raw RFC 5322 message; envelope `from` must equal the From header (send_email checks it). */
export type SendRawEmail = (from: string, to: string, raw: string) => Promise<void>;

export type EmailInput = {
  /** Bare address, e.g. psm@example.com; also the envelope sender. */
  from: string;
  to: string;
  subject: string;
  /** Plain text; any line ending becomes CRLF. */
  text: string;
  /** ms since the epoch, for the Date header */
  now: number;
  /** left part of the Message-ID; a fresh UUID when absent */
  id?: string;
};

/** The binding has no timeout of its own; a hung send counts as failed (it may still arrive: at-least-once). */
export const EMAIL_SEND_TIMEOUT_MS = 10_000;
/** Longest subject kept, in code points; notification subjects are one short line. */
const SUBJECT_MAX_CHARS = 200;
/** RFC 2047: an encoded word is at most 75 chars; "=?UTF-8?B?" + "?=" leave 63 chars = 45 bytes of base64. */
const ENCODED_WORD_MAX_BYTES = 45;
/** RFC 2045: quoted-printable lines are at most 76 chars including the soft-break "=". */
const QP_LINE_MAX = 76;

const utf8 = new TextEncoder();

/** A bare addr-spec without comments, quotes or display names: nothing that could smuggle a header. */
export function isEmailAddress(address: string): boolean {
  return (
    address.length <= 254 &&
    /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(
      address,
    )
  );
}

/** The full message, CRLF line endings, body in quoted-printable UTF-8 (safe for any line length or script). */
export function buildEmail(m: EmailInput): string {
  if (!isEmailAddress(m.from)) throw new Error("invalid From address");
  if (!isEmailAddress(m.to)) throw new Error("invalid To address");
  const domain = m.from.slice(m.from.lastIndexOf("@") + 1);
  const headers = [
    `From: ${m.from}`,
    `To: ${m.to}`,
    `Subject: ${encodeSubject(m.subject)}`,
    `Date: ${rfc5322Date(m.now)}`,
    `Message-ID: <${m.id ?? crypto.randomUUID()}@${domain}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    // RFC 3834: tells vacation responders not to answer a machine.
    "Auto-Submitted: auto-generated",
  ];
  return `${headers.join("\r\n")}\r\n\r\n${quotedPrintable(m.text)}\r\n`;
}

/** Builds and sends one notification email; never throws, reports a short error instead. */
export async function deliverEmail(
  send: SendRawEmail,
  m: EmailInput,
  timeoutMs = EMAIL_SEND_TIMEOUT_MS,
): Promise<DeliveryResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const raw = buildEmail(m);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout after ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([send(m.from, m.to, raw), timeout]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: scrubError(err instanceof Error ? err.message : "send failed", []) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** One header line: ASCII as is, anything else as RFC 2047 base64 encoded words folded onto continuation lines. */
export function encodeSubject(subject: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: CR/LF and other controls would break the header
  const clean = truncate(subject.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), SUBJECT_MAX_CHARS);
  // "=?" in a plain subject would be read as the start of an encoded word: encode those too.
  if (/^[\x20-\x7e]*$/.test(clean) && !clean.includes("=?")) return clean;
  const words: string[] = [];
  let chunk: number[] = [];
  for (const ch of clean) {
    const bytes = utf8.encode(ch);
    // Split between characters, never inside one: each word must decode on its own.
    if (chunk.length + bytes.length > ENCODED_WORD_MAX_BYTES) {
      words.push(encodedWord(chunk));
      chunk = [];
    }
    chunk.push(...bytes);
  }
  if (chunk.length > 0 || words.length === 0) words.push(encodedWord(chunk));
  return words.join("\r\n ");
}

/** RFC 2045 quoted-printable of the UTF-8 text, CRLF between lines, soft breaks keeping lines within 76 chars. */
export function quotedPrintable(text: string): string {
  return text.replace(/\r\n?/g, "\n").split("\n").map(qpLine).join("\r\n");
}

function qpLine(line: string): string {
  const bytes = utf8.encode(line);
  let out = "";
  let current = "";
  bytes.forEach((b, i) => {
    // Printable ASCII except "=" stays; space and tab stay unless they end the line (transports strip those).
    const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && i < bytes.length - 1);
    const token = literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, "0")}`;
    if (current.length + token.length > QP_LINE_MAX - 1) {
      out += `${current}=\r\n`;
      current = "";
    }
    current += token;
  });
  return out + current;
}

function encodedWord(bytes: number[]): string {
  return `=?UTF-8?B?${btoa(String.fromCharCode(...bytes))}?=`;
}

/** e.g. "Fri, 01 May 2026 14:00:00 +0000" (toUTCString's "GMT" is the obsolete zone form). */
function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace(/GMT$/, "+0000");
}
