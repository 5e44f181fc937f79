import { describe, expect, it } from "vitest";
import { due, idleStep, nextDue, nextWarning } from "./timers.ts";

describe("timers on one alarm", () => {
  it("picks the earliest pending timer", () => {
    expect(nextDue({ deadline: 5000, attach: 1000 })).toBe(1000);
    expect(nextDue({})).toBeNull();
  });

  it("fires what is due, earliest first, and keeps the rest", () => {
    expect(due({ deadline: 3000, attach: 1000 }, 5000)).toEqual({ fired: ["attach", "deadline"], pending: {} });
    expect(due({ deadline: 9000, attach: 1000 }, 5000)).toEqual({ fired: ["attach"], pending: { deadline: 9000 } });
  });
});

describe("warnings and idle", () => {
  it("warns at each offset before the deadline, latest first", () => {
    expect(nextWarning(10_000, [5000, 1000], 0)).toBe(5000);
    expect(nextWarning(10_000, [5000, 1000], 5000)).toBe(9000);
    expect(nextWarning(10_000, [5000, 1000], 9000)).toBeUndefined();
  });

  it("waits, warns once, then ends an idle session", () => {
    expect(idleStep(0, 10_000, 2000, false, 1000)).toEqual({ action: "wait", at: 8000 });
    expect(idleStep(0, 10_000, 2000, false, 8000)).toEqual({ action: "warn", at: 10_000 });
    expect(idleStep(0, 10_000, 2000, true, 8500)).toEqual({ action: "wait", at: 10_000 });
    expect(idleStep(0, 10_000, 2000, true, 10_000)).toEqual({ action: "end" });
    // fresh input moves everything
    expect(idleStep(9000, 10_000, 2000, false, 10_000)).toEqual({ action: "wait", at: 17_000 });
  });
});
