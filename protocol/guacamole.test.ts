// The Guacamole framing: round trips, arbitrary splits (inside UTF-8 too), limits, and what a
// browser may send to the RDP engine.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  classifyBrowserInstruction,
  encodeInstruction,
  GuacError,
  GuacParser,
  MAX_GUAC_INSTRUCTION,
} from "./guacamole.ts";

describe("Guacamole instructions", () => {
  it("encodes lengths in code points", () => {
    expect(encodeInstruction("size", 0, 1024, 768)).toBe("4.size,1.0,4.1024,3.768;");
    expect(encodeInstruction("clipboard", "é😀")).toBe("9.clipboard,2.é😀;");
    expect(encodeInstruction("disconnect")).toBe("10.disconnect;");
  });

  it("parses what it encodes, whatever the split", () => {
    const element = fc.string({ unit: "grapheme", maxLength: 20 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.array(element, { maxLength: 5 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (instructions, cuts) => {
          const bytes = new TextEncoder().encode(
            instructions.map(([op, args]) => encodeInstruction(op, ...args)).join(""),
          );
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const parser = new GuacParser();
          const decoder = new TextDecoder();
          const out = [];
          let from = 0;
          for (const at of [...points, bytes.length]) {
            out.push(...parser.push(decoder.decode(bytes.subarray(from, at), { stream: true })));
            from = at;
          }
          expect(out).toEqual(instructions.map(([opcode, args]) => ({ opcode, args })));
          expect(parser.pending).toBe(0);
        },
      ),
    );
  });

  it("rejects malformed framing", () => {
    expect(() => new GuacParser().push("4.size,x.0;")).toThrow(GuacError);
    expect(() => new GuacParser().push("4.sizeX1.0;")).toThrow(GuacError);
    expect(() => new GuacParser().push("123456789012")).toThrow(GuacError);
  });

  it("bounds a single instruction", () => {
    const parser = new GuacParser();
    const big = `4.blob,1.1,${MAX_GUAC_INSTRUCTION + 10}.`;
    expect(() => parser.push(big + "A".repeat(MAX_GUAC_INSTRUCTION + 20))).toThrow(/too large/);
    const ok = new GuacParser();
    expect(ok.push(`${big}${"A".repeat(100)}`)).toEqual([]);
  });

  it("lets a browser send input, not engine commands", () => {
    const v = (opcode: string, ...args: string[]) => classifyBrowserInstruction({ opcode, args });
    expect(v("key", "65", "1")).toBe("forward");
    expect(v("key", "65", "2")).toBe("reject");
    expect(v("mouse", "10", "20", "1")).toBe("forward");
    expect(v("mouse", "x", "20", "1")).toBe("reject");
    expect(v("size", "1280", "720")).toBe("forward");
    expect(v("sync", "123")).toBe("drop");
    expect(v("clipboard", "3", "text/plain")).toBe("forward");
    expect(v("blob", "3", "aGVsbG8=")).toBe("forward");
    expect(v("blob", "3", "not base64!")).toBe("reject");
    // A blob is whole base64 of at least one byte: empty or ragged ones never reach the bridge.
    expect(v("blob", "0", "")).toBe("reject");
    expect(v("blob", "0", "aGk")).toBe("reject");
    expect(v("blob", "0", "aG=v")).toBe("reject");
    expect(v("blob", "0", "====")).toBe("reject");
    expect(v("blob", "0", "aGk=aGk=")).toBe("reject");
    expect(v("blob", "0", "IHRoZXJl")).toBe("forward");
    expect(v("blob", "0", "IQ==")).toBe("forward");
    expect(v("ack", "1", "OK", "0")).toBe("drop");
    expect(v("nop")).toBe("drop");
    // The engine's own instructions never come from a browser.
    expect(v("connect", "host")).toBe("reject");
    expect(v("refresh")).toBe("reject");
    expect(v("img", "1", "12", "0", "image/png", "0", "0")).toBe("reject");
  });
});
