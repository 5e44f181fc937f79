// Replay helpers: escape strings the replaying terminal must not act on are removed, idle time is
// compressed consistently with search, and a typed command is found at the moment it was shown.
import { describe, expect, it } from "vitest";
import {
  compressIdle,
  markersOf,
  neutralise,
  parseCast,
  safeForReplay,
  searchCast,
  serializeCast,
} from "./cast-text.ts";

const CAST = [
  '{"version":2,"width":80,"height":24,"timestamp":1}',
  '[0,"m","start"]',
  '[0.5,"o","$ "]',
  '[1,"o","e"]',
  '[1.1,"o","cho hi"]',
  '[1.2,"i","echo hi\\r"]',
  '[1.2,"o","\\r\\nhi\\r\\n$ "]',
  '[60,"o","\\u001b]0;pwned title\\u0007\\u001b]52;c;ZXZpbA==\\u0007\\u001b[1mbold\\u001b[0m"]',
  '[61,"m","end: user_exit"]',
].join("\n");

describe("replay helpers", () => {
  it("removes title changes, clipboard writes and other escape strings, keeping drawing sequences", () => {
    expect(neutralise("a\x1b]0;title\x07b\x1b]52;c;ZXZpbA==\x1b\\c\x1bPq#0\x1b\\d\x1b[31me")).toBe("abcd\x1b[31me");
    expect(neutralise("x\x1b]2;never closed")).toBe("x");
    const safe = safeForReplay(parseCast(CAST));
    const out = safe.events.map((e) => e[2]).join("");
    expect(out).not.toContain("\x1b]");
    expect(out).toContain("\x1b[1mbold");
    expect(safe.events.some((e) => e[1] === "i")).toBe(false);
  });

  it("compresses idle time and finds a typed command where it appeared", () => {
    const cast = compressIdle(parseCast(CAST), 2);
    expect(cast.events.at(-2)![0]).toBe(3.2);
    expect(markersOf(cast)).toEqual([
      [0, "start"],
      [4.2, "end: user_exit"],
    ]);
    expect(searchCast(cast, "ECHO HI")).toEqual([{ time: 1.1, line: "$ echo hi" }]);
    expect(searchCast(cast, "bold")).toEqual([{ time: 3.2, line: "$ bold" }]);
    expect(searchCast(cast, "absent")).toEqual([]);
    expect(parseCast(serializeCast(cast))).toEqual(cast);
  });
});
