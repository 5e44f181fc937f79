// The pointer relay for desktop viewers: the latest position of the user's mouse, nothing else.
import { describe, expect, it } from "vitest";
import { encodeInstruction as ins } from "../protocol/guacamole.ts";
import { PointerRelay } from "./desktop-pointer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : null);

describe("PointerRelay", () => {
  it("passes on the latest position only, without buttons or keys", () => {
    const relay = new PointerRelay();
    expect(dec(relay.push(enc(ins("mouse", 10, 20, 1) + ins("key", 97, 1) + ins("mouse", 30, 40, 0))))).toBe(
      ins("mouse", 30, 40),
    );
    expect(relay.push(enc(ins("key", 97, 0)))).toBeNull();
  });

  it("reassembles split input and survives malformed input", () => {
    const relay = new PointerRelay();
    const text = ins("mouse", 5, 6, 0);
    expect(relay.push(enc(text.slice(0, 7)))).toBeNull();
    expect(dec(relay.push(enc(text.slice(7))))).toBe(ins("mouse", 5, 6));
    expect(relay.push(enc("x.mouse;"))).toBeNull();
    expect(dec(relay.push(enc(ins("mouse", 1, 2, 0))))).toBe(ins("mouse", 1, 2));
    expect(relay.push(enc(ins("mouse", -1, 2, 0)))).toBeNull();
  });
});
