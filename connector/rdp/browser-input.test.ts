// Browser input toward the RDP bridge: what is forwarded, dropped or refused, clipboard blobs above
// all (an empty one once made the bridge free its paste buffer twice), under any split of the bytes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeInstruction as ins } from "../../protocol/guacamole.ts";
import { BrowserInput, MAX_OPEN_PASTE_STREAMS } from "./browser-input.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const paste = (maxBytes = 65536) => new BrowserInput({ paste: true, maxBytes });
const open0 = ins("clipboard", 0, "text/plain");

describe("BrowserInput", () => {
  it("forwards input, re-encoded, and drops what the engine has no use for", () => {
    const input = paste();
    expect(input.push(bytes("3.key,5.65307,1.1;4.sync,1.0;3.nop;5.mouse,1.1,1.2,1.0;"))).toBe(
      `${ins("key", "65307", "1")}${ins("mouse", "1", "2", "0")}`,
    );
    expect(input.push(bytes("4.size,4.1024,3.768;"))).toBe(ins("size", "1024", "768"));
  });

  it("forwards a paste: stream 0 first, each blob whole base64, then its end", () => {
    const input = paste();
    const stream = `${open0}${ins("blob", 0, "aGk=")}${ins("blob", 0, "IHRoZXJl")}${ins("end", 0)}`;
    expect(input.push(bytes(stream))).toBe(stream);
  });

  it("refuses an empty blob, and the session's input ends there (the double-empty sequence)", () => {
    const empty = ins("blob", 0, "");
    expect(paste().push(bytes(`${open0}${empty}${empty}${ins("end", 0)}`))).toBeUndefined();
    const input = paste();
    expect(input.push(bytes(`${open0}${empty}`))).toBeUndefined();
    // Refused for good: nothing more of this browser reaches the bridge while the session ends.
    expect(input.push(bytes(`${empty}${ins("end", 0)}`))).toBeUndefined();
    expect(input.push(bytes(ins("key", 65, 1)))).toBeUndefined();
  });

  it("refuses malformed base64 in a blob", () => {
    for (const bad of ["aGVsbG8", "aG=v", "a===", "====", "aGk=aGk=", "aGVs!G8=", "aGk= ", "aGk=\n"]) {
      expect(paste().push(bytes(`${open0}${ins("blob", 0, bad)}`)), bad).toBeUndefined();
    }
  });

  it("refuses a blob or end for a stream the browser never opened, or already ended", () => {
    expect(paste().push(bytes(ins("blob", 3, "aGk=")))).toBeUndefined();
    expect(paste().push(bytes(ins("end", 3)))).toBeUndefined();
    expect(paste().push(bytes(`${open0}${ins("blob", 1, "aGk=")}`))).toBeUndefined();
    expect(paste().push(bytes(`${open0}${ins("end", 0)}${ins("blob", 0, "aGk=")}`))).toBeUndefined();
  });

  it("drops (does not refuse) a paste the policy forbids, and forwards none of it", () => {
    const off = new BrowserInput({ paste: false, maxBytes: 65536 });
    expect(off.push(bytes(`${open0}${ins("blob", 0, "aGk=")}${ins("end", 0)}`))).toBe("");
    const html = paste();
    expect(html.push(bytes(`${ins("clipboard", 0, "text/html")}${ins("blob", 0, "aGk=")}${ins("end", 0)}`))).toBe("");
  });

  it("caps decoded bytes: 5 fit in 5; past 4 the rest of the stream and its end stay here", () => {
    const exact = paste(5);
    const hello = `${open0}${ins("blob", 0, "aGVsbG8=")}${ins("end", 0)}`;
    expect(exact.push(bytes(hello))).toBe(hello);
    const over = paste(4);
    expect(over.push(bytes(`${open0}${ins("blob", 0, "aGk=")}${ins("blob", 0, "aGk=")}`))).toBe(
      `${open0}${ins("blob", 0, "aGk=")}${ins("blob", 0, "aGk=")}`,
    );
    expect(over.push(bytes(`${ins("blob", 0, "aGk=")}${ins("end", 0)}`))).toBe("");
  });

  it("bounds the clipboard streams open at once", () => {
    const input = paste();
    let opens = "";
    for (let i = 0; i < MAX_OPEN_PASTE_STREAMS; i++) opens += ins("clipboard", i, "text/plain");
    expect(input.push(bytes(opens))).toBe(opens);
    expect(input.push(bytes(ins("clipboard", 0, "text/plain")))).toBe(ins("clipboard", 0, "text/plain"));
    expect(input.push(bytes(ins("clipboard", 99, "text/plain")))).toBeUndefined();
  });

  it("forwards the same text whatever the split", () => {
    const stream =
      `${ins("key", 65, 1)}${open0}${ins("blob", 0, "w6kg8J+YgCDigqw=")}${ins("end", 0)}` +
      `${ins("mouse", 10, 20, 1)}${ins("clipboard", 1, "text/plain")}${ins("blob", 1, "A".repeat(8000))}${ins("end", 1)}`;
    const all = bytes(stream);
    const whole = paste().push(all);
    expect(whole).toBe(stream);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: all.length }), { maxLength: 8 }), (cuts) => {
        const input = paste();
        let out = "";
        let from = 0;
        for (const at of [...new Set(cuts)].sort((a, b) => a - b).concat(all.length)) {
          out += input.push(all.subarray(from, at)) ?? "REFUSED";
          from = at;
        }
        expect(out).toBe(whole);
      }),
    );
  });
});
