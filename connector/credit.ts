// Output credit: how many more bytes the connector may send toward the browser. Pure; the session
// pauses its ssh2 stream when `send` says so and resumes when credit returns.

export class OutputCredit {
  /** Starts at 0: nothing is sent until the room says a browser is attached (`window`). */
  private available = 0;

  get bytes(): number {
    return this.available;
  }

  /** Records bytes sent; true when the stream must now pause. May overdraw by one chunk. */
  spend(bytes: number): boolean {
    this.available -= bytes;
    return this.available <= 0;
  }

  /** A credit frame arrived; true when the stream may resume. */
  grant(bytes: number): boolean {
    this.available += bytes;
    return this.available > 0;
  }

  /** A browser (re)attached: credit is exactly its window, whatever was outstanding. */
  reset(window: number): boolean {
    this.available = window;
    return this.available > 0;
  }
}
