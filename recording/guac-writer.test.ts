// The Guacamole recording writer: what it keeps of a desktop's stream, the frame timing it writes,
// input per policy, and that the text is framed the way guacamole-common-js's SessionRecording reads
// it (frames end at `sync`, offsets counted in characters and sliced in bytes).
import { describe, expect, it } from "vitest";
import { encodeInstruction as ins, GuacParser } from "../protocol/guacamole.ts";
import { recordingWriter } from "./formats.ts";
import { GuacWriter } from "./guac-writer.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const START = 1_800_000_000_000;

/**
 * Reads a .guac as Guacamole.SessionRecording 1.5.0 does: frames end at each `sync`, whose first
 * argument is the frame's time; a frame's start and end are counted in characters (the library's
 * getElementSize) and later sliced from a Blob in bytes, so the two must agree.
 */
function readGuac(text: string) {
  const instructions = new GuacParser(1 << 20).push(text);
  const bytes = enc(text);
  const frames: { t: number; start: number; end: number; ops: string[] }[] = [];
  let start = 0;
  let end = 0;
  let ops: string[] = [];
  const size = (v: string) => v.length + 2 + String(v.length).length;
  for (const { opcode, args } of instructions) {
    end += size(opcode) + args.reduce((n, a) => n + size(a), 0);
    ops.push(opcode);
    if (opcode === "sync") {
      frames.push({ t: Number.parseInt(args[0]!, 10), start, end, ops });
      start = end;
      ops = [];
    }
  }
  // Character offsets must be byte offsets, or every frame after a mismatch would be cut wrong.
  expect(end).toBe(bytes.byteLength);
  expect(ops, "nothing after the last sync").toEqual([]);
  for (let i = 1; i < frames.length; i++) expect(frames[i]!.t).toBeGreaterThanOrEqual(frames[i - 1]!.t);
  return { instructions, frames };
}

const frame = (...parts: string[]) => enc(parts.join(""));

