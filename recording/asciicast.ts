// Asciicast v2 writer (pure): the header line and one JSON event line per output, input, resize or
// marker, with times in seconds since the start. Input is recorded only when policy says so, and
// typed text the terminal did not echo back (password prompts) is redacted: see EchoGate.

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
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private readonly gate = new EchoGate();
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
    const text = this.decoder.decode(bytes, { stream: true });
    if (!text) return [];
    const t = this.at(now);
    const held = this.keystrokes ? this.gate.shown(text) : [];
    // Held input is written at the time of its echo, so event times never go backwards.
    return [...held.map((e) => eventLine([seconds(t), "i", e[2]])), eventLine([seconds(t), "o", text])];
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

  private at(now: number): number {
    this.last = Math.max(this.last, now - this.startedAt);
    return this.last;
  }
}
