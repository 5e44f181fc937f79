// Replay of a desktop recording (#/recordings/<id> whose format is Guacamole) with guacamole-common-js's
// Guacamole.SessionRecording: play, pause, a seek bar, speeds 0.5× to 16×, the integrity status, the
// keys typed (where policy recorded input; each line, with its wall-clock time, jumps the player there),
// downloads of the .guac and the signed manifest, and how to verify offline. The controls sit beside the
// display (under it on a phone), as on the terminal replay. Session events (connected, warnings, the end) are
// listed under the display, each jumping the player there: a .guac names them in our `psm-marker` instruction
// right before the event's frame (recording/guac-writer.ts), which this page reads and does not play.
//
// Speed: the library's player (1.5.0) plays only in real time (it schedules each frame at its
// recorded time). So this page keeps the clock itself: while playing, the position is
// `anchor + elapsed × speed`, and the recording is seeked forward to it (the library then draws the
// frames in between, in order; a backward seek restarts from its nearest keyframe). The library's
// own play() is not used.
//
// Loading: given a Blob, the library's constructor (1.5.0 on npm) reads a variable it never assigned
// and throws, so the recording is fed through a Guacamole.Tunnel instead (the library's other source):
// parsed here in blocks, each instruction handed to it, then the tunnel closed, which it takes as
// "loaded". It keeps what it receives in a Blob of its own, as it does for a Blob source.
// Test hooks: #replay-desktop-canvas, #replay-play, #replay-seek, #replay-speed, #replay-time, #replay-keys,
// #replay-integrity[data-status], <body data-replay="ready">.
import "../session/desktop.css";
import "./replay.css";
import Guacamole from "guacamole-common-js";
import { type MountedDisplay, mountDisplay } from "../session/guac-display.ts";
import { type GuacInstruction, GuacParser, MARKER_OPCODE } from "../../../protocol/guacamole.ts";
import type { RecordingSummary } from "../../../protocol/index.ts";
import { errorText, recordingCastUrl } from "../shared/api.ts";
import { markerLabel } from "./cast-text.ts";
import { type Cleanup, h, replace, say } from "../shared/dom.ts";
import { formatFullTime } from "../shared/format.ts";
import { typedLines } from "../session/guac-keys.ts";
import { showIntegrity } from "./recording-integrity.ts";
import { downloadLinks, moment, replayLayout, speedField, verifyOfflinePanel } from "./replay-panel.ts";
import { desktopFrames } from "./desktop-frames.ts";
import { videoPanel } from "./video-panel.ts";

/** The page's clock advances the recording this often while playing (ms). */
const TICK_MS = 40;
/** The recording is parsed in blocks of this many characters (256 Ki), yielding to the page between them. */
const LOAD_BLOCK = 256 * 1024;
/** Typed lines listed at most (the rest is in the download). */
const MAX_TYPED_LINES = 2_000;
/** Video frames per second for a desktop: pointer moves and scrolling read as motion at 15 fps, while each
 * frame (a seek, a flatten, a VP9 encode of the whole screen) stays cheap enough to export faster than real time. */
const DESKTOP_FPS = 15;

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

