// The video export's arithmetic: frames cover the recording exactly, the events become valid WebVTT cues, the estimate.
import { describe, expect, it } from "vitest";
import { etaSeconds, etaText, evenSize, markersToVtt, planFrames, vttTime } from "./video-plan.ts";

describe("planFrames", () => {
  it("one frame every 1/fps s, the last cut so the frames end where the recording does", () => {
    const frames = planFrames(2_850, 10);
    expect(frames).toHaveLength(29);
    expect(frames[0]).toEqual({ timeMs: 0, durationMs: 100 });
    const last = frames.at(-1)!;
    expect(last.timeMs).toBeCloseTo(2_800);
    expect(last.timeMs + last.durationMs).toBeCloseTo(2_850);
    const total = frames.reduce((sum, f) => sum + f.durationMs, 0);
    expect(total).toBeCloseTo(2_850);
  });

  it("a whole number of frames needs no short one; an empty recording still has one frame", () => {
    expect(planFrames(3_000, 15)).toHaveLength(45);
    expect(planFrames(3_000, 15).at(-1)!.durationMs).toBeCloseTo(1000 / 15);
    expect(planFrames(0, 10)).toEqual([{ timeMs: 0, durationMs: 100 }]);
  });
});

describe("markersToVtt", () => {
  it("each event from its moment to the next, the end or 3 s later", () => {
    const vtt = markersToVtt(
      [
        { timeMs: 1_200, label: "Connected to the server" },
        { timeMs: 0, label: "Recording started" },
        { timeMs: 10_000, label: "Ended: user exit" },
      ],
      10_000,
    );
    expect(vtt).toBe(
      "WEBVTT\n\n" +
        "1\n00:00:00.000 --> 00:00:01.200\nRecording started\n\n" +
        "2\n00:00:01.200 --> 00:00:04.200\nConnected to the server\n\n" +
        "3\n00:00:09.500 --> 00:00:10.000\nEnded: user exit\n",
    );
  });

  it("a label cannot end or split its cue", () => {
    const vtt = markersToVtt([{ timeMs: 0, label: "a --> b\n\nWEBVTT" }], 5_000);
    expect(vtt).toContain("a → b\nWEBVTT");
    expect(vtt.match(/-->/g)).toHaveLength(1);
  });

  it("no events, just the header", () => {
    expect(markersToVtt([], 1_000)).toBe("WEBVTT\n\n");
  });
});

describe("times and sizes", () => {
  it("WebVTT timestamps", () => {
    expect(vttTime(3_723_045)).toBe("01:02:03.045");
    expect(vttTime(-5)).toBe("00:00:00.000");
  });

  it("the estimate goes by the rate so far", () => {
    expect(etaSeconds(0, 100, 1000)).toBeUndefined();
    expect(etaSeconds(25, 100, 1000)).toBe(3);
    expect(etaText(undefined)).toBe("estimating…");
    expect(etaText(2.2)).toBe("about 3 s left");
    expect(etaText(80)).toBe("about 1 min 20 s left");
  });

  it("VP8/VP9 sides are even", () => {
    expect(evenSize(1023)).toBe(1024);
    expect(evenSize(720)).toBe(720);
  });
});
