// The offset-indexed output log: append, trim, cap, and exact slices from any held offset.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OutputLog } from "./output-log.ts";

const bytes = (...values: number[]) => new Uint8Array(values);
const join = (parts: Uint8Array[] | null) => (parts ? Buffer.concat(parts.map((p) => Buffer.from(p))) : null);

describe("OutputLog", () => {
  it("slices from any held offset, including mid-chunk and the end", () => {
    const log = new OutputLog(10);
    log.append(bytes(1, 2, 3));
    log.append(bytes(4, 5));
    expect(log.end).toBe(15);
    expect([...join(log.since(10))!]).toEqual([1, 2, 3, 4, 5]);
    expect([...join(log.since(12))!]).toEqual([3, 4, 5]);
    expect([...join(log.since(15))!]).toEqual([]);
    expect(log.since(9)).toBeNull();
    expect(log.since(16)).toBeNull();
  });

  it("trims acknowledged bytes and caps to the last N", () => {
    const log = new OutputLog();
    log.append(bytes(1, 2, 3));
    log.append(bytes(4, 5, 6));
    log.trimTo(4);
    expect(log.start).toBe(4);
    expect(log.bytes).toBe(2);
    expect(log.since(3)).toBeNull();
    log.keepLast(1);
    expect([...join(log.since(5))!]).toEqual([6]);
    log.trimTo(100);
    expect(log.start).toBe(6);
    log.reset(40);
    expect(log.end).toBe(40);
    expect(log.bytes).toBe(0);
  });

  it("returns exactly the stream's bytes from any held offset, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 30 }),
        fc.nat(200),
        fc.nat(600),
        (chunks, cap, from) => {
          const log = new OutputLog();
          const all: number[] = [];
          for (const chunk of chunks) {
            log.append(chunk);
            all.push(...chunk);
            log.keepLast(cap + 20);
          }
          expect(log.bytes).toBeLessThanOrEqual(Math.max(cap + 20, 0) + 20);
          const slice = log.since(from);
          if (from < log.start || from > log.end) expect(slice).toBeNull();
          else expect([...join(slice)!]).toEqual(all.slice(from));
        },
      ),
    );
  });
});
