import { describe, expect, it } from "vitest";
import { ReplayBuffer } from "./replay.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe("replay buffer for late viewers", () => {
  it("keeps recent output up to its bound", () => {
    const r = new ReplayBuffer(10);
    r.push(enc("hello "));
    r.push(enc("world"));
    expect(dec(r.snapshot())).toBe("world");
    r.push(enc("0123456789abc"));
    expect(dec(r.snapshot())).toBe("3456789abc");
    expect(r.size).toBe(10);
  });

  it("restarts at the last screen clear", () => {
    const r = new ReplayBuffer(1000);
    r.push(enc("old stuff"));
    r.push(enc("more\x1b[H\x1b[2Jtop -b"));
    expect(dec(r.snapshot())).toBe("\x1b[2Jtop -b");
    r.push(enc("\x1bcfresh"));
    expect(dec(r.snapshot())).toBe("\x1bcfresh");
  });

  it("copies what it keeps", () => {
    const r = new ReplayBuffer(100);
    const frame = enc("abc");
    r.push(frame);
    frame[0] = 0x7a;
    expect(dec(r.snapshot())).toBe("abc");
  });
});
