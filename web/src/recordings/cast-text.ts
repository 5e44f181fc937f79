// Pure helpers for replay: read a .cast, neutralise escape strings the replaying terminal must not
// act on (OSC titles and clipboard writes, DCS/APC/PM/SOS), compress idle time (and map a recorded time
// to the compressed one), search the text, name the session-event markers, and say when something
// happened: the offset in the recording and the wall-clock time (start + offset, in the viewer's locale). In a shared
// session's recording, `typing: <name>` markers say who typed (authorship, not events): who typed at a moment is the
// latest one at or before it, and input before the first one is the session's user's.

export type CastEvent = [time: number, code: string, data: string];
export type Cast = { header: Record<string, unknown> & { width: number; height: number }; events: CastEvent[] };

export function parseCast(text: string): Cast {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = JSON.parse(lines[0] ?? "{}");
  if (header?.version !== 2) throw new Error("not an asciicast v2 recording");
  const events: CastEvent[] = [];
  for (const line of lines.slice(1)) {
    const e = JSON.parse(line);
    if (Array.isArray(e) && typeof e[0] === "number" && typeof e[1] === "string" && typeof e[2] === "string")
      events.push([e[0], e[1], e[2]]);
  }
  return { header, events };
}

export function serializeCast(cast: Cast): string {
  return `${[cast.header, ...cast.events].map((x) => JSON.stringify(x)).join("\n")}\n`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are control characters
const ESCAPE_STRING = /(\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(\x07|\x1b\\|\x9c|$)/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are control characters
const STRING_END = /\x07|\x1b\\|\x9c/;

/**
 * Removes OSC (title, clipboard OSC 52, hyperlinks...), DCS, SOS, PM and APC strings, terminated by
 * BEL or ST, and any such string left open at the end of `data`. Screen-drawing sequences (CSI,
 * SGR) stay: they are what replay shows.
 */
export function neutralise(data: string): string {
  return data.replace(ESCAPE_STRING, "");
}

/**
 * neutralise() over a stream cut into events: a string opened in one event is removed up to its terminator in a
 * later one, and an ESC that ends an event waits for the next (it may open a string there). A target's output is
 * cut wherever reads fell, so a string split across events must not reach the player in pieces.
 */
export function streamNeutraliser(): (data: string) => string {
  let open = false;
  let carry = "";
  return (data) => {
    let text = carry + data;
    carry = "";
    if (open) {
      const end = STRING_END.exec(text);
      if (!end) {
        if (text.endsWith("\x1b")) carry = "\x1b"; // maybe the first half of ST
        return "";
      }
      open = false;
      text = text.slice(end.index + end[0].length);
    }
    if (text.endsWith("\x1b")) {
      carry = "\x1b";
      text = text.slice(0, -1);
    }
    return text.replace(ESCAPE_STRING, (_m, _start, end: string) => {
      if (end === "") open = true;
      return "";
    });
  };
}

/** Output events neutralised as one stream; "i" events dropped (the player does not show them; search uses output). */
export function safeForReplay(cast: Cast): Cast {
  const strip = streamNeutraliser();
  return {
    header: { ...cast.header, title: undefined },
    events: cast.events.filter((e) => e[1] !== "i").map((e) => (e[1] === "o" ? [e[0], e[1], strip(e[2])] : e)),
  };
}

/** Gaps longer than `limit` seconds shrink to `limit` (the same times the player and search use). */
export function compressIdle(cast: Cast, limit: number | null): Cast {
  if (!limit) return cast;
  let last = 0;
  let shifted = 0;
  const events = cast.events.map(([t, code, data]): CastEvent => {
    const gap = t - last;
    if (gap > limit) shifted += gap - limit;
    last = t;
    return [Math.round((t - shifted) * 1000) / 1000, code, data];
  });
  return { header: cast.header, events };
}

/**
 * Where a moment of the recording (s since its start) falls once gaps longer than `limit` seconds shrink
 * to `limit`: exactly compressIdle's time for an event, and in between, at most `limit` after the event
 * before it. So a search hit or a marker found in the recording as made seeks the player that plays it
 * compressed.
 */
export function idleClock(cast: Cast, limit: number | null): (t: number) => number {
  if (!limit) return (t) => t;
  // Each event's recorded time and how much earlier it plays (the shift compressIdle applies).
  const times: number[] = [0];
  const shifts: number[] = [0];
  let last = 0;
  let shifted = 0;
  for (const [t] of cast.events) {
    const gap = t - last;
    if (gap > limit) shifted += gap - limit;
    last = t;
    times.push(t);
    shifts.push(shifted);
  }
  return (t) => {
    // The last event at or before t (binary search: events are in time order).
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    const base = times[lo]!;
    return Math.round((base - shifts[lo]! + Math.min(Math.max(0, t - base), limit)) * 1000) / 1000;
  };
}

/** The visible text of output: escape sequences and carriage returns removed. */
function plain(data: string): string {
  return (
    neutralise(data)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are control characters
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>78]/g, "")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: other control characters carry no text
      .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, "")
  );
}

export type Hit = { time: number; line: string };

