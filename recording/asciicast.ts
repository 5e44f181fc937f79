// Asciicast v2 writer (pure): the header line and one JSON event line per output, input, resize or
// marker, with times in seconds since the start. Input is recorded only when policy says so, and
// typed text the terminal did not echo back (password prompts) is redacted: see EchoGate. Output can
// also be written straight from the relayed bytes into a LineBuffer (`outputTo`): the same lines,
// byte for byte, without decoding to a string and encoding again (the recorder's per-MB cost).

/** The v2 header (https://docs.asciinema.org/manual/asciicast/v2/). */
export type CastHeader = {
  version: 2;
  width: number;
  height: number;
  /** Unix time of the start, in seconds. */
  timestamp: number;
  title?: string;
  env?: Record<string, string>;
};

export type CastEvent = [time: number, code: "o" | "i" | "r" | "m", data: string];

/** Seconds with millisecond precision: enough to replay, and short lines keep recordings small. */
function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

export function headerLine(header: CastHeader): string {
  return `${JSON.stringify(header)}\n`;
}

export function eventLine(event: CastEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** Printable text of some input: escape sequences and control characters removed. */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal input is made of control characters
  return text.replace(/\x1b(\[[0-?]*[ -/]*[@-~]|O.|.)/g, "").replace(/[\x00-\x1f\x7f]/g, "");
}

/** Whether `shown` ends with a non-empty beginning of `text` (an echo still coming). */
function endsWithStartOf(shown: string, text: string): boolean {
  for (let k = Math.min(shown.length, text.length); k > 0; k--) if (shown.endsWith(text.slice(0, k))) return true;
  return false;
}

/**
 * Decides which keystrokes may be recorded. Typed text is held until the terminal's output shows
 * it back (echo); held text whose next output does not contain it was typed blind, as at a password
 * prompt, and only its control characters (Enter, Ctrl-C, ...) are kept. An echo may come back in
 * pieces (the pty's reads split it): the gate waits while the output so far ends with the start of the
 * typed text, for at most ECHO_SLACK_CHARS more than its length. The gate holds at most
 * MAX_HELD_CHARS: past that the held text is redacted, so a long blind paste never grows memory.
 */
export class EchoGate {
  static readonly MAX_HELD_CHARS = 4096;
  /** Output beyond the typed text's length that may pass before its echo is complete: 256 chars. */
  static readonly ECHO_SLACK_CHARS = 256;
  private held = "";
  private heldAt = 0;
  /** Printable output since the held text was typed (bounded by the held text plus the slack). */
  private echo = "";

  /** Whether typed text waits for its echo (output must then be shown to `shown`). */
  get holding(): boolean {
    return this.held !== "";
  }

  /** Keystrokes typed at `t`; returns the input events now decided (possibly none). */
  typed(text: string, t: number): CastEvent[] {
    const out: CastEvent[] = [];
    if (!this.held) this.heldAt = t;
    this.held += text;
    if (this.held.length > EchoGate.MAX_HELD_CHARS) out.push(...this.release(false));
    // Control-only input (arrows, Ctrl-C, Enter on an empty line) carries no secret: keep it now.
    else if (!printable(this.held)) out.push(...this.release(true));
    return out;
  }

  /** Output shown at `t`; returns the held input, echoed or redacted, to be written before it. */
  shown(output: string): CastEvent[] {
    if (!this.held) return [];
    const text = printable(this.held);
    if (output.includes(text)) return this.release(true);
    this.echo += printable(output);
    if (this.echo.includes(text)) return this.release(true);
    const partial = this.echo.length <= text.length + EchoGate.ECHO_SLACK_CHARS && endsWithStartOf(this.echo, text);
    return partial ? [] : this.release(false);
  }

  /** At the end: whatever is still held was never echoed. */
  flush(): CastEvent[] {
    return this.held ? this.release(false) : [];
  }

  private release(echoed: boolean): CastEvent[] {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: keeps only the control characters
    const data = echoed ? this.held : this.held.replace(/[^\x00-\x1f\x7f]/g, "");
    const event: CastEvent = [seconds(this.heldAt), "i", data];
    this.held = "";
    this.echo = "";
    return data ? [event] : [];
  }
}

/**
 * Turns session events into asciicast lines. Times are ms since the recording's start, never
 * decreasing (a clock step back is clamped). Output bytes are decoded as a UTF-8 stream, so a
 * character split across frames is written whole.
 */
export class CastWriter {
  private readonly decoder = new Utf8Stream();
  private readonly gate = new EchoGate();
  /** Scratch for `output`'s decoded text. */
  private readonly scratch = new LineBuffer(1024);
  /** ms since the start of the latest event written. */
  private last: number;

  constructor(
    private readonly startedAt: number,
    private readonly keystrokes: boolean,
    last = 0,
  ) {
    this.last = last;
  }

  /** Where a writer rebuilt after hibernation must resume, so times stay in order. */
  get lastMs(): number {
    return this.last;
  }

  header(width: number, height: number, title?: string): string {
    return headerLine({
      version: 2,
      width,
      height,
      timestamp: Math.floor(this.startedAt / 1000),
      ...(title ? { title } : {}),
      env: { TERM: "xterm-256color" },
    });
  }

  output(bytes: Uint8Array, now: number): string[] {
    const text = this.decode(bytes);
    if (!text) return [];
    const t = this.at(now);
    const held = this.keystrokes ? this.gate.shown(text) : [];
    // Held input is written at the time of its echo, so event times never go backwards.
    return [...held.map((e) => eventLine([seconds(t), "i", e[2]])), eventLine([seconds(t), "o", text])];
  }

  /**
   * What `output` returns, appended to `out` as UTF-8: the output line is written from `bytes` directly
   * (decoded, JSON-escaped and counted in one pass). While typed text waits for its echo, the output
   * text goes through the gate as in `output`.
   */
  outputTo(bytes: Uint8Array, now: number, out: LineBuffer): void {
    if (this.keystrokes && this.gate.holding) {
      for (const line of this.output(bytes, now)) out.line(line);
      return;
    }
    const t = Math.max(this.last, now - this.startedAt);
    const mark = out.byteLength;
    const units = out.units;
    out.ascii(`[${seconds(t)},"o","`);
    if (this.decoder.pour(bytes, out, true) === 0) {
      // Nothing whole yet (a character split across frames): no line, as `output` writes none.
      out.rewind(mark, units);
      return;
    }
    out.ascii('"]\n');
    out.lines++;
    this.last = t;
  }

  input(bytes: Uint8Array, now: number): string[] {
    if (!this.keystrokes) return [];
    return this.gate.typed(new TextDecoder().decode(bytes), this.at(now)).map(eventLine);
  }

  resize(cols: number, rows: number, now: number): string[] {
    return [eventLine([seconds(this.at(now)), "r", `${cols}x${rows}`])];
  }

  marker(label: string, now: number): string[] {
    return [eventLine([seconds(this.at(now)), "m", label])];
  }

  /** Held input is redacted at the end: it was never shown. */
  finish(): string[] {
    if (!this.keystrokes) return [];
    return this.gate.flush().map((e) => eventLine([seconds(this.last), "i", e[2]]));
  }

  /** The text of the next output bytes (the decoder's state carries a split character to the next call). */
  private decode(bytes: Uint8Array): string {
    this.scratch.rewind(0, 0);
    if (this.decoder.pour(bytes, this.scratch, false) === 0) return "";
    return plainUtf8.decode(this.scratch.bytes.subarray(0, this.scratch.byteLength));
  }

  private at(now: number): number {
    this.last = Math.max(this.last, now - this.startedAt);
    return this.last;
  }
}

const encoder = new TextEncoder();
/** Decodes bytes already checked and repaired by Utf8Stream: a U+FEFF there is text, not a BOM. */
const plainUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Recording text as UTF-8 bytes, with its length in UTF-16 units (what the chunk bound counts, as
 * `string.length` did) and its number of lines. Grows by doubling; `take` hands the bytes out.
 */
export class LineBuffer {
  bytes: Uint8Array;
  byteLength = 0;
  /** UTF-16 units of the text. */
  units = 0;
  lines = 0;

  constructor(private readonly capacity = 64 * 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    if (this.byteLength + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.byteLength + n));
    grown.set(this.bytes.subarray(0, this.byteLength));
    this.bytes = grown;
  }

  /** Appends one whole line (or instruction). */
  line(text: string): void {
    this.reserve(text.length * 3);
    this.byteLength += encoder.encodeInto(text, this.bytes.subarray(this.byteLength)).written;
    this.units += text.length;
    this.lines++;
  }

  /** Appends ASCII text that is part of a line. */
  ascii(text: string): void {
    this.reserve(text.length);
    const bytes = this.bytes;
    let at = this.byteLength;
    for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
    this.byteLength = at;
    this.units += text.length;
  }

  /** Forgets everything after `byteLength` (a line not finished). */
  rewind(byteLength: number, units: number): void {
    this.byteLength = byteLength;
    this.units = units;
  }

  /**
   * The text before `upTo` (all of it by default), as a view this buffer no longer writes into; what
   * follows `upTo` starts a new buffer: `spare` (a buffer taken before and no longer read) when one is
   * given, of the same capacity as this one if it is not big enough; without one, of the first capacity.
   */
  take(upTo: { byteLength: number; units: number; lines: number } = this, spare?: Uint8Array): Uint8Array {
    const taken = this.bytes.subarray(0, upTo.byteLength);
    const rest = this.bytes.subarray(upTo.byteLength, this.byteLength);
    if (!spare) this.bytes = new Uint8Array(Math.max(this.capacity, rest.length));
    else {
      const capacity = Math.max(this.bytes.length, rest.length);
      this.bytes = spare.length >= capacity ? spare : new Uint8Array(capacity);
    }
    this.bytes.set(rest);
    this.byteLength = rest.length;
    this.units -= upTo.units;
    this.lines -= upTo.lines;
    return taken;
  }
}

