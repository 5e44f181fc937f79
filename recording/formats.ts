// The recording formats and their writers: asciicast v2 for terminals, Guacamole (`.guac`) for
// desktops. The recorder picks one by the recording's format and appends the lines it returns.
import type { RecordingFormat } from "../protocol/index.ts";
import { CastWriter } from "./asciicast.ts";
import { GuacWriter } from "./guac-writer.ts";

/** What the recorder needs of a writer: each call returns whole lines (or instructions) to append. */
export interface RecordingWriter {
  /** ms since the start of the latest event written. */
  readonly lastMs: number;
  header(width: number, height: number): string;
  output(bytes: Uint8Array, now: number): string[];
  input(bytes: Uint8Array, now: number): string[];
  resize(cols: number, rows: number, now: number): string[];
  marker(label: string, now: number): string[];
  finish(): string[];
}

export function recordingWriter(
  format: RecordingFormat,
  startedAt: number,
  keystrokes: boolean,
  lastMs = 0,
): RecordingWriter {
  return format === "guacamole"
    ? new GuacWriter(startedAt, keystrokes, lastMs)
    : new CastWriter(startedAt, keystrokes, lastMs);
}
