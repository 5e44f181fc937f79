// A recording rendered to a WebM video in the page: each frame drawn by the caller at its moment, encoded
// with WebCodecs' VideoEncoder (VP9 where the browser encodes it, else VP8: Debian's Chromium has no H.264
// encoder, so WebM is the container) and muxed by mediabunny. Frames are made as fast as the encoder takes
// them, not in real time; the session events go into the file as a WebVTT subtitle track and out as a
// sidecar .vtt. Progress is reported per frame with an estimate; an AbortSignal cancels (the encoder and the
// muxer are closed, nothing is returned). The arithmetic (which frames, the cues, the estimate) is in
// video-plan.ts.
import {
  BufferTarget,
  EncodedPacket,
  EncodedVideoPacketSource,
  Output,
  TextSubtitleSource,
  WebMOutputFormat,
} from "mediabunny";
import { etaSeconds, evenSize, markersToVtt, planFrames, type VideoMarker } from "./video-plan.ts";

/** Draws the recording's state at `timeMs` (ms from its start); called with increasing times. */
export type FrameRenderer = (timeMs: number) => Promise<CanvasImageSource> | CanvasImageSource;

export type VideoProgress = { done: number; total: number; etaS: number | undefined };

export type VideoExportOptions = {
  render: FrameRenderer;
  durationMs: number;
  fps: number;
  width: number;
  height: number;
  markers: VideoMarker[];
  signal?: AbortSignal;
  onProgress?: (p: VideoProgress) => void;
};

export type VideoExport = {
  video: Blob;
  vtt: string;
  codec: "vp9" | "vp8";
  frames: number;
  width: number;
  height: number;
};

/** Frames queued in the encoder at most: rendering waits beyond this, so memory stays a few frames' worth. */
const MAX_ENCODE_QUEUE = 4;
/** A keyframe this often (s), so a player seeks in the file without decoding it from the start. */
const KEYFRAME_EVERY_S = 2;
/** Bits per pixel per second (about 1.2 Mbit/s at 1280×720 × 10 fps): screens are mostly still, sharp text. */
const BITS_PER_PIXEL_S = 1.3;

/** The first of VP9 and VP8 this browser encodes at this size, or an error saying it encodes neither. */
async function pickCodec(
  width: number,
  height: number,
  fps: number,
): Promise<{ codec: "vp9" | "vp8"; config: VideoEncoderConfig }> {
  if (typeof VideoEncoder === "undefined") throw new Error("this browser has no WebCodecs video encoder");
  const bitrate = Math.round(Math.min(8_000_000, Math.max(200_000, width * height * BITS_PER_PIXEL_S)));
  for (const [codec, string] of [
    ["vp9", "vp09.00.10.08"],
    ["vp8", "vp8"],
  ] as const) {
    const config: VideoEncoderConfig = {
      codec: string,
      width,
      height,
      bitrate,
      framerate: fps,
      latencyMode: "quality",
    };
    const { supported } = await VideoEncoder.isConfigSupported(config).catch(() => ({ supported: false }));
    if (supported) return { codec, config };
  }
  throw new Error("this browser encodes neither VP9 nor VP8");
}

function abortError(): Error {
  return new DOMException("The video export was cancelled.", "AbortError");
}

export async function exportVideo(options: VideoExportOptions): Promise<VideoExport> {
  const { render, durationMs, fps, markers, signal, onProgress } = options;
  const width = evenSize(options.width);
  const height = evenSize(options.height);
  const { codec, config } = await pickCodec(width, height, fps);
  if (signal?.aborted) throw abortError();

  const vtt = markersToVtt(markers, durationMs);
  const output = new Output({ format: new WebMOutputFormat(), target: new BufferTarget() });
  const videoSource = new EncodedVideoPacketSource(codec);
  output.addVideoTrack(videoSource, { frameRate: fps });
  const subtitles = new TextSubtitleSource("webvtt");
  if (markers.length) output.addSubtitleTrack(subtitles, { name: "Session events", languageCode: "und" });
  await output.start();

  // Encoded chunks go to the muxer one after another; the first failure is kept and rethrown.
  let muxing: Promise<void> = Promise.resolve();
  let failure: unknown;
  const encoder = new VideoEncoder({
    output: (chunk, meta) => {
      muxing = muxing.then(() => videoSource.add(EncodedPacket.fromEncodedChunk(chunk), meta));
      muxing.catch((e) => {
        failure ??= e;
      });
    },
    error: (e) => {
      failure ??= e;
    },
  });
  encoder.configure(config);

  // A canvas of the video's size: the caller's picture is drawn onto it (scaled if its size differs).
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d")!;
  const frames = planFrames(durationMs, fps);
  const started = performance.now();
  try {
    for (let i = 0; i < frames.length; i++) {
      if (signal?.aborted) throw abortError();
      if (failure) throw failure;
      const frame = frames[i]!;
      const picture = await render(frame.timeMs);
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, width, height);
      ctx.drawImage(picture, 0, 0, width, height);
      const video = new VideoFrame(canvas, {
        timestamp: Math.round(frame.timeMs * 1000),
        duration: Math.round(frame.durationMs * 1000),
      });
      encoder.encode(video, { keyFrame: i % (fps * KEYFRAME_EVERY_S) === 0 });
      video.close();
      while (encoder.encodeQueueSize > MAX_ENCODE_QUEUE) {
        await new Promise<void>((resolve) => encoder.addEventListener("dequeue", () => resolve(), { once: true }));
      }
      onProgress?.({
        done: i + 1,
        total: frames.length,
        etaS: etaSeconds(i + 1, frames.length, performance.now() - started),
      });
    }
    await encoder.flush();
    await muxing;
    if (failure) throw failure;
    if (markers.length) {
      await subtitles.add(vtt);
      subtitles.close();
    }
    videoSource.close();
    await output.finalize();
  } catch (error) {
    if (encoder.state !== "closed") encoder.close();
    await output.cancel().catch(() => {});
    throw signal?.aborted ? abortError() : error;
  }
  if (encoder.state !== "closed") encoder.close();
  const buffer = (output.target as BufferTarget).buffer!;
  return { video: new Blob([buffer], { type: "video/webm" }), vtt, codec, frames: frames.length, width, height };
}

/** Hands `blob` to the browser as a download named `name`. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The download has the bytes once it started; the URL can go a little later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
