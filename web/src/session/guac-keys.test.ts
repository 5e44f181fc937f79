// Typed text from a desktop recording's key instructions: characters, Enter ending a line, pauses
// starting one, modifiers and releases left out.
import { describe, expect, it } from "vitest";
import { typedLines } from "./guac-keys.ts";

const key = (keysym: number, pressed: 0 | 1, time: number) => ({
  opcode: "key",
  args: [String(keysym), String(pressed), String(time)],
});
const typing = (text: string, from: number) =>
  [...text].flatMap((ch, i) => [
    key(ch.codePointAt(0)!, 1, from + i * 50),
    key(ch.codePointAt(0)!, 0, from + i * 50 + 20),
  ]);

describe("typedLines", () => {
  it("turns presses into lines of text with the time of their first key", () => {
    const lines = typedLines([
      key(0xffe1, 1, 900), // Shift: left out
      ...typing("echo hi", 1000),
      key(0xff0d, 1, 1400),
      { opcode: "sync", args: ["1500"] },
      ...typing("ls", 6000),
      key(0x01000101, 1, 6200), // a Unicode keysym (U+0101)
    ]);
    expect(lines).toEqual([
      { time: 1000, text: "echo hi⏎" },
      { time: 6000, text: "lsā" },
    ]);
  });

  it("starts a new line after a pause, and ignores malformed keys", () => {
    const lines = typedLines([
      ...typing("ab", 0),
      ...typing("cd", 5000),
      { opcode: "key", args: ["x", "1", "7000"] },
      { opcode: "key", args: ["65", "1"] },
    ]);
    expect(lines.map((l) => l.text)).toEqual(["ab", "cd"]);
  });
});
