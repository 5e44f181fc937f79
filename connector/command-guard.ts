// Command control on an SSH shell (docs/governance.md): the target's output feeds a headless terminal, so when
// the user presses Enter the guard reads the command line the way the shell shows it (after editing, history
// recall, Ctrl-R, paste), checks it against the policy's rules (protocol/command-rules.ts) and only then lets the
// Enter through. A denied line is cleared (Ctrl-E Ctrl-U) and never runs; the user is told why. A line a `review`
// rule matches is held, its Enter kept back, until a reviewer answers through the room (or the user withdraws it
// with Ctrl-C); meanwhile what the user types waits in the queue. A guard-rail on an interactive shell, not a sandbox.
import xterm from "@xterm/headless";
import {
  type CommandAction,
  CommandMatcher,
  type CommandRule,
  type CommandVerdict,
  MAX_COMMAND_EVENT_LINE,
  REVIEW_SECONDS,
} from "../protocol/index.ts";

/**
 * Before reading the line at Enter the guard waits for the target's output to settle: until the echo of what it
 * sent last has come back, then until 30 ms pass without output; at most 1 s (a prompt that does not echo, such as
 * a password prompt, waits that long). Keys other than Enter go straight through.
 */
const QUIET_MS = 30;
const SETTLE_CAP_MS = 1_000;
/**
 * Input that arrives while a line is being checked waits here, in order: at most 1 MiB. A user who types or pastes
 * more while one check runs (a check lasts about SETTLE_CAP_MS at most) ends the session with `input_overflow`.
 */
export const GUARD_QUEUE_BYTES = 1024 * 1024;
/** A bracketed paste is held whole until its end marker: at most 256 KiB, past which it is refused. */
const MAX_PASTE_BYTES = 256 * 1024;
/**
 * The target's output reaches the headless terminal in batches: at most 25 ms or 256 KiB after it arrived, and
 * at once when a line is read. Parsing every echo as it passes put the parse between one keystroke's echo and the
 * next keystroke (about 0.1 ms each at typing rates, measured with `npm run bench`); batched, it runs a few times a
 * second at most while someone types, and the order of output, resizes and reads is the same.
 */
const FEED_DELAY_MS = 25;
const FEED_MAX_BYTES = 256 * 1024;
/** The most rows one command line is read over. */
const MAX_LINE_ROWS = 100;

