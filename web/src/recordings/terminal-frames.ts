// Frames of a terminal recording for the video export (video-export.ts): the asciicast's output is written
// into an @xterm/xterm Terminal that is never opened (it parses and keeps its buffer without a DOM), and
// each frame paints the visible buffer onto a canvas itself: a fixed cell of CELL_W × CELL_H pixels, a
// monospace font, each cell's colours (16-colour, 256-colour and true-colour SGR), bold, inverse and
// underline. Painting the buffer here rather than using xterm's renderer keeps frames deterministic (no
// font loading, no GPU, no device pixel ratio) and works in a hidden page.
import { type IBufferCell, Terminal } from "@xterm/xterm";
import type { Cast } from "./cast-text.ts";

/** A cell's size in pixels: 80×24 makes a 720×432 video. */
export const CELL_W = 9;
export const CELL_H = 18;
const FONT = `15px "DejaVu Sans Mono", "Liberation Mono", monospace`;
export const BACKGROUND = "#121314";
const FOREGROUND = "#cccccc";

/** The 16 ANSI colours (xterm's defaults), then the 6×6×6 cube and the grey ramp. */
const PALETTE: string[] = (() => {
  const base = [
    "#000000",
    "#cd0000",
    "#00cd00",
    "#cdcd00",
    "#0000ee",
    "#cd00cd",
    "#00cdcd",
    "#e5e5e5",
    "#7f7f7f",
    "#ff0000",
    "#00ff00",
    "#ffff00",
    "#5c5cff",
    "#ff00ff",
    "#00ffff",
    "#ffffff",
  ];
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  const steps = [0, 95, 135, 175, 215, 255];
  for (let i = 0; i < 216; i++)
    base.push(`#${hex(steps[Math.floor(i / 36)]!)}${hex(steps[Math.floor(i / 6) % 6]!)}${hex(steps[i % 6]!)}`);
  for (let i = 0; i < 24; i++) base.push(`#${hex(8 + i * 10).repeat(3)}`);
  return base;
})();

function colour(cell: IBufferCell, fg: boolean): string | undefined {
  if (fg ? cell.isFgDefault() : cell.isBgDefault()) return undefined;
  const value = fg ? cell.getFgColor() : cell.getBgColor();
  if (fg ? cell.isFgRGB() : cell.isBgRGB()) return `#${value.toString(16).padStart(6, "0")}`;
  return PALETTE[value] ?? undefined;
}

export type TerminalFrames = {
  width: number;
  height: number;
  durationMs: number;
  render: (timeMs: number) => Promise<HTMLCanvasElement>;
  dispose: () => void;
};

/** A frame renderer for `cast` (already made safe for replay); frames must be asked for in increasing time. */
export function terminalFrames(cast: Cast): TerminalFrames {
  const cols = Math.max(1, Math.min(500, Math.floor(cast.header.width)));
  const rows = Math.max(1, Math.min(200, Math.floor(cast.header.height)));
  const term = new Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
  const canvas = document.createElement("canvas");
  canvas.width = cols * CELL_W;
  canvas.height = rows * CELL_H;
  const ctx = canvas.getContext("2d")!;
  const events = cast.events.filter((e) => e[1] === "o" || e[1] === "r");
  const durationMs = Math.round((cast.events.at(-1)?.[0] ?? 0) * 1000);
  let next = 0;

  function paint(): void {
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.textBaseline = "middle";
    const buffer = term.buffer.active;
    for (let y = 0; y < Math.min(rows, term.rows); y++) {
      const line = buffer.getLine(buffer.viewportY + y);
      if (!line) continue;
      for (let x = 0; x < Math.min(cols, term.cols); x++) {
        const cell = line.getCell(x);
        if (!cell || cell.getWidth() === 0) continue;
        let fg = colour(cell, true) ?? FOREGROUND;
        let bg = colour(cell, false);
        if (cell.isInverse()) [fg, bg] = [bg ?? BACKGROUND, fg];
        const w = CELL_W * cell.getWidth();
        if (bg) {
          ctx.fillStyle = bg;
          ctx.fillRect(x * CELL_W, y * CELL_H, w, CELL_H);
        }
        const chars = cell.getChars();
        if (chars && chars !== " ") {
          ctx.font = cell.isBold() ? `bold ${FONT}` : FONT;
          ctx.globalAlpha = cell.isDim() ? 0.6 : 1;
          ctx.fillStyle = fg;
          ctx.fillText(chars, x * CELL_W, y * CELL_H + CELL_H / 2, w);
          ctx.globalAlpha = 1;
        }
        if (cell.isUnderline()) {
          ctx.fillStyle = fg;
          ctx.fillRect(x * CELL_W, (y + 1) * CELL_H - 2, w, 1);
        }
      }
    }
  }

  async function render(timeMs: number): Promise<HTMLCanvasElement> {
    let data = "";
    while (next < events.length && events[next]![0] * 1000 <= timeMs) {
      const [, code, text] = events[next]!;
      next++;
      // A resize in the recording: the video keeps its size; the terminal follows so the text lays out as it did.
      if (code === "r") {
        if (data) await new Promise<void>((r) => term.write(data, r));
        data = "";
        const [c, r] = text.split("x").map(Number);
        if (c && r) term.resize(Math.min(c, 500), Math.min(r, 200));
      } else data += text;
    }
    if (data) await new Promise<void>((r) => term.write(data, r));
    paint();
    return canvas;
  }

  return { width: canvas.width, height: canvas.height, durationMs, render, dispose: () => term.dispose() };
}
