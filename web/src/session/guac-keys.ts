// The keys typed in a desktop recording, as text an auditor can read (pure): the recorded `key`
// instructions (keysym, pressed, time; only present where policy records input) turned into lines
// of typed text, each with the time its first key was pressed. Printable keysyms become their
// character, a few editing keys a symbol; modifiers and other keys are left out.
import type { GuacInstruction } from "../../../protocol/guacamole.ts";

export type TypedLine = { /** ms since the recording started */ time: number; text: string };

/** A pause this long (ms) between keys starts a new line. */
const LINE_GAP_MS = 2_000;
/** Longest line kept (characters); longer typing continues on the next line. */
const MAX_LINE = 200;

const SPECIAL: Record<number, string> = {
  65288: "⌫",
  65289: "⇥",
  65307: "⎋",
  65535: "⌦",
  65361: "←",
  65362: "↑",
  65363: "→",
  65364: "↓",
};

/** The character a keysym types, or a symbol for an editing key; null for anything else. */
export function keysymText(keysym: number): string | null {
  if ((keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)) return String.fromCharCode(keysym);
  // Unicode keysyms: 0x01000000 + the code point.
  if (keysym >= 0x01000100 && keysym <= 0x0110ffff) return String.fromCodePoint(keysym - 0x01000000);
  if (keysym === 0xff8d) return "⏎";
  return SPECIAL[keysym] ?? null;
}

/** Lines of typed text from a recording's instructions (Enter ends a line, as does a pause). */
export function typedLines(instructions: Iterable<GuacInstruction>): TypedLine[] {
  const lines: TypedLine[] = [];
  let current: TypedLine | null = null;
  let last = Number.NEGATIVE_INFINITY;
  for (const { opcode, args } of instructions) {
    if (opcode !== "key" || args[1] !== "1") continue;
    const time = Number(args[2]);
    const keysym = Number(args[0]);
    if (!Number.isFinite(time) || !Number.isFinite(keysym)) continue;
    const enter = keysym === 0xff0d || keysym === 0xff8d;
    const text = enter ? "⏎" : keysymText(keysym);
    if (text === null) continue;
    if (!current || time - last > LINE_GAP_MS || current.text.length >= MAX_LINE) {
      current = { time, text: "" };
      lines.push(current);
    }
    current.text += text;
    last = time;
    if (enter) current = null;
  }
  return lines;
}
