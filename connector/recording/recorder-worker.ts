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
  try {
    apply(track, msg);
  } catch (err) {
    // One recording's fault fails that recording, not the thread and every other session's.
    track.stop();
    tracks.delete(msg.id);
    send({ op: "failed", id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
});

function apply(track: RecordingTrack, msg: Exclude<ToRecorder, { op: "open" }>): void {
  switch (msg.op) {
    case "bytes":
      for (const event of msg.events)
        if (event.op === "output") track.output(event.bytes, event.now);
        else track.input(event.bytes, event.now);
      break;
    case "resize":
      track.resize(msg.cols, msg.rows, msg.now);
      break;
    case "marker":
      track.marker(msg.label, msg.now);
      break;
    case "end":
      track.end(msg.reason, msg.now);
      break;
    case "stop":
      track.stop();
      tracks.delete(msg.id);
      break;
  }
}

// Loaded: the connector logs that recording is ready to run off its relay's thread.
send({ op: "ready" });
