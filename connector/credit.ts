// Output credit by stream offset: how many more bytes the connector may send toward the browser.
// Pure; the session pauses its ssh2 stream when `spend` says so and resumes when credit returns.
//
// `sent` counts every output byte the shell produced (the next byte's offset); `acked` is what the
// browser has acknowledged. At most `window` bytes are ever outstanding (sent - acked), which is
// also what bounds the connector's resend log and the room's buffer.
import type { OutputLog } from "../protocol/index.ts";

export class OutputCredit {
  /** 0 until the room first says a browser is attached: nothing is sent before that. */
  private window = 0;
  sent = 0;
  acked = 0;

  /** Bytes that may still be sent (negative: overdrawn by the last chunk). */
  get bytes(): number {
    return this.window - (this.sent - this.acked);
  }

  /** Records bytes read from the shell; true when the stream must now pause. May overdraw by one chunk. */
  spend(bytes: number): boolean {
    this.sent += bytes;
    return this.bytes <= 0;
  }

  /** A credit frame arrived; true when the stream may resume. Never acknowledges past what was sent. */
  grant(bytes: number): boolean {
    this.acked = Math.min(this.sent, this.acked + bytes);
    return this.bytes > 0;
  }

  /**
   * A browser (re)attached with this window. `acked`: the browser holds everything before this offset
   * (credit moves up to it, never back); null: forget what is outstanding (a fresh page needs none of
   * it); undefined: keep the count. True when the stream may resume.
   */
  attach(window: number, acked?: number | null): boolean {
    this.window = window;
    if (acked === null) this.acked = this.sent;
    else if (acked !== undefined) this.acked = Math.max(this.acked, Math.min(acked, this.sent));
    return this.bytes > 0;
  }
}

/** Where a resend starts and what it holds (the connector's answer to the room's `attach`). */
export type Resend = { resume: boolean; from: number; to: number; chunks: Uint8Array[] };

/**
 * The room (re)attached a browser: open the window from `acked`, forget what is acknowledged, and
 * resend from `from`: never before what the log still holds, never past what was produced (an
 * offset from the room may come from a browser and is only a request). `resume`: the stream may run.
 */
export function attachResend(
  credit: OutputCredit,
  unacked: OutputLog,
  window: number,
  acked: number | null | undefined,
  from: number | null,
): Resend {
  const resume = credit.attach(window, acked);
  unacked.trimTo(credit.acked);
  const start = Math.min(Math.max(from ?? credit.sent, unacked.start), credit.sent);
  return { resume, from: start, to: credit.sent, chunks: unacked.since(start) ?? [] };
}