const PASTE_START = Buffer.from("\x1b[200~");
const PASTE_END = Buffer.from("\x1b[201~");
/** Enter (CR), Ctrl-J (LF) and Ctrl-O (readline's operate-and-get-next) all run the line. */
const ENTER_KEYS = new Set([0x0d, 0x0a, 0x0f]);
/** Ctrl-E (end of line) then Ctrl-U (kill to the line's start): clears the whole line, wherever the cursor was. */
const CLEAR_LINE = Buffer.from("\x05\x15");
/** Ctrl-C: cancels a command that spans lines. */
const CANCEL = Buffer.from("\x03");
/** Readline's incremental search prompt, which replaces the shell's prompt while Ctrl-R is active. */
const ISEARCH = /^\((?:failed )?(?:reverse-|bck-|fwd-)?i-search\)`[^']*': ?/;
const DEFAULT_DENIAL = "This command is not allowed by the session's policy.";
const PASTED_REVIEW =
  "This command needs a reviewer's approval: type or paste it on its own line, then press Enter to ask for it.";
const WITHDRAWN = "You withdrew the command: it did not run.";
/** What an event says of a line the screen did not show (it may be a password). */
const NOT_SHOWN = "(typed with echo off: not shown)";
const BLIND_EDITED =
  "Command control cannot read this line: the terminal does not show what is typed, and it was edited. Turn echo back on (stty echo) or retype it.";
const BLIND_REVIEW =
  "This command needs review, which needs the line on screen: turn echo back on (stty echo) and retype it.";

/** A line held for review, as the guard asks for it. */
export type ReviewRequest = { line: string; rule: number; message: string; seconds: number };
/** The reviewers' answer (`message`: what the user reads when it is refused). */
export type ReviewAnswer = { allowed: boolean; message: string };

/** `message`: the matched rule's message (what a denied user read; "" when the rule has none). */
export type CommandEventOut = {
  line: string;
  action: "allow" | "alert" | "deny";
  rule: number | null;
  message: string;
};

export type GuardIo = {
  /** Bytes for the target's shell. */
  send: (bytes: Buffer) => void;
  /** A line was refused: the user reads `message`. */
  denied: (message: string) => void;
  /** A command ran or was refused: the timeline's event. */
  command: (event: CommandEventOut) => void;
  /**
   * A line waits for review: ask the room, and settle with the answer. `withdrawn` aborts when the user takes the
   * line back (Ctrl-C) or the guard is disposed; the promise must still settle (refused) then.
   */
  review: (request: ReviewRequest, withdrawn: AbortSignal) => Promise<ReviewAnswer>;
  /** The queue bound was passed. */
  overflow: () => void;
  /** Something in the guard threw: the session ends (a guard that stops would let everything through). */
  fault: (err: unknown) => void;
};

type Token = { kind: "bytes"; bytes: Buffer } | { kind: "enter"; key: number } | { kind: "paste"; text: Buffer };

const SEVERITY: Record<CommandAction, number> = { deny: 3, review: 2, alert: 1, allow: 0 };

export class CommandGuard {
  private readonly term: xterm.Terminal;
  private readonly matcher: CommandMatcher;
  /** Where the line being typed starts: the cursor when the prompt was last drawn, and the prompt's text. */
  private prompt = { row: 0, x: 0, text: "" };
  /** A line is being typed: the prompt position stays as it was at the first keystroke. */
  private editing = false;
  /** Output chunks written to the terminal, and the last one written before the first keystroke. */
  private written = 0;
  private frozenAt = 0;
  private lastOutputAt = 0;
  /** Bytes were sent since the last output: their echo has not come back yet. */
  private awaitingEcho = false;
  /** A line that continues on the next (a trailing backslash, an open quote): prefixed to the next line checked. */
  private continued = "";
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private busy = false;
  /** A bracketed paste being collected (null: none). */
  private paste: Buffer[] | null = null;
  private pasteBytes = 0;
  private disposed = false;
  /** Output not yet given to the terminal (see FEED_DELAY_MS), with each chunk's number. */
  private unfed: { chunk: Buffer; seq: number }[] = [];
  private unfedBytes = 0;
  private feedTimer: NodeJS.Timeout | undefined;
  /** The hold of a line under review: aborted by Ctrl-C from the user, or by dispose. */
  private holding: AbortController | null = null;
  /**
   * What was typed on this line, as the shell holds it when only printable keys, Backspace and Ctrl-U were used
   * (`exact`): read at Enter when the screen shows nothing of it (`stty -echo`, a prompt that does not echo).
   */
  private typed: { bytes: number[]; exact: boolean } = { bytes: [], exact: true };

  constructor(
    rules: readonly CommandRule[],
    cols: number,
    rows: number,
    private readonly io: GuardIo,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.matcher = new CommandMatcher(rules);
    this.term = new xterm.Terminal({ cols, rows, scrollback: 200, allowProposedApi: true });
  }

  /** The target's output, in order, as it is relayed. */
  output(chunk: Buffer): void {
    if (this.disposed) return;
    this.lastOutputAt = this.now();
    this.awaitingEcho = false;
    this.unfed.push({ chunk, seq: ++this.written });
    this.unfedBytes += chunk.byteLength;
    if (this.unfedBytes >= FEED_MAX_BYTES) this.feed();
    else this.feedTimer ??= setTimeout(() => this.feed(), FEED_DELAY_MS);
  }

  /** Hands the terminal what arrived, in order; a chunk that arrived before the line's first key marks the prompt. */
  private feed(): void {
    clearTimeout(this.feedTimer);
    this.feedTimer = undefined;
    if (this.disposed) return;
    for (const { chunk, seq } of this.unfed)
      this.term.write(chunk, () => {
        if (!this.editing || seq <= this.frozenAt) this.markPrompt();
      });
    this.unfed = [];
    this.unfedBytes = 0;
  }

  resize(cols: number, rows: number): void {
    if (this.disposed) return;
    this.feed();
    this.term.resize(cols, rows);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.feedTimer);
    this.unfed = [];
    this.holding?.abort();
    this.queue.length = 0;
    this.term.dispose();
  }

  /** The user's input, as relayed by the room. */
  input(data: Buffer): void {
    if (this.disposed) return;
    // Ctrl-C while a line is held takes it back (the Ctrl-C itself then reaches the shell, in order).
    if (this.holding && data.includes(0x03)) this.holding.abort();
    if (!this.busy && this.paste === null && this.plain(data)) {
      this.sendKeys(data);
      return;
    }
    this.queue.push(data);
    this.queuedBytes += data.byteLength;
    if (this.queuedBytes > GUARD_QUEUE_BYTES) {
      this.queue.length = 0;
      this.io.overflow();
      return;
    }
    if (!this.busy) {
      this.busy = true;
      this.pump().catch((err: unknown) => this.io.fault(err));
    }
  }

  /** No Enter and no paste start: the bytes need no check. */
  private plain(data: Buffer): boolean {
    for (const byte of data) if (ENTER_KEYS.has(byte)) return false;
    return data.indexOf(PASTE_START) < 0;
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.disposed) {
        const chunk = this.queue.shift()!;
        this.queuedBytes -= chunk.byteLength;
        await this.process(chunk);
      }
    } finally {
      this.busy = false;
    }
  }

  private async process(chunk: Buffer): Promise<void> {
    const tokens = this.tokenize(chunk);
    // What the line shows now must be on screen first (the echo of earlier keys, a cleared line).
    if (tokens.some((t) => t.kind !== "bytes")) await this.settle();
    // Lines this chunk would run that the shell has not shown yet (a paste of several lines, a line typed and
    // entered in one frame, a bracketed paste holding newlines) are checked before any of it is sent.
    const early = this.precheck(tokens);
    if (early) {
      this.deny(early.line, early.verdict);
      return;
    }
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token.kind === "bytes") this.sendKeys(token.bytes);
      else if (token.kind === "paste") this.sendKeys(Buffer.concat([PASTE_START, token.text, PASTE_END]), token.text);
      else {
        const ran = await this.enter(token.key);
        if (!ran) return;
        // More follows: let the next prompt be drawn before typing on.
        if (i < tokens.length - 1) await this.settle();
      }
    }
  }

  /** Splits input into keys, Enters and whole bracketed pastes (a paste may span chunks). */
  private tokenize(chunk: Buffer): Token[] {
    const tokens: Token[] = [];
    let from = 0;
    let i = 0;
    const flush = (to: number) => {
      if (to > from) tokens.push({ kind: "bytes", bytes: chunk.subarray(from, to) });
    };
    while (i < chunk.length) {
      if (this.paste !== null) {
        const end = chunk.indexOf(PASTE_END, i);
        const part = chunk.subarray(i, end < 0 ? chunk.length : end);
        this.paste.push(part);
        this.pasteBytes += part.byteLength;
        if (this.pasteBytes > MAX_PASTE_BYTES) {
          // Too large to check: dropped whole (its end marker, when it comes, is dropped with it).
          this.paste = [];
          this.pasteBytes = 0;
        }
        if (end < 0) return tokens;
        tokens.push({ kind: "paste", text: Buffer.concat(this.paste) });
        this.paste = null;
        this.pasteBytes = 0;
        i = end + PASTE_END.length;
        from = i;
        continue;
      }
      if (chunk[i] === 0x1b && chunk.subarray(i, i + PASTE_START.length).equals(PASTE_START)) {
        flush(i);
        this.paste = [];
        i += PASTE_START.length;
        from = i;
        continue;
      }
      if (ENTER_KEYS.has(chunk[i]!)) {
        flush(i);
        tokens.push({ kind: "enter", key: chunk[i]! });
        from = i + 1;
      }
      i++;
    }
    flush(chunk.length);
    return tokens;
  }

  /** The first line of `tokens` that would be denied, read from the raw input (before the shell shows it). */
  private precheck(tokens: Token[]): { line: string; verdict: CommandVerdict } | null {
    if (this.alternateScreen()) return null;
    /** Each line this chunk would run, and whether an Enter key runs it (so it can be held for review). */
    const lines: { text: string; byEnter: boolean }[] = [];
    let current = this.screenLine().text;
    let typed = false;
    for (const token of tokens) {
      if (token.kind === "bytes") {
        const text = printable(token.bytes);
        if (text) typed = true;
        current += text;
      } else if (token.kind === "paste") {
        const parts = token.text.toString("utf8").split(/\r\n|\r|\n/);
        if (parts.length > 1) typed = true;
        current += parts[0]!;
        for (const part of parts.slice(1)) {
          lines.push({ text: current, byEnter: false });
          current = part;
        }
        // A multi-line paste's last line is checked too: it runs with the Enter that follows.
        if (parts.length > 1) lines.push({ text: current, byEnter: false });
      } else {
        lines.push({ text: current, byEnter: true });
        current = "";
      }
    }
    if (!typed) return null;
    let prefix = this.continued;
    for (const line of lines) {
      const full = prefix + line.text;
      const verdict = this.decide(full);
      if (verdict.action === "deny") return { line: full, verdict };
      // A line its own Enter runs is held at that Enter; one that a pasted newline would run cannot be held.
      if (verdict.action === "review" && !line.byEnter)
        return { line: full, verdict: { ...verdict, action: "deny", message: PASTED_REVIEW } };
      prefix = continuation(full);
    }
    return null;
  }

  /** Enter: read the line as shown, decide, and send the Enter only if it may run. False when it was denied. */
  private async enter(key: number): Promise<boolean> {
    if (this.alternateScreen()) {
      // A full-screen program (an editor, a pager) has the keyboard: its Enter is not a shell command.
      this.sendKeys(Buffer.from([key]));
      return true;
    }
    await this.settle();
    if (this.disposed) return false;
    const shown = this.screenLine().text;
    const typed = Buffer.from(this.typed.bytes).toString("utf8");
    if (!shown.trim() && typed.trim()) return this.enterBlind(key, typed);
    const full = this.continued + shown;
    const verdict = this.decide(full);
    if (verdict.action === "deny") {
      this.deny(full, verdict);
      return false;
    }
    if (verdict.action === "review") {
      const answer = await this.hold(full, verdict);
      if (this.disposed) return false;
      if (!answer.allowed) {
        this.deny(full, { ...verdict, message: answer.message });
        return false;
      }
    }
    this.io.send(Buffer.from([key]));
    this.awaitingEcho = true;
    this.editing = false;
    this.continued = continuation(full);
    if (full.trim())
      this.io.command({
        line: eventLine(full),
        action: verdict.action === "alert" ? "alert" : "allow",
        rule: verdict.rule,
        message: verdict.message,
      });
    return true;
  }

  /**
   * Enter on a line the screen does not show (echo off: `stty -echo` at a shell prompt, or a password prompt). The
   * keys typed are the line: checked as a shown line would be, but never written to an event or shown to reviewers
   * (it may be a password). A line edited with keys the guard cannot follow is refused, and so is one a rule would
   * hold for review.
   */
  private enterBlind(key: number, typed: string): boolean {
    const full = this.continued + typed;
    const verdict: CommandVerdict = this.typed.exact
      ? this.decide(full)
      : { action: "deny", rule: null, message: BLIND_EDITED };
    if (verdict.action === "deny" || verdict.action === "review") {
      this.deny(NOT_SHOWN, {
        ...verdict,
        action: "deny",
        message: verdict.action === "review" ? BLIND_REVIEW : verdict.message,
      });
      return false;
    }
    this.io.send(Buffer.from([key]));
    this.awaitingEcho = true;
    this.editing = false;
    this.continued = continuation(full);
    if (verdict.action === "alert")
      this.io.command({ line: NOT_SHOWN, action: "alert", rule: verdict.rule, message: verdict.message });
    return true;
  }

  /** Holds the line until the reviewers answer or the user withdraws it. */
  private async hold(line: string, verdict: CommandVerdict): Promise<ReviewAnswer> {
    const holding = new AbortController();
    this.holding = holding;
    try {
      const request = {
        line: eventLine(line),
        rule: verdict.rule ?? 0,
        message: verdict.message,
        seconds: verdict.reviewSeconds ?? REVIEW_SECONDS.default,
      };
      const answer = await this.io.review(request, holding.signal);
      return holding.signal.aborted ? { allowed: false, message: WITHDRAWN } : answer;
    } finally {
      this.holding = null;
    }
  }

  private deny(line: string, verdict: CommandVerdict): void {
    // A continued command (after a trailing backslash or in an open quote) is cancelled whole with Ctrl-C, so its
    // earlier lines, already with the shell, do not run with whatever is typed next.
    this.io.send(this.continued ? CANCEL : CLEAR_LINE);
    this.awaitingEcho = true;
    this.editing = false;
    this.continued = "";
    const message = verdict.message || DEFAULT_DENIAL;
    this.io.denied(message);
    this.io.command({ line: eventLine(line), action: "deny", rule: verdict.rule, message });
  }

  /**
   * The strictest verdict among the whole text and each of its lines (a multi-line buffer runs line by line; a
   * regular expression may be written for either).
   */
  private decide(text: string): CommandVerdict {
    let worst = this.matcher.check(text);
    if (text.includes("\n"))
      for (const line of text.split("\n")) {
        const verdict = this.matcher.check(line);
        if (SEVERITY[verdict.action] > SEVERITY[worst.action]) worst = verdict;
      }
    return worst;
  }

  private sendKeys(bytes: Buffer, pasted?: Buffer): void {
    if (bytes.byteLength === 0) return;
    if (!this.editing) {
      this.editing = true;
      this.frozenAt = this.written;
      this.typed = { bytes: [], exact: true };
    }
    this.noteTyped(pasted ?? bytes);
    // Ctrl-C, Ctrl-D: the line is abandoned; the next prompt starts a new one.
    if (bytes.includes(0x03) || bytes.includes(0x04)) {
      this.editing = false;
      this.continued = "";
    }
    this.awaitingEcho = true;
    this.io.send(bytes);
  }

  /** Follows the line's keys: Backspace takes back a character, Ctrl-U the line; any other control key or escape
   * sequence (cursor moves, history, completion) makes the line unknowable from the keys alone. */
  private noteTyped(bytes: Buffer): void {
    const typed = this.typed;
    for (const b of bytes) {
      if (b === 0x7f || b === 0x08) {
        // One character: its continuation bytes, then its first byte.
        while (typed.bytes.length > 0 && ((typed.bytes.at(-1) ?? 0) & 0xc0) === 0x80) typed.bytes.pop();
        typed.bytes.pop();
      } else if (b === 0x15) typed.bytes.length = 0;
      else if (b < 0x20) typed.exact = false;
      else typed.bytes.push(b);
    }
  }

  /** Waits for the echo of what was sent and for output to pause (bounded), then for the terminal to parse it. */
  private async settle(): Promise<void> {
    const start = this.now();
    for (;;) {
      const now = this.now();
      if (now - start >= SETTLE_CAP_MS || this.disposed) break;
      const quiet = now - this.lastOutputAt;
      if (!this.awaitingEcho && quiet >= QUIET_MS) break;
      await sleep(this.awaitingEcho ? 5 : Math.max(1, QUIET_MS - quiet));
    }
    if (this.disposed) return;
    this.feed();
    await new Promise<void>((resolve) => this.term.write("", resolve));
  }

  private alternateScreen(): boolean {
    return this.term.buffer.active.type === "alternate";
  }

  /** The cursor when the prompt was drawn, and the prompt's text left of it. */
  private markPrompt(): void {
    const buffer = this.term.buffer.active;
    const row = buffer.baseY + buffer.cursorY;
    const x = buffer.cursorX;
    this.prompt = { row, x, text: buffer.getLine(row)?.translateToString(false, 0, x) ?? "" };
  }

  /**
   * The command line on screen: from the prompt (where it was drawn; else the nearest row above the cursor that
   * starts with the same prompt; else readline's search prompt) to the last row of text, wrapped rows joined and
   * other rows as new lines.
   */
  private screenLine(): { text: string } {
    const buffer = this.term.buffer.active;
    const cursorRow = buffer.baseY + buffer.cursorY;
    const rowText = (row: number) => buffer.getLine(row)?.translateToString(true) ?? "";
    const top = Math.max(0, cursorRow - MAX_LINE_ROWS);
    let start = -1;
    let col = 0;
    const promptText = this.prompt.text;
    if (
      this.prompt.row <= cursorRow &&
      this.prompt.row >= top &&
      rowText(this.prompt.row).startsWith(promptText.trimEnd()) &&
      !ISEARCH.test(rowText(this.prompt.row))
    ) {
      start = this.prompt.row;
      col = this.prompt.x;
    }
    for (let row = cursorRow; start < 0 && row >= top; row--) {
      const text = rowText(row);
      const search = ISEARCH.exec(text);
      if (search) {
        start = row;
        col = search[0].length;
      } else if (promptText.trim() && text.startsWith(promptText)) {
        start = row;
        col = promptText.length;
      }
    }
    if (start < 0) start = cursorRow;
    let end = cursorRow;
    for (let row = cursorRow + 1; row < buffer.length && row <= start + MAX_LINE_ROWS; row++)
      if (rowText(row)) end = row;
    let text = (buffer.getLine(start)?.translateToString(true) ?? "").slice(col);
    for (let row = start + 1; row <= end; row++) {
      const line = buffer.getLine(row);
      text += (line?.isWrapped ? "" : "\n") + (line?.translateToString(true) ?? "");
    }
    return { text: text.replace(/\n+$/, "") };
  }
}

/** What carries over to the next line: a trailing backslash joins it, an open quote continues with a newline. */
function continuation(line: string): string {
  const trailing = /\\+$/.exec(line)?.[0].length ?? 0;
  if (trailing % 2 === 1) return line.slice(0, -1);
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === null && c === "\\") i++;
    else if (quote === null && (c === "'" || c === '"')) quote = c;
    else if (quote === '"' && c === "\\") i++;
    else if (c === quote) quote = null;
  }
  return quote === null ? "" : `${line}\n`;
}

/** The text a key sequence would type: escape sequences and control characters dropped. */
function printable(bytes: Buffer): string {
  return (
    bytes
      .toString("utf8")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: key sequences are control characters
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1bO.|\x1b./g, "")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: other control characters type no text
      .replace(/[\x00-\x1f\x7f]/g, "")
  );
}

function eventLine(line: string): string {
  return line.length > MAX_COMMAND_EVENT_LINE ? line.slice(0, MAX_COMMAND_EVENT_LINE) : line;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
