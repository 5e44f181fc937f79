// takeSealed: which cut chunks go to the spool together. Sealed chunks lead the queue (seals run in
// order); they go as one group, never past one still sealing; a failed seal is taken alone.
import { describe, expect, it } from "vitest";
import { takeSealed } from "./handover.ts";

type Entry = { seq: number; sealed?: string; failed?: boolean };
const sealed = (seq: number): Entry => ({ seq, sealed: `chunk ${seq}` });
const sealing = (seq: number): Entry => ({ seq });
const failed = (seq: number): Entry => ({ seq, failed: true });

describe("takeSealed", () => {
  it("takes every sealed chunk at the front, in order, and stops at one still sealing", () => {
    const queue = [sealed(0), sealed(1), sealed(2), sealing(3), sealing(4)];
    const { group, failed: f } = takeSealed(queue);
    expect(group.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(f).toBeUndefined();
    expect(queue.map((e) => e.seq)).toEqual([3, 4]);
  });

  it("takes nothing while the first chunk is still sealing", () => {
    const queue = [sealing(0), sealed(1)];
    expect(takeSealed(queue)).toEqual({ group: [] });
    expect(queue).toHaveLength(2);
  });

  it("takes a failed seal alone, and only once the sealed chunks before it are gone", () => {
    const queue = [sealed(0), failed(1), sealed(2)];
    expect(takeSealed(queue).group.map((e) => e.seq)).toEqual([0]);
    const next = takeSealed(queue);
    expect(next.group).toEqual([]);
    expect(next.failed?.seq).toBe(1);
    expect(queue.map((e) => e.seq)).toEqual([2]);
  });

  it("takes the whole queue when every chunk is sealed, and nothing from an empty one", () => {
    const queue = [sealed(0), sealed(1)];
    expect(takeSealed(queue).group).toHaveLength(2);
    expect(queue).toEqual([]);
    expect(takeSealed(queue)).toEqual({ group: [] });
  });
});
