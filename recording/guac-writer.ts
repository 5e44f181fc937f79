// Guacamole recording writer (pure): turns a desktop session's DATA frames into a `.guac` file, the
// server-to-client instruction stream that guacamole-common-js's Guacamole.SessionRecording plays and
// guacenc converts. Frame timing comes from `sync` instructions, rewritten to ms since the start.
//
// What is written, per recorder call (each call's text is whole instructions, so a chunk cut between
// two calls is always cut at an instruction boundary):
//   header  `4.sync,1.0;`                 an empty frame at t=0: the timeline starts with the session
//   output  the bridge's instructions     as they are, except `sync`: its timestamp becomes the recorder's
//                                         clock (ms since the start), so every frame has a time the
//                                         player can use and frames never go back in time
//   input   `key,keysym,pressed,t`        only when policy records input: the browser's `key` and
//           `mouse,x,y,mask,t`            `mouse`, with a timestamp appended, as guacd records them
//   marker  `10.psm-marker,L.label;`      the session event (connected, warnings, extension, the end),
//           `4.sync,N.t;`                 then an empty frame at its time: the protocol has no marker, so
//                                         it is an instruction of ours that players and guacenc skip
//                                         (unknown opcodes are ignored); the replay page lists it, and
//                                         the timeline runs to the session's end, not to its last change
//   finish  `4.sync,N.t;`                 closes the last frame (the player drops instructions after
//                                         the last `sync`)
// Resizes are not written: a desktop's size travels in its own `size` instructions. The manifest
// carries the end reason.
//
// The player measures frames in UTF-16 units but slices its Blob in bytes, so a non-ASCII character
// would shift every frame after it; no instruction we record carries one (images and clipboard
// travel as base64), and any instruction that does is dropped rather than written.
import {
  classifyBrowserInstruction,
  encodeInstruction,
  type GuacInstruction,
  GuacParser,
  MARKER_OPCODE,
} from "../protocol/guacamole.ts";

/** Instructions from the connector a recording keeps: what draws the desktop and its frame timing. */
const RECORDED_OUTPUT = new Set(["size", "img", "blob", "end", "sync", "cursor", "clipboard"]);
/** Browser input a recording keeps when policy records input. */
const RECORDED_INPUT = new Set(["key", "mouse"]);

const ASCII = /^[\x20-\x7e]*$/;

const isAscii = (ins: GuacInstruction) => ASCII.test(ins.opcode) && ins.args.every((a) => ASCII.test(a));

export class GuacWriter {
  /** One parser and decoder per direction: each stream may be split anywhere. */
  private readonly streams = {
    output: { parser: new GuacParser(), decoder: new TextDecoder() },
    input: { parser: new GuacParser(), decoder: new TextDecoder() },
  };
  /** ms since the start of the latest instruction written. */
  private last: number;
  /** Instructions not written (non-ASCII, or a stream that could not be parsed); for logs and tests. */
  dropped = 0;

  constructor(
    private readonly startedAt: number,
    /** Policy's "record keystrokes": record the browser's keys and mouse. */
    private readonly recordInput: boolean,
    last = 0,
  ) {
    this.last = last;
  }

  /** Where a writer rebuilt after hibernation must resume, so times stay in order. */
  get lastMs(): number {
    return this.last;
  }

  /** The first frame, empty, at t=0 (width and height are a terminal's; a desktop sends its own `size`). */
  header(_width?: number, _height?: number): string {
    return encodeInstruction("sync", 0);
  }

  output(bytes: Uint8Array, now: number): string[] {
    const instructions = this.parse("output", bytes);
    let out = "";
    for (const ins of instructions) {
      if (!RECORDED_OUTPUT.has(ins.opcode)) continue;
      if (ins.opcode === "sync") out += encodeInstruction("sync", this.at(now));
      else if (isAscii(ins)) out += encodeInstruction(ins.opcode, ...ins.args);
      else this.dropped++;
    }
    return out ? [out] : [];
  }

  input(bytes: Uint8Array, now: number): string[] {
    if (!this.recordInput) return [];
    const instructions = this.parse("input", bytes);
    let out = "";
    for (const ins of instructions) {
      if (!RECORDED_INPUT.has(ins.opcode) || classifyBrowserInstruction(ins) !== "forward") continue;
      // The connector ends a session whose browser sends a malformed key or mouse; never recorded.
      out += encodeInstruction(ins.opcode, ...ins.args.slice(0, 3), this.at(now));
    }
    return out ? [out] : [];
  }

  resize(_cols: number, _rows: number, _now: number): string[] {
    return [];
  }

  marker(label: string, now: number): string[] {
    const at = encodeInstruction("sync", this.at(now));
    return ASCII.test(label) ? [encodeInstruction(MARKER_OPCODE, label) + at] : [at];
  }

  /** A last `sync`, so whatever followed the last frame (a cursor, input) is played too. */
  finish(): string[] {
    return [encodeInstruction("sync", this.last)];
  }

  /** Complete instructions in `bytes` (a stream split anywhere); a broken stream starts over, dropped. */
  private parse(direction: "output" | "input", bytes: Uint8Array): GuacInstruction[] {
    const stream = this.streams[direction];
    try {
      return stream.parser.push(stream.decoder.decode(bytes, { stream: true }));
    } catch {
      // Start over: the connector's next DATA frame begins at an instruction boundary again.
      this.dropped++;
      this.streams[direction] = { parser: new GuacParser(), decoder: new TextDecoder() };
      return [];
    }
  }

  private at(now: number): number {
    this.last = Math.max(this.last, Math.round(now - this.startedAt));
    return this.last;
  }
}
