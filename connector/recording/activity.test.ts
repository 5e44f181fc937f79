import { describe, expect, it } from "vitest";
import { BUSY_BYTES, RelayActivity, URGENT_AGE_MS, uploadsWait, WINDOW_MS } from "./activity.ts";

describe("RelayActivity", () => {
  it("is busy while more than BUSY_BYTES pass per window, and idle again once output stops", () => {
    const a = new RelayActivity();
    let t = 10_000;
    for (let i = 0; i < 20; i++) {
      t += 50;
      a.note(256 * 1024, t); // 5 MiB/s
    }
    expect(a.busy(t)).toBe(true);
    expect(a.busy(t + 2 * WINDOW_MS)).toBe(false);
  });

  it("typing and interactive output never count as busy", () => {
    const a = new RelayActivity();
    let t = 0;
    for (let i = 0; i < 1000; i++) {
      t += 10;
      a.note(200, t);
    }
    expect(a.busy(t)).toBe(false);
    a.note(BUSY_BYTES + 1, t);
    expect(a.busy(t)).toBe(true);
  });
});

describe("uploadsWait", () => {
  const busy = () => {
    const a = new RelayActivity();
    a.note(2 * BUSY_BYTES, 1_000);
    return a;
  };
  it("waits for a busy relay while the spool has room and nothing is old", () => {
    expect(uploadsWait(busy(), { bytes: 10, limit: 1000, oldestAt: 900 }, 1_000)).toBe(true);
    expect(uploadsWait(new RelayActivity(), { bytes: 10, limit: 1000, oldestAt: 900 }, 1_000)).toBe(false);
  });
  it("uploads anyway once the spool is a quarter full or a chunk has waited a minute", () => {
    expect(uploadsWait(busy(), { bytes: 250, limit: 1000, oldestAt: 900 }, 1_000)).toBe(false);
    expect(uploadsWait(busy(), { bytes: 10, limit: 1000, oldestAt: 1_000 - URGENT_AGE_MS }, 1_000)).toBe(false);
  });
});
