// What a late-joining viewer is shown first: a bounded replay of recent output, restarted at the
// last full-screen clear, so replaying it rebuilds the current screen. Pure; the room feeds it.
// The clear is looked for when a snapshot is taken, not per frame: output arrives thousands of times
// more often than anyone joins, and scanning every frame cost the room 8 % of its time in bulk output.

/** At most 256 KiB of recent output is kept for late joiners and resyncs. */
export const REPLAY_MAX_BYTES = 256 * 1024;

/** Sequences after which earlier output no longer shows: clear screen (ED 2/3) and full reset (RIS). */
const CLEARS = ["\x1b[2J", "\x1b[3J", "\x1bc"].map((s) => new TextEncoder().encode(s));

/** Position of the last clear sequence, or -1. Jumps between ESC bytes instead of testing every offset. */
function lastClear(bytes: Uint8Array): number {
  for (let i = bytes.lastIndexOf(0x1b); i >= 0; i = i > 0 ? bytes.lastIndexOf(0x1b, i - 1) : -1) {
    for (const seq of CLEARS) {
      let j = 1;
      while (j < seq.length && bytes[i + j] === seq[j]) j++;
      if (j === seq.length) return i;
    }
  }
  return -1;
}

export class ReplayBuffer {
  private chunks: Uint8Array[] = [];
  private bytes = 0;

  constructor(private readonly max = REPLAY_MAX_BYTES) {}

  push(output: Uint8Array): void {
    // Copy: the caller's buffer is a frame that is sent on and may be reused.
    this.chunks.push(output.slice());
    this.bytes += output.byteLength;
    while (this.bytes > this.max && this.chunks.length > 1) this.bytes -= this.chunks.shift()!.byteLength;
    if (this.bytes > this.max) {
      const only = this.chunks[0]!;
      this.chunks[0] = only.subarray(only.byteLength - this.max);
      this.bytes = this.max;
    }
  }

  /** The kept output from its last screen clear on (all of it when there is none). */
  snapshot(): Uint8Array {
    let first = 0;
    let offset = 0;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const clear = lastClear(this.chunks[i]!);
      if (clear >= 0) {
        first = i;
        offset = clear;
        break;
      }
    }
    const kept = this.chunks.slice(first);
    if (offset > 0) kept[0] = kept[0]!.subarray(offset);
    const out = new Uint8Array(kept.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const c of kept) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  get size(): number {
    return this.bytes;
  }
}
