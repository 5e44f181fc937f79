// A test's view of a Guacamole display: applies `size` and `img` instructions for layer 0 to an RGBA
// framebuffer (PNG decoded with pngjs; lossy regions are marked unknown, not guessed), and acks
// every `sync` like a real client would, so the engine keeps sending frames.
import { PNG } from "pngjs";
import type { GuacInstruction } from "../../protocol/guacamole.ts";

export class GuacScreen {
  width = 0;
  height = 0;
  private rgba = new Uint8Array(0);
  private known = new Uint8Array(0);
  private readonly streams = new Map<string, { layer: string; mime: string; x: number; y: number; parts: string[] }>();
  readonly opcodes = new Map<string, number>();
  /** Texts received on `clipboard` streams (what the remote side copied), in order. */
  readonly clipboard: string[] = [];
  frames = 0;
  firstFrameAt?: number;

  constructor(private readonly ack: (instruction: string) => void) {}

  apply(ins: GuacInstruction): void {
    this.opcodes.set(ins.opcode, (this.opcodes.get(ins.opcode) ?? 0) + 1);
    const [a0, a1, a2, a3, a4, a5] = ins.args;
    switch (ins.opcode) {
      case "size":
        if (a0 === "0") {
          this.width = Number(a1);
          this.height = Number(a2);
          this.rgba = new Uint8Array(this.width * this.height * 4);
          this.known = new Uint8Array(this.width * this.height);
        }
        return;
      case "clipboard":
        this.streams.set(a0!, { layer: "clipboard", mime: a1!, x: 0, y: 0, parts: [] });
        return;
      case "img":
        this.streams.set(a0!, { layer: a2!, mime: a3!, x: Number(a4), y: Number(a5), parts: [] });
        return;
      case "blob":
        this.streams.get(a0!)?.parts.push(a1!);
        return;
      case "end": {
        const s = this.streams.get(a0!);
        this.streams.delete(a0!);
        if (s && s.layer === "0") this.paint(s);
        if (s && s.layer === "clipboard")
          this.clipboard.push(Buffer.concat(s.parts.map((p) => Buffer.from(p, "base64"))).toString("utf8"));
        return;
      }
      case "sync":
        this.frames++;
        this.firstFrameAt ??= Date.now();
        this.ack(`4.sync,${a0!.length}.${a0};`);
        return;
    }
  }

  private paint(s: { mime: string; x: number; y: number; parts: string[] }): void {
    if (s.mime !== "image/png") {
      // Lossy region: its pixels are no longer known exactly.
      return;
    }
    const png = PNG.sync.read(Buffer.from(s.parts.join(""), "base64"));
    for (let y = 0; y < png.height; y++)
      for (let x = 0; x < png.width; x++) {
        const dx = s.x + x;
        const dy = s.y + y;
        if (dx >= this.width || dy >= this.height) continue;
        const from = (y * png.width + x) * 4;
        const to = (dy * this.width + dx) * 4;
        this.rgba.set(png.data.subarray(from, from + 4), to);
        this.known[dy * this.width + dx] = 1;
      }
  }

  /** The pixel's RGB, or undefined when nothing lossless was painted there yet. */
  pixel(x: number, y: number): { r: number; g: number; b: number } | undefined {
    if (x >= this.width || y >= this.height || !this.known[y * this.width + x]) return undefined;
    const at = (y * this.width + x) * 4;
    return { r: this.rgba[at]!, g: this.rgba[at + 1]!, b: this.rgba[at + 2]! };
  }
}