export function renderDesktopReplay(
  container: HTMLElement,
  summary: RecordingSummary,
  canDownloadKey: boolean,
): Cleanup {
  const id = summary.id;
  document.title = "Replay · PSM";
  let disposed = false;

  const heading = h("h1", {}, `Replay: ${summary.username} on ${summary.serverName} (desktop)`);
  const meta = h("p", { class: "muted" }, `Session ${summary.sessionId}, started ${formatFullTime(summary.startedAt)}`);
  const integrity = h("p", { id: "replay-integrity", class: "notice", role: "status" }, "Checking integrity…");
  const message = h("p", { class: "notice", role: "alert", hidden: true });
  const host = h("div", { id: "replay-desktop", class: "desktop-host replay-desktop" });
  const play = h("button", { type: "button", id: "replay-play", disabled: true }, "Play") as HTMLButtonElement;
  const seek = h("input", {
    id: "replay-seek",
    type: "range",
    min: "0",
    max: "0",
    step: "any",
    value: "0",
    disabled: true,
    "aria-label": "Position in the recording",
  }) as HTMLInputElement;
  const time = h("span", { id: "replay-time", class: "mono" }, "0:00 / 0:00");
  const { select: speed, field: speedControl } = speedField();
  const controls = h("div", { class: "replay-desktop-controls" }, play, seek, time);
  const keys = h("ol", { id: "replay-keys", class: "replay-hits" });
  const keysPanel = h("section", { class: "replay-keys" }, h("h2", {}, "Keys typed"), keys);
  const markers = h("ol", { id: "replay-markers", class: "replay-markers", "aria-label": "Session events" });
  /** The .guac as fetched and the session events in it, for the video export (set once loaded). */
  let loadedText: string | undefined;
  let loadedMarkers: { time: number; label: string }[] = [];
  const video = videoPanel(id, async () => {
    if (!loadedText) return undefined;
    const frames = await desktopFrames(loadedText);
    return {
      render: frames.render,
      dispose: frames.dispose,
      durationMs: frames.durationMs,
      fps: DESKTOP_FPS,
      width: frames.width,
      height: frames.height,
      markers: loadedMarkers.map((m) => ({ timeMs: m.time, label: markerLabel(m.label, formatFullTime) })),
    };
  });
  replayLayout(container, [heading, meta, message], [host, controls], markers, [
    integrity,
    h("div", { id: "replay-controls", class: "replay-controls" }, speedControl),
    keysPanel,
    h("div", { class: "replay-files" }, downloadLinks(summary), verifyOfflinePanel(summary, canDownloadKey)),
    video.panel,
  ]);

  let recording: Guacamole.SessionRecording | undefined;
  let duration = 0;
  let playing = false;
  /** Position (ms) at `anchorAt` (page clock, ms); while playing the position runs from there at `rate`. */
  let anchor = 0;
  let anchorAt = 0;
  let seeking = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rate = () => Number(speed.value);
  const position = () => (playing ? Math.min(duration, anchor + (performance.now() - anchorAt) * rate()) : anchor);

  function show(at: number): void {
    seek.value = String(Math.round(at));
    time.textContent = `${clock(at)} / ${clock(duration)}`;
  }

  /** Moves the recording to `at` (ms), one seek at a time; the next tick catches up with the clock. */
  function goTo(at: number, force = false): void {
    if (!recording) return;
    if (seeking && !force) return;
    if (seeking) recording.cancel();
    seeking = true;
    recording.seek(at, () => {
      seeking = false;
    });
  }

  function tick(): void {
    timer = undefined;
    if (!playing || disposed) return;
    const at = position();
    show(at);
    goTo(at);
    if (at >= duration) {
      setPlaying(false);
      return;
    }
    timer = setTimeout(tick, TICK_MS);
  }

  function setPlaying(on: boolean): void {
    anchor = position();
    anchorAt = performance.now();
    // Played to the end: Play starts over.
    if (on && anchor >= duration) anchor = 0;
    playing = on;
    play.textContent = on ? "Pause" : "Play";
    document.body.dataset.replayState = on ? "playing" : "paused";
    clearTimeout(timer);
    if (on) tick();
    else {
      show(anchor);
      // A seek skipped while the previous one ran would leave the picture behind the clock.
      goTo(anchor, true);
    }
  }

  play.addEventListener("click", () => setPlaying(!playing));
  seek.addEventListener("input", () => {
    anchor = Number(seek.value);
    anchorAt = performance.now();
    show(anchor);
    goTo(anchor, true);
  });
  speed.addEventListener("change", () => {
    // Re-anchor at the current position, so the new speed applies from here.
    anchor = position();
    anchorAt = performance.now();
  });

  /** A button naming a moment (ms into the recording) that shows the desktop as it was then. */
  function jumpButton(ms: number): HTMLButtonElement {
    return h(
      "button",
      {
        type: "button",
        class: "button-quiet replay-when",
        "data-time": String(ms),
        onclick: () => {
          setPlaying(false);
          anchor = Math.min(ms, duration);
          show(anchor);
          goTo(anchor, true);
        },
      },
      ...moment(summary.startedAt, ms / 1000),
    );
  }

  /** The session's events, each a button to its moment. */
  function showMarkers(found: { time: number; label: string }[]): void {
    replace(
      markers,
      ...(found.length
        ? found.map((m) => h("li", {}, jumpButton(m.time), " ", markerLabel(m.label, formatFullTime)))
        : [h("li", { class: "muted" }, "No session events in this recording.")]),
    );
  }

  /** The typed lines, each a button that shows the desktop as it was when typing began there. */
  function showKeys(events: GuacInstruction[]): void {
    const lines = typedLines(events).slice(0, MAX_TYPED_LINES);
    if (lines.length === 0) {
      replace(
        keys,
        h("li", { class: "muted" }, "No keys in this recording (typed keys are recorded where policy says)."),
      );
      return;
    }
    replace(keys, ...lines.map((line) => h("li", {}, jumpButton(line.time), " ", h("code", {}, line.text))));
  }

  let mounted: MountedDisplay | undefined;
  const observer = new ResizeObserver(() => mounted?.scale());
  observer.observe(host);

  void (async () => {
    try {
      const res = await fetch(recordingCastUrl(id), { credentials: "same-origin" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (disposed) return;
      const source = new Guacamole.Tunnel();
      recording = new Guacamole.SessionRecording(source);
      // A tunnel starts out CLOSED; closing it after the last instruction must be a change.
      source.setState(Guacamole.Tunnel.State.OPEN);
      mounted = mountDisplay(recording.getDisplay(), host, "replay-desktop-canvas");
      recording.onerror = (text) => {
        if (!disposed) say(message, `The recording could not be played: ${text}`);
      };
      recording.onload = () => {
        if (disposed) return;
        duration = recording!.getDuration();
        seek.max = String(duration);
        seek.disabled = false;
        play.disabled = false;
        show(0);
        // Show the first frame at once.
        goTo(0, true);
        document.body.dataset.replay = "ready";
      };
      // Our recordings' instructions are at most a few KiB; 1 MiB bounds a hostile one.
      const parser = new GuacParser(1024 * 1024);
      const keyEvents: GuacInstruction[] = [];
      // A marker names the frame that follows it: its time is that `sync`'s.
      const found: { time: number; label: string }[] = [];
      let named: string[] = [];
      for (let at = 0; at < text.length && !disposed; at += LOAD_BLOCK) {
        for (const ins of parser.push(text.slice(at, at + LOAD_BLOCK))) {
          if (ins.opcode === MARKER_OPCODE) {
            named.push(ins.args[0] ?? "");
            continue;
          }
          if (ins.opcode === "sync" && named.length) {
            for (const label of named) found.push({ time: Number(ins.args[0]) || 0, label });
            named = [];
          }
          if (ins.opcode === "key") keyEvents.push(ins);
          source.oninstruction?.(ins.opcode, ins.args);
        }
        await new Promise((r) => setTimeout(r, 0));
      }
      showKeys(keyEvents);
      showMarkers(found);
      if (parser.pending > 0) throw new Error("the recording ends inside an instruction");
      loadedText = text;
      loadedMarkers = found;
      source.setState(Guacamole.Tunnel.State.CLOSED);
    } catch (error) {
      if (!disposed) say(message, `The recording could not be loaded: ${errorText(error)}`);
    }
  })();
  void showIntegrity(integrity, id, () => disposed);

  return () => {
    disposed = true;
    video.cancel();
    playing = false;
    clearTimeout(timer);
    observer.disconnect();
    recording?.abort();
    delete document.body.dataset.replay;
    delete document.body.dataset.replayState;
    delete document.body.dataset.video;
    mounted?.dispose();
  };
}
