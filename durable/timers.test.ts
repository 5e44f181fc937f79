import { describe, expect, it } from "vitest";
import { due, nextDue } from "./timers.ts";

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