/** How JSON.stringify writes each ASCII byte inside a string: 0 as is, else its escape's second byte. */
const ESCAPE = new Uint8Array(128);
for (let b = 0; b < 0x20; b++) ESCAPE[b] = 0x75; // \u00XX
ESCAPE[0x08] = 0x62; // \b
ESCAPE[0x09] = 0x74; // \t
ESCAPE[0x0a] = 0x6e; // \n
ESCAPE[0x0c] = 0x66; // \f
ESCAPE[0x0d] = 0x72; // \r
ESCAPE[0x22] = 0x22; // \"
ESCAPE[0x5c] = 0x5c; // \\
const HEX = encoder.encode("0123456789abcdef");
/** Runs at least this long are copied with `set` (one native copy) rather than byte by byte. */
const RUN_BY_COPY = 64;

/**
 * A streaming UTF-8 decoder that writes UTF-8: TextDecoder's ("utf-8", not fatal, `stream: true`)
 * decoding by the WHATWG Encoding algorithm (each maximal invalid subpart becomes U+FFFD; a BOM at the
 * very start of the stream is dropped; an incomplete character at the end waits for the next call),
 * optionally JSON-escaped as JSON.stringify escapes a string. Valid text is copied, never re-encoded.
 */
export class Utf8Stream {
  /** The incomplete character's bytes so far (lead first), `seen` continuation bytes after the lead. */
  private readonly partial = new Uint8Array(4);
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;
  /** Whether any text came out yet (the BOM check applies to the stream's first character only). */
  private started = false;

