// The asciicast writer against the v2 spec (a strict reader written from the spec's text), and
// the echo gate that keeps blind-typed input (passwords) out of recordings.
import { describe, expect, it } from "vitest";
import { CastWriter, EchoGate, LineBuffer } from "./asciicast.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** Parses a .cast by the v2 spec; throws on anything the spec does not allow. */
function parseCastV2(text: string) {
  if (!text.endsWith("\n")) throw new Error("every line ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  const header = JSON.parse(lines[0]!);
  if (typeof header !== "object" || Array.isArray(header)) throw new Error("header is an object");
  if (header.version !== 2) throw new Error("version must be 2");
  for (const k of ["width", "height"]) if (!Number.isInteger(header[k]) || header[k] <= 0) throw new Error(`${k}`);
  if ("timestamp" in header && !Number.isInteger(header.timestamp)) throw new Error("timestamp is an integer");
  if ("env" in header)
    for (const v of Object.values(header.env)) if (typeof v !== "string") throw new Error("env values are strings");
  let last = 0;
  const events = lines.slice(1).map((line) => {
    const e = JSON.parse(line);
    if (!Array.isArray(e) || e.length !== 3) throw new Error("event is [time, code, data]");
    const [t, code, data] = e;
    if (typeof t !== "number" || t < 0 || !Number.isFinite(t)) throw new Error("time is a non-negative number");
    if (t < last) throw new Error(`time goes backwards at ${line}`);
    last = t;
    if (!["o", "i", "m", "r"].includes(code)) throw new Error(`unknown code ${code}`);
    if (typeof data !== "string") throw new Error("data is a string");
    if (code === "r" && !/^\d+x\d+$/.test(data)) throw new Error("resize data is COLSxROWS");
    return e as [number, string, string];
  });
  return { header, events };
}

describe("CastWriter", () => {
  it("writes a v2 header and events the spec accepts, times in seconds since the start", () => {
    const start = 1_800_000_000_123;
    const w = new CastWriter(start, true);
    const lines = [
      w.header(120, 40),
      ...w.marker("start", start),
      ...w.output(enc("root@db1:~# "), start + 250),
      ...w.input(enc("l"), start + 1000),
      ...w.output(enc("l"), start + 1001),
      ...w.input(enc("s\r"), start + 1100),
      ...w.output(enc('s\r\n"quoted" \\ \u001b[1mbold\u001b[0m \u00e9\r\n'), start + 1120),
      ...w.resize(100, 30, start + 2000),
      ...w.output(enc("x"), start + 1500), // a clock step back is clamped
      ...w.marker("end: user_exit", start + 3000),
    ];
    const { header, events } = parseCastV2(lines.join(""));
    expect(header).toMatchObject({ version: 2, width: 120, height: 40, timestamp: 1_800_000_000 });
    expect(events).toEqual([
      [0, "m", "start"],
      [0.25, "o", "root@db1:~# "],
      [1.001, "i", "l"],
      [1.001, "o", "l"],
      [1.12, "i", "s\r"],
      [1.12, "o", 's\r\n"quoted" \\ \u001b[1mbold\u001b[0m \u00e9\r\n'],
      [2, "r", "100x30"],
      [2, "o", "x"],
      [3, "m", "end: user_exit"],
    ]);
  });

  it("keeps a UTF-8 character split across frames whole", () => {
    const w = new CastWriter(0, false);
    const e = enc("\u00e9\u4e2d");
    const lines = [...w.output(e.subarray(0, 1), 1), ...w.output(e.subarray(1, 4), 2), ...w.output(e.subarray(4), 3)];
    const text = lines.map((l) => JSON.parse(l)[2]).join("");
    expect(text).toBe("\u00e9\u4e2d");
  });

  it("records no input at all when policy does not ask for keystrokes", () => {
    const w = new CastWriter(0, false);
    expect(w.input(enc("ls\r"), 10)).toEqual([]);
    expect(w.output(enc("ls\r\n"), 20).map((l) => JSON.parse(l)[1])).toEqual(["o"]);
  });
});

describe("EchoGate", () => {
  const CANARY = "canary-Pw-7f3a9e";

  it("redacts a password typed at a prompt that does not echo, keeping Enter", () => {
    const w = new CastWriter(0, true);
    const lines = [
      ...w.output(enc("[sudo] password for admin: "), 10),
      ...[...CANARY].flatMap((ch, i) => w.input(enc(ch), 20 + i)),
      ...w.input(enc("\r"), 50),
      ...w.output(enc("\r\n"), 60),
      ...w.output(enc("root# "), 70),
    ].join("");
    expect(lines).not.toContain(CANARY);
    expect(lines).not.toContain("canary");
    expect(parseCastV2(`${w.header(80, 24)}${lines}`).events.filter((e) => e[1] === "i")).toEqual([[0.06, "i", "\r"]]);
  });

  it("records pasted text once the terminal echoes it, and blind text at the end is redacted", () => {
    const g = new EchoGate();
    expect(g.typed("ls -la\r", 1)).toEqual([]);
    expect(g.shown("ls -la\r\ntotal 0\r\n")).toEqual([[0.001, "i", "ls -la\r"]]);
    expect(g.typed("\u001b[A", 2)).toEqual([[0.002, "i", "\u001b[A"]]);
    g.typed(CANARY, 3);
    expect(JSON.stringify(g.flush())).not.toContain("canary");
  });

  it("records a command whose echo comes back in two pieces; blind text followed by unrelated output stays redacted", () => {
    const g = new EchoGate();
    g.typed("echo rec-marker-$((6*7))\r", 1);
    expect(g.shown("echo rec-marker-$((6")).toEqual([]);
    expect(g.shown("*7))\r\n\u001b[?2004l\rrec-marker-42\r\n")).toEqual([[0.001, "i", "echo rec-marker-$((6*7))\r"]]);
    g.typed(`${CANARY}\r`, 2);
    expect(JSON.stringify(g.shown("c"))).not.toContain("canary"); // "c" could start an echo: held
    expect(JSON.stringify(g.shown("\r\nSorry, try again.\r\n"))).not.toContain("canary");
    expect(g.flush()).toEqual([]);
  });

  it("bounds what it holds: a long blind paste is redacted, not kept", () => {
    const g = new EchoGate();
    const out = g.typed("x".repeat(EchoGate.MAX_HELD_CHARS + 1), 5);
    expect(out).toEqual([]);
    expect(g.flush()).toEqual([]);
  });
});

describe("CastWriter.outputTo (lines written from the bytes)", () => {
  /** The lines TextDecoder (streaming, not fatal) and JSON.stringify make of the same frames. */
  function reference(frames: Uint8Array[], _start: number) {
    const decoder = new TextDecoder("utf-8", { fatal: false });
    const lines: string[] = [];
    frames.forEach((frame, i) => {
      const text = decoder.decode(frame, { stream: true });
      if (text) lines.push(`${JSON.stringify([(i * 37) / 1000, "o", text])}\n`);
    });
    return lines.join("");
  }

  /** Random bytes heavy in UTF-8 edge cases: leads, continuations, surrogates, overlongs, a BOM, escapes. */
  function randomStream(seed: number, length: number): Uint8Array {
    let s = seed;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    const pieces = [
      [0xef, 0xbb, 0xbf],
      [0xc3, 0xa9],
      [0xe6, 0x97, 0xa5],
      [0xf0, 0x9f, 0x98, 0x80],
      [0xed, 0xa0, 0x80],
      [0xe0, 0x80],
      [0xf4, 0x90],
      [0xc0],
      [0xff],
      [0x80],
      [0x22, 0x5c, 0x7f],
    ];
    const out: number[] = [];
    if (seed % 2) out.push(0xef, 0xbb, 0xbf);
    while (out.length < length) {
      const r = rand();
      if (r < 0.4) out.push(...pieces[Math.floor(rand() * pieces.length)]!);
      else if (r < 0.6) out.push(Math.floor(rand() * 256));
      else if (r < 0.7) out.push(Math.floor(rand() * 32));
      else out.push(...enc("ok x".repeat(1 + Math.floor(rand() * 40))));
    }
    return Uint8Array.from(out);
  }

  it("writes exactly what JSON.stringify of TextDecoder's text writes, for any bytes cut anywhere", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const bytes = randomStream(seed, 50 + seed * 7);
      // Frames from 1 byte up, so characters and a leading BOM are split every way.
      const frames: Uint8Array[] = [];
      for (let at = 0, k = seed; at < bytes.length; k++) {
        const size = 1 + ((k * 7919) % (seed % 3 === 0 ? 5 : 200));
        frames.push(bytes.subarray(at, at + size));
        at += size;
      }
      const w = new CastWriter(0, false);
      const out = new LineBuffer(16);
      for (const [i, frame] of frames.entries()) w.outputTo(frame, i * 37, out);
      const written = new TextDecoder().decode(out.bytes.subarray(0, out.byteLength));
      const expected = reference(frames, 0);
      expect(written).toBe(expected);
      // The chunk bound counts UTF-16 units, as `string.length` does; one line per non-empty frame.
      expect(out.units).toBe(expected.length);
      expect(out.lines).toBe(expected.split("\n").length - 1);
    }
  });

  it("gives the gate the output text while typed text waits for its echo", () => {
    const w = new CastWriter(0, true);
    const out = new LineBuffer();
    const write = (lines: string[]) => {
      for (const line of lines) out.line(line);
    };
    write(w.input(enc("ls"), 5));
    w.outputTo(enc("ls"), 10, out);
    write(w.input(enc("secret"), 15));
    w.outputTo(enc("\r\nPassword: "), 20, out);
    w.outputTo(enc("\u00e9"), 30, out);
    const events = new TextDecoder()
      .decode(out.bytes.subarray(0, out.byteLength))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events).toEqual([
      [0.01, "i", "ls"],
      [0.01, "o", "ls"],
      [0.02, "o", "\r\nPassword: "],
      [0.03, "o", "\u00e9"],
    ]);
  });

  it("hands out the text before a mark and keeps the rest, in a spare buffer when one is given, else a small one", () => {
    const w = new CastWriter(0, false);
    const out = new LineBuffer(8);
    w.outputTo(enc("caf\u00e9"), 1000, out);
    const mark = { byteLength: out.byteLength, units: out.units, lines: out.lines };
    w.outputTo(enc("\u{1f600}\n"), 2000, out);
    const spare = new Uint8Array(4096);
    const taken = new TextDecoder().decode(out.take(mark, spare));
    expect(taken).toBe(`${JSON.stringify([1, "o", "caf\u00e9"])}\n`);
    const rest = `${JSON.stringify([2, "o", "\u{1f600}\n"])}\n`;
    expect(out.bytes).toBe(spare);
    expect(new TextDecoder().decode(out.bytes.subarray(0, out.byteLength))).toBe(rest);
    expect([out.units, out.lines]).toEqual([rest.length, 1]);
    // A spare too small for what is kept is not used.
    out.take(undefined, new Uint8Array(1));
    expect(out.bytes).not.toBe(spare);
    expect([out.byteLength, out.units, out.lines]).toEqual([0, 0, 0]);
    // Without one (a chunk cut by time: an interactive session), the next buffer is as small as the first was,
    // whatever a bulk stream grew this one to.
    w.outputTo(new Uint8Array(100).fill(0x78), 3000, out);
    expect(out.bytes.length).toBeGreaterThan(100);
    out.take();
    expect(out.bytes.length).toBe(8);
  });
});
