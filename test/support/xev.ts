// Reading keys back from a test desktop: `xev` (Debian's x11-utils) runs in the X session and logs every
// key event with its keysym name; tests parse that log to see what the X server got.
import { existsSync } from "node:fs";

export const XEV = "/usr/bin/xev";

export const xevMissing = (): string | undefined =>
  existsSync(XEV) ? undefined : "the keyboard tests read keys back with xev (apt-get install x11-utils)";

/** The shell line that starts xev over the top left of the desktop, logging key events to `log`, line-buffered. */
export const xevCommand = (log: string): string => `stdbuf -oL ${XEV} -event keyboard -geometry 800x600+0+0 > ${log}`;

export type XKeyEvent = { type: "press" | "release"; state: number; keycode: number; keysym: string };

/** Key events from xev's log: `KeyPress event, ... state 0x10, keycode 38 (keysym 0x61, a), ...`. */
export function parseXev(log: string): XKeyEvent[] {
  const events: XKeyEvent[] = [];
  const re = /Key(Press|Release) event,[\s\S]*?state (0x[0-9a-f]+), keycode (\d+) \(keysym 0x[0-9a-f]+, ([^)]+)\)/g;
  for (const m of log.matchAll(re))
    events.push({
      type: m[1] === "Press" ? "press" : "release",
      state: Number.parseInt(m[2]!, 16),
      keycode: Number(m[3]),
      keysym: m[4]!,
    });
  return events;
}
