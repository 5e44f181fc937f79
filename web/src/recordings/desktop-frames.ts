// Frames of a desktop recording for the video export (video-export.ts): the .guac is loaded into a second
// Guacamole.SessionRecording of its own (the page's player stays where the viewer left it), fed through a
// Guacamole.Tunnel as the replay page does (the 1.5.0 Blob source throws), and each frame seeks it forward to
// the frame's moment, waits for the display to finish drawing (images decode asynchronously), and hands
// over the display flattened (all layers, the cursor included) onto one canvas. The video has the desktop's
// size at the end of the recording.
import Guacamole from "guacamole-common-js";
import { GuacParser, MARKER_OPCODE } from "../../../protocol/guacamole.ts";

/** The recording is parsed in blocks of this many characters (256 Ki), yielding to the page between them. */
const LOAD_BLOCK = 256 * 1024;

export type DesktopFrames = {
  width: number;
  height: number;
  durationMs: number;
  render: (timeMs: number) => Promise<HTMLCanvasElement>;
  dispose: () => void;
};

/** Loads `text` (a .guac) into a player of its own; resolves once it is loaded and its first frame is drawn. */
export async function desktopFrames(text: string, signal?: AbortSignal): Promise<DesktopFrames> {
  const source = new Guacamole.Tunnel();
  const recording = new Guacamole.SessionRecording(source);
  source.setState(Guacamole.Tunnel.State.OPEN);
  const display = recording.getDisplay();
  const loaded = new Promise<void>((resolve, reject) => {
    recording.onload = () => resolve();
    recording.onerror = (message) => reject(new Error(message));
  });
  // Our recordings' instructions are at most a few KiB; 1 MiB bounds a hostile one.
  const parser = new GuacParser(1024 * 1024);
  for (let at = 0; at < text.length; at += LOAD_BLOCK) {
    if (signal?.aborted) throw new DOMException("cancelled", "AbortError");
    for (const ins of parser.push(text.slice(at, at + LOAD_BLOCK))) {
      if (ins.opcode !== MARKER_OPCODE) source.oninstruction?.(ins.opcode, ins.args);
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  source.setState(Guacamole.Tunnel.State.CLOSED);
  await loaded;

  const seek = (ms: number) => new Promise<void>((resolve) => recording.seek(ms, () => display.flush(() => resolve())));
  const durationMs = recording.getDuration();
  // The video's size is the desktop's at the end: a session's page resizes the desktop to its window right after
  // connecting, so the first frames are often at the server's initial size. A frame at another size is scaled in.
  await seek(durationMs);
  const width = display.getWidth();
  const height = display.getHeight();
  await seek(0);
  return {
    width: width || 2,
    height: height || 2,
    durationMs,
    render: async (timeMs) => {
      await seek(timeMs);
      return display.flatten();
    },
    dispose: () => recording.abort(),
  };
}
