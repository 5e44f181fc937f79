// Uploads give way to a busy relay. The connector relays, records and uploads on one machine (often a small
// VM); bulk output is when recording costs most, and an upload competing for the same cores then slows the
// sessions themselves. Recorded output is counted here; while more than BUSY_BYTES passed in the last
// WINDOW_MS, the uploader waits, unless the spool is filling (URGENT_FILL of its bound) or a chunk has
// waited URGENT_AGE_MS: then it uploads anyway. Chunks are on disk meanwhile, so waiting loses nothing.
// Pure: driven by byte counts and a clock.

/** Output in the last window above which the relay counts as busy: 1 MiB per 500 ms (2 MiB/s). */
export const BUSY_BYTES = 1024 * 1024;
export const WINDOW_MS = 500;
/** Uploads go on regardless once the spool is this full, or its oldest chunk this old. */
export const URGENT_FILL = 0.25;
export const URGENT_AGE_MS = 60_000;

export class RelayActivity {
  /** Bytes in the current and the previous window (a two-bucket sliding count). */
  private current = 0;
  private previous = 0;
  private windowStart = 0;

  note(bytes: number, now: number): void {
    this.roll(now);
    this.current += bytes;
  }

  /** Whether output is flowing fast enough now that uploads should wait. */
  busy(now: number): boolean {
    this.roll(now);
    // The previous window counts for the part of it still inside the last WINDOW_MS.
    const overlap = 1 - (now - this.windowStart) / WINDOW_MS;
    return this.current + this.previous * Math.max(0, overlap) > BUSY_BYTES;
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < WINDOW_MS) return;
    this.previous = elapsed < 2 * WINDOW_MS ? this.current : 0;
    this.current = 0;
    this.windowStart = now - (elapsed % WINDOW_MS);
  }
}

/** Whether the uploader should wait now: the relay is busy and nothing is urgent. */
export function uploadsWait(
  activity: RelayActivity,
  spool: { bytes: number; limit: number; oldestAt: number | null },
  now: number,
): boolean {
  if (!activity.busy(now)) return false;
  const urgent =
    spool.bytes >= spool.limit * URGENT_FILL || (spool.oldestAt !== null && now - spool.oldestAt >= URGENT_AGE_MS);
  return !urgent;
}
