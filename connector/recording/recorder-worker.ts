// The recorder thread's entry (recorder-thread.ts starts it): one RecordingTrack per recorded session, driven by the
// relay's messages in order; each sealed chunk goes back to the relay's thread, which signs and spools it.
import { parentPort } from "node:worker_threads";
import type { FromRecorder, ToRecorder } from "./recorder-thread.ts";
import { RecordingTrack } from "./track.ts";

const port = parentPort;
if (!port) throw new Error("recorder-worker.ts runs as the connector's recorder thread");

const tracks = new Map<number, RecordingTrack>();
const send = (msg: FromRecorder) => port.postMessage(msg);

port.on("message", (msg: ToRecorder) => {
  if (msg.op === "open") {
    const { id } = msg;
    const track = new RecordingTrack(msg.options, {
      sealed: (cut) => {
        if (cut.final) tracks.delete(id);
        send({ op: "sealed", id, cut });
      },
      failed: (err) => {
        tracks.delete(id);
        send({ op: "failed", id, message: err instanceof Error ? err.message : String(err) });
      },
    });
    tracks.set(id, track);
    return;
  }
  const track = tracks.get(msg.id);
  if (!track) return;
  switch (msg.op) {
    case "output":
      return track.output(msg.bytes, msg.now);
    case "input":
      return track.input(msg.bytes, msg.now);
    case "resize":
      return track.resize(msg.cols, msg.rows, msg.now);
    case "marker":
      return track.marker(msg.label, msg.now);
    case "end":
      return track.end(msg.reason, msg.now);
    case "stop":
      track.stop();
      tracks.delete(msg.id);
      return;
  }
});
