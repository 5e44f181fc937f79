// The Guacamole protocol as it travels inside DATA frames of RDP sessions: instruction framing
// (a pure, bounded, incremental parser and an encoder) and the rules for what a browser may send.
//
// An instruction is a list of elements, each LENGTH "." VALUE, separated by "," and ended by ";".
// The first element is the opcode. LENGTH counts Unicode code points of VALUE (not bytes):
//
//   4.size,1.0,4.1024,3.768;      -> opcode "size", args ["0", "1024", "768"]
//
// DATA frames split the stream anywhere (even inside a UTF-8 sequence); the parser reassembles it.

export type GuacInstruction = { opcode: string; args: string[] };

/** Largest single instruction accepted: 64 KiB (images travel as 6 KiB blobs). */
export const MAX_GUAC_INSTRUCTION = 64 * 1024;
/** Most elements per instruction (opcode included); `connect` to the bridge has the most (14). */
export const MAX_GUAC_ELEMENTS = 32;

export class GuacError extends Error {
  override name = "GuacError";
}

/** Code points in a string (what LENGTH counts). */
function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

export function encodeInstruction(opcode: string, ...args: Array<string | number>): string {
  let out = `${codePoints(opcode)}.${opcode}`;
  for (const arg of args) {
    const value = String(arg);
    out += `,${codePoints(value)}.${value}`;
  }
  return `${out};`;
}

/**
 * Incremental parser. `push` takes text (decode bytes with a streaming TextDecoder first) and returns
 * the complete instructions; the rest waits. Throws GuacError on malformed input or on an instruction
 * larger than the limit, after which the stream cannot be trusted.
 */
export class GuacParser {
  private buffer = "";
  /** Where the instruction being parsed starts in `buffer`. */
  private start = 0;
  private elements: string[] = [];
  /** Where the next element starts. */
  private at = 0;

  constructor(private readonly maxInstruction = MAX_GUAC_INSTRUCTION) {}

  push(text: string): GuacInstruction[] {
    this.buffer = this.buffer.slice(this.start) + text;
    this.at -= this.start;
    this.start = 0;
    const out: GuacInstruction[] = [];
    for (;;) {
      const dot = this.buffer.indexOf(".", this.at);
      if (dot < 0) {
        if (this.buffer.length - this.at > 8) throw new GuacError("element length too long");
        break;
      }
      const lengthText = this.buffer.slice(this.at, dot);
      if (!/^\d{1,7}$/.test(lengthText)) throw new GuacError("bad element length");
      const length = Number(lengthText);
      // Walk `length` code points from dot + 1.
      let end = dot + 1;
      let seen = 0;
      while (seen < length && end < this.buffer.length) {
        const c = this.buffer.charCodeAt(end);
        end += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
        seen++;
      }
      if (seen < length || end >= this.buffer.length) {
        if (this.buffer.length - this.start > this.maxInstruction) throw new GuacError("instruction too large");
        break;
      }
      if (end + 1 - this.start > this.maxInstruction) throw new GuacError("instruction too large");
      const terminator = this.buffer[end];
      if (terminator !== "," && terminator !== ";") throw new GuacError("bad element terminator");
      this.elements.push(this.buffer.slice(dot + 1, end));
      if (this.elements.length > MAX_GUAC_ELEMENTS) throw new GuacError("too many elements");
      this.at = end + 1;
      if (terminator === ";") {
        const [opcode, ...args] = this.elements;
        out.push({ opcode: opcode!, args });
        this.elements = [];
        this.start = this.at;
      }
    }
    return out;
  }

  /** Characters held for an incomplete instruction. */
  get pending(): number {
    return this.buffer.length - this.start;
  }
}

const int = /^-?\d{1,10}$/;
const streamIndex = /^\d{1,4}$/;
/**
 * One blob's data: standard base64 of at least one byte, "=" only as the last one or two characters
 * (guacamole-common-js encodes each blob's bytes on their own, so each blob is whole base64). An empty
 * blob once made the bridge free its paste buffer twice; neither layer lets one through now.
 */
const base64Blob = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$/;

/** What a browser may send to the RDP engine, with the shape of each instruction's arguments. */
const BROWSER_INSTRUCTIONS: Record<string, (args: string[]) => boolean> = {
  key: (a) => a.length === 2 && int.test(a[0]!) && (a[1] === "0" || a[1] === "1"),
  mouse: (a) => a.length >= 3 && a.length <= 4 && a.every((v) => int.test(v)),
  size: (a) => a.length >= 2 && a.length <= 3 && a.every((v) => int.test(v)),
  clipboard: (a) => a.length === 2 && streamIndex.test(a[0]!) && a[1]!.length <= 64,
  blob: (a) => a.length === 2 && streamIndex.test(a[0]!) && base64Blob.test(a[1]!),
  end: (a) => a.length === 1 && streamIndex.test(a[0]!),
  disconnect: (a) => a.length === 0,
};

/**
 * Instructions the client library sends that the engine has no use for; dropped, not an error.
 * `sync` replies among them: the connector acknowledges frames itself as the browser's output credit
 * allows (see connector/rdp/rdp-stream.ts), so a changing screen never counts as user input.
 */
const BROWSER_IGNORED = new Set(["ack", "nop", "ping", "sync", ""]);

/** "forward", "drop" (harmless, ignored) or "reject" (not something a browser may say). */
export function classifyBrowserInstruction(instruction: GuacInstruction): "forward" | "drop" | "reject" {
  if (BROWSER_IGNORED.has(instruction.opcode)) return "drop";
  const check = BROWSER_INSTRUCTIONS[instruction.opcode];
  if (!check) return "reject";
  return check(instruction.args) ? "forward" : "reject";
}

/**
 * A session event in a `.guac` recording (connected, warnings, the end), written right before the event's frame:
 * our opcode, as Guacamole has none for it; its players and guacenc skip instructions they do not know.
 */
export const MARKER_OPCODE = "psm-marker";
