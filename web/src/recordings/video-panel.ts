// "Download video" on the replay pages: a button that renders the recording to WebM in the page
// (video-export.ts), a <progress> bar with the frames done and an estimate of the time left, and Cancel.
// When done, the browser saves recording-<id>.webm and, when the recording has session events,
// recording-<id>.vtt beside it (the events as captions; the .webm carries them as a subtitle track too).
// Test hooks: #replay-video, #replay-video-progress, #replay-video-cancel, #replay-video-status,
// <body data-video="exporting|done|cancelled|failed"> and, when done, data-video-{width,height,duration-ms,codec,ms}.
import { h } from "../shared/dom.ts";
import { exportVideo, saveBlob, type VideoExportOptions } from "./video-export.ts";
import { etaText } from "./video-plan.ts";

export type VideoJob = Omit<VideoExportOptions, "signal" | "onProgress"> & { dispose?: () => void };

/** The panel; `prepare` makes a fresh frame source each time (undefined while the recording is not loaded). */
export function videoPanel(
  id: string,
  prepare: () => Promise<VideoJob | undefined>,
): {
  panel: HTMLElement;
  cancel: () => void;
} {
  const button = h("button", { type: "button", id: "replay-video" }, "Download video") as HTMLButtonElement;
  const progress = h("progress", {
    id: "replay-video-progress",
    max: "1",
    value: "0",
    hidden: true,
    "aria-label": "Video export progress",
  }) as HTMLProgressElement;
  const cancelButton = h(
    "button",
    { type: "button", id: "replay-video-cancel", hidden: true, class: "button-quiet" },
    "Cancel",
  ) as HTMLButtonElement;
  const status = h("p", { id: "replay-video-status", class: "muted", role: "status", "aria-live": "polite" });
  let controller: AbortController | undefined;

  function busy(on: boolean): void {
    button.disabled = on;
    progress.hidden = !on;
    cancelButton.hidden = !on;
  }

  cancelButton.addEventListener("click", () => controller?.abort());
  button.addEventListener("click", () => {
    void (async () => {
      const abort = new AbortController();
      controller = abort;
      busy(true);
      progress.value = 0;
      status.textContent = "Preparing the video…";
      document.body.dataset.video = "exporting";
      let job: VideoJob | undefined;
      const started = performance.now();
      try {
        job = await prepare();
        if (!job) throw new Error("the recording is not loaded yet");
        // Status text changes at most every 500 ms, so a screen reader is not flooded.
        let said = 0;
        const result = await exportVideo({
          ...job,
          signal: abort.signal,
          onProgress: ({ done, total, etaS }) => {
            progress.max = total;
            progress.value = done;
            const now = performance.now();
            if (now - said < 500 && done < total) return;
            said = now;
            status.textContent = `Rendering frame ${done} of ${total}, ${etaText(etaS)}`;
          },
        });
        const ms = Math.round(performance.now() - started);
        saveBlob(result.video, `recording-${id}.webm`);
        if (job.markers.length) saveBlob(new Blob([result.vtt], { type: "text/vtt" }), `recording-${id}.vtt`);
        status.textContent = `Video ready (${result.width}×${result.height}, ${result.codec.toUpperCase()}, ${(ms / 1000).toFixed(1)} s to make).`;
        Object.assign(document.body.dataset, {
          video: "done",
          videoWidth: String(result.width),
          videoHeight: String(result.height),
          videoDurationMs: String(job.durationMs),
          videoCodec: result.codec,
          videoMs: String(ms),
        });
      } catch (error) {
        const cancelled = abort.signal.aborted;
        status.textContent = cancelled
          ? "Video export cancelled."
          : `The video could not be made: ${error instanceof Error ? error.message : String(error)}`;
        document.body.dataset.video = cancelled ? "cancelled" : "failed";
      } finally {
        job?.dispose?.();
        if (controller === abort) controller = undefined;
        busy(false);
      }
    })();
  });

  const panel = h(
    "section",
    { class: "replay-video", "aria-label": "Video export" },
    h("div", { class: "replay-video-row" }, button, progress, cancelButton),
    status,
  );
  return { panel, cancel: () => controller?.abort() };
}
