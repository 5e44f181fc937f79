// Capped exponential backoff with equal jitter (half fixed, half random): the connector's control-socket
// reconnect loop uses the defaults, its recording uploader its own bounds.

/** First retry after up to 500 ms, doubling, never more than 10 s. */
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;

/** The delay before retry `attempt` (0 = the first): up to `baseMs`, doubling per attempt, at most `capMs`. */
export function backoffDelay(
  attempt: number,
  random: () => number = Math.random,
  { baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS }: { baseMs?: number; capMs?: number } = {},
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
