// What one delivery attempt reports, and the scrubbing that makes its error safe to keep in the outbox row.

/**
 * `final`: retrying cannot help (a push subscription the push service says is gone, a notice past its use): the
 * outbox marks the row dead at once instead of backing off.
 */
export type DeliveryResult = { ok: true } | { ok: false; error: string; final?: boolean };

/** Longest error kept in an outbox row (code points); upstream response text is cut to this too. */
export const ERROR_MAX_CHARS = 200;

/** One line, at most ERROR_MAX_CHARS, with every listed secret (and URL) cut out: safe to store and show. */
export function scrubError(message: string, secrets: (string | undefined)[]): string {
  let out = message;
  for (const s of secrets) if (s) out = out.replaceAll(s, "[redacted]");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is being removed
  out = out.replace(/[\u0000-\u001f\u007f\s]+/g, " ").trim();
  return truncate(out, ERROR_MAX_CHARS);
}

/** Cuts to at most `max` code points (never half a surrogate pair), marking the cut with "…". */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : `${points.slice(0, max - 1).join("")}…`;
}
