// Several named timers multiplexed onto a Durable Object's single alarm. Pure: the room stores
// the map, sets its alarm to `nextDue`, and on the alarm runs whatever `due` returns.

export type TimerName = "deadline" | "attach";
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
