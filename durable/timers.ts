// Several named timers multiplexed onto a Durable Object's single alarm. Pure: the room stores
// the map, sets its alarm to `nextDue`, and on the alarm runs whatever `due` returns.

// deadline: the time limit; attach: the connector must dial by then; warn: the next time-limit warning;
// idle: the idle check; grace: the browser must be back by then; reconnect: the connector must be back by then;
// snapshot: save the replay buffer; seal: sign the recording's manifest once the tail wait ends, or retry a seal
// (durable/recording/seal.ts); unlock: a moderator's input lock runs out; review: a held command's review runs out.
export type TimerName =
  | "deadline"
  | "attach"
  | "warn"
  | "idle"
  | "grace"
  | "reconnect"
  | "snapshot"
  | "seal"
  | "unlock"
  | "review";
export type Timers = Partial<Record<TimerName, number>>; // unix ms

export function nextDue(timers: Timers): number | null {
  const times = Object.values(timers).filter((t): t is number => typeof t === "number");
  return times.length ? Math.min(...times) : null;
}

/** The timers that have fired by `now`, earliest first, and the ones still pending. */
export function due(timers: Timers, now: number): { fired: TimerName[]; pending: Timers } {
  const fired: [TimerName, number][] = [];
  const pending: Timers = {};
  for (const [name, at] of Object.entries(timers) as [TimerName, number][]) {
    if (at <= now) fired.push([name, at]);
    else pending[name] = at;
  }
  fired.sort((a, b) => a[1] - b[1]);
  return { fired: fired.map(([name]) => name), pending };
}

/** The next time-limit warning after `now`: the latest `deadline - offset` still ahead. */
export function nextWarning(deadline: number, offsetsMs: number[], now: number): number | undefined {
  const ahead = offsetsMs.map((o) => deadline - o).filter((t) => t > now);
  return ahead.length ? Math.min(...ahead) : undefined;
}

/** What the idle timer should do at `now`, given the last input and the policy's idle limit. */
export function idleStep(
  lastInput: number,
  idleMs: number,
  warnMs: number,
  warned: boolean,
  now: number,
): { action: "end" } | { action: "warn"; at: number } | { action: "wait"; at: number } {
  const endAt = lastInput + idleMs;
  if (now >= endAt) return { action: "end" };
  const warnAt = endAt - Math.min(warnMs, idleMs / 2);
  if (now >= warnAt && !warned) return { action: "warn", at: endAt };
  return { action: "wait", at: warned ? endAt : warnAt };
}