/** Where `query` appears in the output (case-insensitive): the time its last character was shown. */
export function searchCast(cast: Cast, query: string, maxHits = 200): Hit[] {
  const needle = query.toLowerCase();
  if (!needle) return [];
  let text = "";
  const ends: { end: number; time: number }[] = [];
  for (const [t, code, data] of cast.events) {
    if (code !== "o") continue;
    text += plain(data);
    ends.push({ end: text.length, time: t });
  }
  const lower = text.toLowerCase();
  const hits: Hit[] = [];
  let from = 0;
  let e = 0;
  while (hits.length < maxHits) {
    const at = lower.indexOf(needle, from);
    if (at < 0) break;
    const last = at + needle.length; // exclusive: the event holding char last-1
    while (e < ends.length && ends[e]!.end < last) e++;
    const lineStart = text.lastIndexOf("\n", at) + 1;
    const lineEnd = text.indexOf("\n", last);
    hits.push({
      time: ends[e]?.time ?? 0,
      line: text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd).slice(0, 200),
    });
    from = at + Math.max(1, needle.length);
  }
  return hits;
}

/** Every marker ("m" events, as recording/asciicast.ts writes them): [time (s), label]. */
export function markersOf(cast: Cast): [number, string][] {
  return cast.events.filter((e) => e[1] === "m").map((e) => [e[0], e[2]]);
}

/**
 * The room's authorship marker in a shared session, `typing: <username>`, written before each change of writer
 * (durable/room/sharing.ts TYPING_MARKER, docs/recording.md).
 */
export const TYPING_MARKER = "typing: ";

/** The session's events (the chapters on the timeline and in the list): every marker but the authorship ones. */
export function chaptersOf(cast: Cast): [number, string][] {
  return markersOf(cast).filter(([, label]) => !label.startsWith(TYPING_MARKER));
}

/** Who typed from when: [time (s), username], one per change of writer, in time order. */
export function authorsOf(cast: Cast): [number, string][] {
  return markersOf(cast)
    .filter(([, label]) => label.startsWith(TYPING_MARKER))
    .map(([t, label]): [number, string] => [t, label.slice(TYPING_MARKER.length).trim()]);
}

/**
 * Who was typing at `time` (s) of a shared session's recording: the latest authorship marker at or before it, or
 * before the first one the session's user (`owner`). Null for a recording that was never shared (no marker).
 */
export function authorAt(authors: readonly [number, string][], time: number, owner: string): string | null {
  if (authors.length === 0) return null;
  let author = owner;
  for (const [t, name] of authors) {
    if (t > time) break;
    author = name;
  }
  return author;
}

/**
 * A marker in words: `start`, `connected`, `warning: <why>`, `extension: until <ISO time>`, `end: <reason>`,
 * `gap: <n> bytes not relayed` (durable/session-room.ts). `at` formats the extension's new deadline (ms).
 * Anything else is shown as written, so a marker from a newer edge is never hidden.
 */
export function markerLabel(raw: string, at: (ms: number) => string = (ms) => new Date(ms).toISOString()): string {
  const words = (s: string) => s.trim().replaceAll("_", " ");
  if (raw === "start") return "Recording started";
  if (raw === "connected") return "Connected to the server";
  const [kind, rest = ""] = raw.split(/:\s*(.*)/s, 2) as [string, string?];
  if (kind === "warning") return `Warning: ${words(rest)}`;
  if (kind === "end") return rest === "killed" ? "Ended: killed by an administrator" : `Ended: ${words(rest)}`;
  if (kind === "gap") return `Gap: ${rest}`;
  // Shared sessions (durable/room/sharing.ts): a person the user invited came or went.
  if (kind === "joined with input") return `${rest} joined with input`;
  if (kind === "left") return `${rest} left`;
  if (kind === "typing") return `Typed by ${rest}`;
  if (kind === "extension") {
    const until = Date.parse(rest.replace(/^until\s+/, ""));
    return Number.isNaN(until) ? `Extended: ${rest}` : `Extended until ${at(until)}`;
  }
  return raw;
}

/** An offset into a recording (s): "0:05", "12:34", "1:02:03". */
export function formatOffset(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/**
 * When something `offset` seconds into a recording that started at `startedAt` (unix ms) happened, as the
 * viewer reads clock times: "14:03:27" in their locale and time zone, with the date in front once the
 * recording has run past the day it started ("6 Dec, 00:10:02"). `locale` and `timeZone` are for tests.
 */
export function wallClock(
  startedAt: number,
  offset: number,
  opts: { locale?: string; timeZone?: string } = {},
): { text: string; iso: string } {
  const at = startedAt + Math.round(offset * 1000);
  const base = { timeZone: opts.timeZone };
  const day = new Intl.DateTimeFormat(opts.locale, { ...base, year: "numeric", month: "numeric", day: "numeric" });
  const time = new Intl.DateTimeFormat(opts.locale, {
    ...base,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    ...(day.format(at) === day.format(startedAt) ? {} : { day: "numeric", month: "short" }),
  });
  return { text: time.format(at), iso: new Date(at).toISOString() };
}