  /** Decodes `src` onto `out`; returns the UTF-16 units written (0: nothing whole yet). */
  pour(src: Uint8Array, out: LineBuffer, json: boolean): number {
    // Worst case: every byte a 6-byte \u00XX escape, or U+FFFD (3 bytes) per byte plus a pending character.
    out.reserve(src.length * 6 + 8);
    const dst = out.bytes;
    const partial = this.partial;
    const start = out.byteLength;
    let o = start;
    /** Bytes written beyond their UTF-16 units (multi-byte characters). */
    let extra = 0;
    let { needed, seen, lower, upper } = this;
    if (!this.started && needed === 0 && src.length > 0) {
      // A BOM at the very start of the stream is not text (as TextDecoder without ignoreBOM).
      if (src.length >= 3 && src[0] === 0xef && src[1] === 0xbb && src[2] === 0xbf) {
        this.started = true;
        src = src.subarray(3);
      }
    }
    const n = src.length;
    // The source as 32-bit words from its first 4-byte-aligned byte (`w0`), for scanning ASCII runs four bytes
    // at a time (typed arrays read little-endian here; only which bytes are clean matters, not their order).
    const w0 = (4 - (src.byteOffset & 3)) & 3;
    const words = json && n - w0 >= 8 ? new Uint32Array(src.buffer, src.byteOffset + w0, (n - w0) >> 2) : null;
    const wordsEnd = words ? w0 + words.length * 4 : 0;
    for (let i = 0; i < n; i++) {
      if (needed === 0) {
        // ASCII (most output): runs written as they are, scanned then copied in one go, and the bytes
        // JSON escapes, until a byte that starts a multi-byte character.
        while (i < n) {
          let end = i;
          if (json) {
            for (;;) {
              if (words && end >= w0 && ((end - w0) & 3) === 0) {
                // Whole words with no byte JSON escapes and no non-ASCII byte: no byte ≥ 0x80, none < 0x20, no '"'
                // and no '\\' (the classic has-less / has-zero tests; a false alarm only ends the word scan early).
                while (end < wordsEnd) {
                  const w = words[(end - w0) >> 2]!;
                  const q = w ^ 0x22222222;
                  const b = w ^ 0x5c5c5c5c;
                  if (
                    ((w | ((w - 0x20202020) & ~w) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) !==
                    0
                  )
                    break;
                  end += 4;
                }
              }
              if (end >= n) break;
              const c = src[end]!;
              if (c >= 0x80 || c < 0x20 || c === 0x22 || c === 0x5c) break;
              end++;
            }
          } else {
            while (end < n && src[end]! < 0x80) end++;
          }
          if (end - i >= RUN_BY_COPY) {
            dst.set(src.subarray(i, end), o);
            o += end - i;
            i = end;
          } else while (i < end) dst[o++] = src[i++]!;
          if (i === n) break;
          const c = src[i]!;
          if (c >= 0x80) break;
          const e = ESCAPE[c]!;
          dst[o++] = 0x5c;
          if (e !== 0x75) dst[o++] = e;
          else {
            dst[o++] = 0x75;
            dst[o++] = 0x30;
            dst[o++] = 0x30;
            dst[o++] = HEX[c >> 4]!;
            dst[o++] = HEX[c & 15]!;
          }
          i++;
        }
        if (i === n) break;
      }
      const b = src[i]!;
      if (needed === 0) {
        // A whole 2- or 3-byte character within this call (most non-ASCII text): checked and copied here.
        if (b >= 0xc2 && b <= 0xdf && i + 1 < n) {
          const c1 = src[i + 1]!;
          if ((c1 & 0xc0) === 0x80) {
            dst[o++] = b;
            dst[o++] = c1;
            extra += 1;
            i += 1;
            continue;
          }
        } else if (b >= 0xe1 && b <= 0xef && b !== 0xed && i + 2 < n && (this.started || b !== 0xef)) {
          const c1 = src[i + 1]!;
          const c2 = src[i + 2]!;
          if ((c1 & 0xc0) === 0x80 && (c2 & 0xc0) === 0x80) {
            dst[o++] = b;
            dst[o++] = c1;
            dst[o++] = c2;
            extra += 2;
            i += 2;
            continue;
          }
        }
        if (b >= 0xc2 && b <= 0xdf) needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) lower = 0xa0;
          else if (b === 0xed) upper = 0x9f;
          needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) lower = 0x90;
          else if (b === 0xf4) upper = 0x8f;
          needed = 3;
        } else {
          o = replacement(dst, o);
          extra += 2;
          continue;
        }
        partial[0] = b;
        seen = 0;
        continue;
      }
      if (b < lower || b > upper) {
        // The character so far is invalid: U+FFFD, and this byte starts afresh.
        needed = 0;
        seen = 0;
        lower = 0x80;
        upper = 0xbf;
        o = replacement(dst, o);
        extra += 2;
        i--;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      partial[++seen] = b;
      if (seen === needed) {
        if (!this.started && o === start && needed === 2 && partial[0] === 0xef && partial[1] === 0xbb && b === 0xbf) {
          // The BOM came split across calls: dropped all the same.
        } else {
          for (let k = 0; k <= needed; k++) dst[o++] = partial[k]!;
          // 2 and 3 bytes are one UTF-16 unit, 4 bytes two.
          extra += needed === 3 ? 2 : needed;
        }
        this.started = true;
        needed = 0;
        seen = 0;
      }
    }
    this.needed = needed;
    this.seen = seen;
    this.lower = lower;
    this.upper = upper;
    if (o > start) this.started = true;
    const units = o - start - extra;
    out.byteLength = o;
    out.units += units;
    return units;
  }
}

/** U+FFFD as UTF-8. */
function replacement(dst: Uint8Array, o: number): number {
  dst[o] = 0xef;
  dst[o + 1] = 0xbf;
  dst[o + 2] = 0xbd;
  return o + 3;
}
