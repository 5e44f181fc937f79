// Pure helpers for replay: read a .cast, neutralise escape strings the replaying terminal must not
// act on (OSC titles and clipboard writes, DCS/APC/PM/SOS), compress idle time, and search the text.

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

/**
 * Removes OSC (title, clipboard OSC 52, hyperlinks...), DCS, SOS, PM and APC strings, terminated by
 * BEL or ST, and any such string left open at the end of an event. Screen-drawing sequences (CSI,
 * SGR) stay: they are what replay shows.
 */
export function neutralise(data: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are control characters
  return data.replace(/(\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(\x07|\x1b\\|\x9c|$)/g, "");
}

/** Output events neutralised; "i" events dropped (the player does not show them; search uses output). */
export function safeForReplay(cast: Cast): Cast {
  return {
    header: { ...cast.header, title: undefined },
    events: cast.events.filter((e) => e[1] !== "i").map((e) => (e[1] === "o" ? [e[0], e[1], neutralise(e[2])] : e)),
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

/** Session-event markers ("m" events) for the player's timeline. */
export function markersOf(cast: Cast): [number, string][] {
  return cast.events.filter((e) => e[1] === "m").map((e) => [e[0], e[2]]);
}
