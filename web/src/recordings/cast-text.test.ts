// Replay helpers: escape strings the replaying terminal must not act on are removed, idle time is
// compressed consistently with search (and a recorded time maps to the compressed one), a typed command
// is found at the moment it was shown, markers read as words, and times read as offsets and wall clock.
import { describe, expect, it } from "vitest";
import {
  type Cast,
  type CastEvent,
  authorAt,
  authorsOf,
  chaptersOf,
  compressIdle,
  formatOffset,
  idleClock,
  markerLabel,
  markersOf,
  neutralise,
  parseCast,
  safeForReplay,
  searchCast,
  serializeCast,
  wallClock,
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

  it("attack: a target splits a clipboard write or a link across output events — guarantee: none of it reaches the player", () => {
    const events = (...data: string[]): Cast => ({
      header: { version: 2, width: 80, height: 24 },
      events: data.map((d, i): CastEvent => [i, "o", d]),
    });
    const shown = (...data: string[]) =>
      safeForReplay(events(...data))
        .events.map((e) => e[2])
        .join("");
    // ESC at the end of one event, "]52;c;..." in the next; the string closed by ST cut in two.
    expect(shown("a\x1b", "]52;c;ZXZpbA==\x07b")).toBe("ab");
    expect(shown("a\x1b]8;;https://evil.example/", "clickme", "\x1b", "\\b\x1b[1mc")).toBe("ab\x1b[1mc");
    expect(shown("a\x1bPq#0;2;0;0;0", "#0~~\x9cb")).toBe("ab");
    // A lone ESC before drawing sequences is kept: it was only held for the next event.
    expect(shown("a\x1b", "[31mred")).toBe("a\x1b[31mred");
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

  it("maps a recorded time to where the compressed player shows it", () => {
    const cast = parseCast(CAST);
    const compressed = compressIdle(cast, 2);
    const played = idleClock(cast, 2);
    // Every event lands exactly where compressIdle put it.
    expect(cast.events.map((e) => played(e[0]))).toEqual(compressed.events.map((e) => e[0]));
    // Inside the long pause (1.2 s to 60 s): at most 2 s after the event before it.
    expect(played(2)).toBe(2);
    expect(played(30)).toBe(3.2);
    expect(played(1000)).toBe(6.2);
    expect(idleClock(cast, null)(30)).toBe(30);
    // Search on the recording as made, seek on the compressed one: the same moment.
    const [hit] = searchCast(safeForReplay(cast), "bold");
    expect(hit!.time).toBe(60);
    expect(played(hit!.time)).toBe(searchCast(compressed, "bold")[0]!.time);
  });

  it("names the recorder's markers in words, and keeps unknown ones as written", () => {
    expect(markerLabel("start")).toBe("Recording started");
    expect(markerLabel("connected")).toBe("Connected to the server");
    expect(markerLabel("warning: time_limit")).toBe("Warning: time limit");
    expect(markerLabel("end: user_exit")).toBe("Ended: user exit");
    expect(markerLabel("end: killed")).toBe("Ended: killed by an administrator");
    expect(markerLabel("gap: 12 bytes not relayed")).toBe("Gap: 12 bytes not relayed");
    expect(markerLabel("extension: until 2026-12-05T10:30:00.000Z", (ms) => String(ms))).toBe(
      `Extended until ${Date.UTC(2026, 11, 5, 10, 30)}`,
    );
    expect(markerLabel("something new: x")).toBe("something new: x");
  });

  it("says when: the offset, and the wall-clock time in the viewer's locale, with the date past midnight", () => {
    expect(formatOffset(0)).toBe("0:00");
    expect(formatOffset(65.9)).toBe("1:05");
    expect(formatOffset(3723)).toBe("1:02:03");
    const start = Date.UTC(2026, 11, 5, 23, 59, 30);
    const utc = { locale: "en-GB", timeZone: "UTC" };
    expect(wallClock(start, 12.4, utc)).toEqual({ text: "23:59:42", iso: "2026-12-05T23:59:42.400Z" });
    expect(wallClock(start, 45, utc).text).toBe("6 Dec, 00:00:15");
    expect(wallClock(start, 12, { locale: "en-US", timeZone: "UTC" }).text).toBe("11:59:42 PM");
    // In the viewer's own zone: the same moment, another clock (and there, no midnight was crossed).
    expect(wallClock(start, 45, { locale: "en-GB", timeZone: "Asia/Tokyo" }).text).toBe("09:00:15");
  });
});

// A shared session's recording (docs/governance.md "Shared sessions"): `typing: <name>` markers are authorship, not
// events. The replay says who typed at the current moment and keeps them off the events list and the timeline.
describe("replay of a shared session", () => {
  const SHARED = [
    '{"version":2,"width":80,"height":24}',
    '[0,"m","start"]',
    '[1,"o","$ "]',
    '[2,"m","joined with input: bob"]',
    '[3,"m","typing: bob"]',
    '[3.1,"o","e"]',
    '[5,"m","typing: alice"]',
    '[5.1,"o","l"]',
    '[7,"m","typing: bob"]',
    '[7.1,"o","s"]',
    '[9,"m","left: bob"]',
  ].join("\n");

  it("keeps authorship out of the session's events, and names comings and goings in words", () => {
    const cast = parseCast(SHARED);
    expect(chaptersOf(cast)).toEqual([
      [0, "start"],
      [2, "joined with input: bob"],
      [9, "left: bob"],
    ]);
    expect(chaptersOf(cast).map(([, raw]) => markerLabel(raw))).toEqual([
      "Recording started",
      "bob joined with input",
      "bob left",
    ]);
  });

  it("says who typed at a moment: the latest authorship marker at or before it, the session's user before any", () => {
    const authors = authorsOf(parseCast(SHARED));
    expect(authors).toEqual([
      [3, "bob"],
      [5, "alice"],
      [7, "bob"],
    ]);
    expect(authorAt(authors, 0, "alice")).toBe("alice");
    expect(authorAt(authors, 2.99, "alice")).toBe("alice");
    expect(authorAt(authors, 3, "alice")).toBe("bob");
    expect(authorAt(authors, 4, "alice")).toBe("bob");
    expect(authorAt(authors, 6, "alice")).toBe("alice");
    expect(authorAt(authors, 100, "alice")).toBe("bob");
    // A session never shared has no authorship to show.
    expect(authorAt(authorsOf(parseCast(CAST)), 1, "alice")).toBeNull();
  });

  it("finds the same author on the idle-compressed timeline the player plays", () => {
    // A minute's pause before bob types again: the player plays it as 2 s.
    const long = parseCast(
      SHARED.replace('[7,"m","typing: bob"]', '[70,"m","typing: bob"]')
        .replace('[7.1,"o","s"]', '[70.1,"o","s"]')
        .replace('[9,"m","left: bob"]', '[72,"m","left: bob"]'),
    );
    const played = compressIdle(long, 2);
    const authors = authorsOf(played);
    const at = idleClock(long, 2);
    expect(authorAt(authors, at(6), "alice")).toBe("alice");
    expect(at(70)).toBeCloseTo(7.1);
    expect(authorAt(authors, at(70), "alice")).toBe("bob");
  });
});
