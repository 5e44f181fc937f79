import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  encodeCredit,
  encodeData,
  encodeDataChunks,
  encodeFileCredit,
  encodeFileData,
  FrameError,
  MAX_FILE_PAYLOAD,
} from "./frames.ts";
import { MAX_DATA_PAYLOAD } from "./limits.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("binary frames", () => {
  it("encodes DATA as kind 0x01 then the raw bytes (golden)", () => {
    expect(hex(encodeData(new TextEncoder().encode("ls\r")))).toBe("01" + "6c730d");
  });

  it("encodes CREDIT as kind 0x02 then a big-endian uint32 (golden)", () => {
    expect(hex(encodeCredit(65536))).toBe("0200010000");
    expect(hex(encodeCredit(0xdeadbeef))).toBe("02deadbeef");
  });

  it("round-trips both kinds", () => {
    expect(decodeFrame(new Uint8Array([0x01, 0x68, 0x69, 0x21]))).toEqual({
      kind: "data",
      payload: new Uint8Array([0x68, 0x69, 0x21]),
    });
    expect(decodeFrame(Buffer.from("0200000040", "hex"))).toEqual({ kind: "credit", bytes: 64 });
  });

  it("decodes from an ArrayBuffer and from a view with an offset", () => {
    const backing = Buffer.from("ff0200000007", "hex");
    expect(decodeFrame(backing.subarray(1))).toEqual({ kind: "credit", bytes: 7 });
    expect(decodeFrame(new Uint8Array([1, 65]).buffer)).toEqual({ kind: "data", payload: new Uint8Array([65]) });
  });

  it.each([
    ["empty", ""],
    ["unknown kind", "07aa"],
    ["empty data", "01"],
    ["short credit", "02000001"],
    ["long credit", "020000000100"],
    ["zero credit", "0200000000"],
  ])("refuses a malformed frame: %s", (_name, input) => {
    expect(() => decodeFrame(Buffer.from(input, "hex"))).toThrow(FrameError);
  });

  it("refuses an oversized data frame and never encodes one", () => {
    expect(() => decodeFrame(new Uint8Array(MAX_DATA_PAYLOAD + 2).fill(1))).toThrow(FrameError);
    expect(() => encodeData(new Uint8Array(MAX_DATA_PAYLOAD + 1))).toThrow(FrameError);
    expect(() => encodeCredit(0)).toThrow(FrameError);
  });

  it("splits large writes into frames within the limit, losing nothing", () => {
    const bytes = new Uint8Array(MAX_DATA_PAYLOAD * 2 + 10).map((_, i) => i % 251);
    const frames = [...encodeDataChunks(bytes)];
    expect(frames.map((f) => f.byteLength)).toEqual([MAX_DATA_PAYLOAD + 1, MAX_DATA_PAYLOAD + 1, 11]);
    const joined = Buffer.concat(frames.map((f) => (decodeFrame(f) as { payload: Uint8Array }).payload));
    expect(joined.equals(Buffer.from(bytes))).toBe(true);
  });

  it("round-trips file frames with their transfer id and refuses malformed ones", () => {
    const payload = new Uint8Array(MAX_FILE_PAYLOAD).map((_, i) => i % 253);
    expect(decodeFrame(encodeFileData(0xffff_fffe, payload))).toEqual({ kind: "file_data", id: 0xffff_fffe, payload });
    expect(encodeFileData(1, payload).byteLength).toBe(MAX_DATA_PAYLOAD + 1);
    expect(decodeFrame(encodeFileCredit(7, 65536))).toEqual({ kind: "file_credit", id: 7, bytes: 65536 });
    for (const hex of ["0300000001", "0300000000aa", "04000000010000", "040000000000000001", "040000000100000000"])
      expect(() => decodeFrame(Buffer.from(hex, "hex")), hex).toThrow(FrameError);
    expect(() => decodeFrame(new Uint8Array(MAX_DATA_PAYLOAD + 2).fill(3))).toThrow(FrameError);
    expect(() => encodeFileData(1, new Uint8Array(MAX_FILE_PAYLOAD + 1))).toThrow(FrameError);
    expect(() => encodeFileData(0, payload)).toThrow(FrameError);
    expect(() => encodeFileCredit(1, 0)).toThrow(FrameError);
  });
});
