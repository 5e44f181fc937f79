// Output bytes indexed by their offset in the session's output stream: what the room and the
// connector keep so a dropped socket resumes with no lost and no duplicated bytes. Pure.
//
// Every output byte of a session has an offset: 0 for the first byte the shell printed, counting
// up. The connector numbers them (it is the one source), the browser counts what it received, and
// a resume asks for "everything from offset N". The log holds a window of recent bytes: the room
// caps it by size, the connector trims it at what the browser has acknowledged.

export class OutputLog {
  private chunks: Uint8Array[] = [];
  /** Offset of the first byte held. */
  private first = 0;
  private held = 0;

  constructor(
    /** Offset of the next byte to be appended. */
    private next = 0,
  ) {
    this.first = next;
  }

  /** Offset one past the last byte appended. */
  get end(): number {
    return this.next;
  }

  /** Offset of the oldest byte still held (== end when empty). */
  get start(): number {
    return this.first;
  }

  get bytes(): number {
    return this.held;
  }

  append(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.chunks.push(bytes);
    this.held += bytes.byteLength;
    this.next += bytes.byteLength;
  }

  /** Forgets bytes before `offset` (they were acknowledged); never past the end. */
  trimTo(offset: number): void {
    const to = Math.min(offset, this.next);
    while (this.first < to && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const drop = to - this.first;
      if (drop >= head.byteLength) {
        this.chunks.shift();
        this.first += head.byteLength;
        this.held -= head.byteLength;
      } else {
        this.chunks[0] = head.subarray(drop);
        this.first += drop;
        this.held -= drop;
      }
    }
  }

  /** Keeps at most the last `max` bytes. */
  keepLast(max: number): void {
    if (this.held > max) this.trimTo(this.next - max);
  }

  /** The bytes from `offset` to the end, or null when some of them are no longer held. */
  since(offset: number): Uint8Array[] | null {
    if (offset < this.first || offset > this.next) return null;
    const out: Uint8Array[] = [];
    let at = this.first;
    for (const chunk of this.chunks) {
      const chunkEnd = at + chunk.byteLength;
      if (chunkEnd > offset) out.push(offset > at ? chunk.subarray(offset - at) : chunk);
      at = chunkEnd;
    }
    return out;
  }

  /** Drops everything and restarts numbering at `offset`. */
  reset(offset: number): void {
    this.chunks = [];
    this.held = 0;
    this.first = offset;
    this.next = offset;
  }
}
