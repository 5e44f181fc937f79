// Pure arithmetic for exporting a recording as video (web/src/recordings/video-export.ts): which moments become frames
// and for how long each shows, the session events as a WebVTT file, the estimate of the time left, and the
// frame size a codec takes. No DOM, no WebCodecs: unit-tested on Node (video-plan.test.ts).

/** One session event on the video's clock (ms from the recording's start). */
export type VideoMarker = { timeMs: number; label: string };

/** One video frame: the recording's state at `timeMs`, shown for `durationMs`. */
export type PlannedFrame = { timeMs: number; durationMs: number };

/**
 * The frames of a `durationMs` recording at `fps`: one every 1/fps s from 0, the last cut short so the video
 * ends exactly where the recording does (a player and ffprobe then report the recording's duration). A
 * recording shorter than one frame still gets one frame.
 */
export function planFrames(durationMs: number, fps: number): PlannedFrame[] {
  const step = 1000 / fps;
  const total = Math.max(1, Math.ceil(durationMs / step - 1e-9));
  const frames: PlannedFrame[] = [];
  for (let i = 0; i < total; i++) {
    const timeMs = i * step;
    const end = Math.min((i + 1) * step, Math.max(durationMs, step));
    frames.push({ timeMs, durationMs: end - timeMs });
  }
  return frames;
}

/** `ms` as a WebVTT timestamp, hh:mm:ss.ttt. */
export function vttTime(ms: number): string {
  const t = Math.max(0, Math.round(ms));
  const h = Math.floor(t / 3_600_000);
  const m = Math.floor(t / 60_000) % 60;
  const s = Math.floor(t / 1000) % 60;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(t % 1000, 3)}`;
}

/** How long each event's caption stays up (ms), unless the next event or the end comes first. */
export const CUE_MS = 3000;

/**
 * The session events as WebVTT cues: each from its moment until the next event, the end of the video or
 * CUE_MS later, whichever is first (an event at the very end gets the last 0.5 s, so it is not an empty cue).
 * Labels are text: `-->` and blank lines, which would end or break a cue, are defused.
 */
export function markersToVtt(markers: VideoMarker[], durationMs: number): string {
  const sorted = [...markers].sort((a, b) => a.timeMs - b.timeMs);
  const cues = sorted.map((m, i) => {
    const next = sorted[i + 1]?.timeMs ?? Number.POSITIVE_INFINITY;
    let start = Math.min(Math.max(0, m.timeMs), durationMs);
    const end = Math.min(start + CUE_MS, next > start ? next : start + CUE_MS, durationMs);
    if (end - start < 1) start = Math.max(0, durationMs - 500);
    const text =
      m.label
        .replace(/-->/g, "→")
        .replace(/\r?\n\s*\r?\n/g, "\n")
        .trim() || "(event)";
    return `${i + 1}\n${vttTime(start)} --> ${vttTime(Math.max(end, start + 1))}\n${text}`;
  });
  return `WEBVTT\n\n${cues.join("\n\n")}${cues.length ? "\n" : ""}`;
}

/** Seconds left, from the frames done so far and the time they took; undefined until there is a rate to go by. */
export function etaSeconds(done: number, total: number, elapsedMs: number): number | undefined {
  if (done <= 0 || elapsedMs <= 0) return undefined;
  return Math.max(0, ((total - done) * elapsedMs) / done / 1000);
}

/** "about 1 min 20 s left" / "about 5 s left" / "estimating…". */
export function etaText(seconds: number | undefined): string {
  if (seconds === undefined) return "estimating…";
  const s = Math.ceil(seconds);
  if (s < 60) return `about ${s} s left`;
  return `about ${Math.floor(s / 60)} min ${s % 60} s left`;
}

/** VP8 and VP9 encode 4:2:0 pictures: a side is rounded up to an even number of pixels. */
export const evenSize = (n: number) => Math.max(2, Math.ceil(n / 2) * 2);