describe("GuacWriter", () => {
  it("keeps the drawing, rewrites each sync to ms since the start, and starts and ends on a frame", () => {
    const w = new GuacWriter(START, false);
    const out = [
      w.header(80, 24),
      ...w.output(frame(ins("size", 0, 1024, 768), ins("img", 1, 14, 0, "image/png", 0, 0)), START + 1200),
      ...w.output(frame(ins("blob", 1, "iVBORw0KGgo="), ins("end", 1), ins("sync", 123456789)), START + 1250),
      ...w.output(frame(ins("cursor", 0, 0, -1, 0, 0, 12, 12), ins("sync", 123456805)), START + 1300),
      ...w.finish(),
    ].join("");
    const { frames, instructions } = readGuac(out);
    expect(frames.map((f) => f.t)).toEqual([0, 1250, 1300, 1300]);
    expect(frames[1]!.ops).toEqual(["size", "img", "blob", "end", "sync"]);
    expect(instructions.find((i) => i.opcode === "blob")!.args).toEqual(["1", "iVBORw0KGgo="]);
    expect(w.lastMs).toBe(1300);
  });

  it("drops what the bridge may say but a recording must not hold (errors, readiness, anything unknown)", () => {
    const w = new GuacWriter(START, false);
    const out = w.output(frame(ins("ready"), ins("error", "auth_failed"), ins("nest", 0, "x"), ins("sync", 1)), START);
    expect(new GuacParser().push(out.join("")).map((i) => i.opcode)).toEqual(["sync"]);
  });

  it("reassembles instructions split anywhere across frames, and writes each call's text whole", () => {
    const stream = ins("size", 0, 640, 480) + ins("img", 2, 14, 0, "image/jpeg", 5, 6) + ins("sync", 99);
    const w = new GuacWriter(START, false);
    const lines: string[] = [w.header(0, 0)];
    for (let at = 0; at < stream.length; at += 7) lines.push(...w.output(enc(stream.slice(at, at + 7)), START + at));
    lines.push(...w.finish());
    // A chunk may be cut between any two lines: each line parses on its own, with nothing left over.
    for (const line of lines) {
      const parser = new GuacParser();
      expect(parser.push(line).length).toBeGreaterThan(0);
      expect(parser.pending).toBe(0);
    }
    expect(readGuac(lines.join("")).frames[1]!.ops).toEqual(["size", "img", "sync"]);
  });

  it("never lets time go backwards (a clock stepped back is clamped)", () => {
    const w = new GuacWriter(START, false);
    const a = w.output(frame(ins("sync", 5)), START + 2000);
    const b = w.output(frame(ins("sync", 6)), START + 1000);
    expect(readGuac([w.header(0, 0), ...a, ...b].join("")).frames.map((f) => f.t)).toEqual([0, 2000, 2000]);
  });

  it("marks session events by name and with an empty frame at their time, so the timeline runs to the end", () => {
    const w = new GuacWriter(START, false);
    const out = [
      w.header(0, 0),
      ...w.marker("start", START),
      ...w.output(frame(ins("size", 0, 8, 8), ins("sync", 7)), START + 900),
      ...w.finish(),
      ...w.marker("end: killed", START + 30_000),
    ].join("");
    expect(readGuac(out).frames.map((f) => f.t)).toEqual([0, 0, 900, 900, 30_000]);
    // Each event is named right before its frame (the replay page lists them; players skip the opcode).
    expect(out).toContain("10.psm-marker,5.start;4.sync,1.0;");
    expect(out).toContain("10.psm-marker,11.end: killed;4.sync,5.30000;");
    // A label that could shift the player's frame offsets is left out; the frame stays.
    expect(w.marker("warning: über", START + 31_000)).toEqual(["4.sync,5.31000;"]);
    expect(w.resize(100, 30, START + 31_000)).toEqual([]);
  });

  it("records no input when policy does not record keystrokes", () => {
    const w = new GuacWriter(START, false);
    expect(w.input(enc(ins("key", 97, 1) + ins("mouse", 10, 20, 1)), START + 5)).toEqual([]);
  });

  it("records keys and mouse with a timestamp, as guacd does, when policy records input; nothing else", () => {
    const w = new GuacWriter(START, true);
    const typed = ins("key", 65507, 1) + ins("key", 99, 1) + ins("mouse", 10, 20, 1) + ins("size", 800, 600);
    const clipboard = ins("clipboard", 3, "text/plain") + ins("blob", 3, "c2VjcmV0") + ins("end", 3);
    const out = [...w.input(enc(typed), START + 40), ...w.input(enc(clipboard), START + 41), ...w.finish()].join("");
    const { instructions } = readGuac(out);
    expect(instructions.map((i) => [i.opcode, ...i.args])).toEqual([
      ["key", "65507", "1", "40"],
      ["key", "99", "1", "40"],
      ["mouse", "10", "20", "1", "40"],
      ["sync", "40"],
    ]);
  });

  it("skips malformed input and keeps recording what follows", () => {
    const w = new GuacWriter(START, true);
    expect(w.input(enc("3.key,2.99,1.1,;;;garbage"), START)).toEqual([]);
    expect(w.input(enc(ins("key", 98, 0)), START + 1).join("")).toBe(ins("key", 98, 0, 1));
    expect(w.dropped).toBe(1);
  });

  it("drops an instruction carrying non-ASCII text (it would shift the player's frame offsets)", () => {
    const w = new GuacWriter(START, false);
    const out = w.output(frame(ins("clipboard", 1, "text/plaın"), ins("sync", 1)), START + 3);
    expect(out.join("")).toBe(ins("sync", 3));
    expect(w.dropped).toBe(1);
  });

  it("is the writer the recorder picks for the guacamole format", () => {
    expect(recordingWriter("guacamole", START, false)).toBeInstanceOf(GuacWriter);
    expect(recordingWriter("asciicast-v2", START, false)).not.toBeInstanceOf(GuacWriter);
  });
});
