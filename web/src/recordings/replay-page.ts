// Replay of one recording (#/recordings/<id>) on asciinema-player: play, pause, seek, speeds 0.5× to 16×,
// the session's events (the recorder's "m" markers) as ticks on the player's timeline and as a list under it
// that seeks, idle-time compression; search in the recording's text, each hit with its wall-clock time and
// offset, jumping the player there and bringing it into view; the integrity status; downloads, and how to
// verify offline with the edge's public keys. The controls sit beside the player (under it on a phone).
// Escape strings that could act outside the terminal (titles, clipboard) are removed before playing.
// Test hooks: #replay-player, #replay-controls, #replay-search, #replay-hits button[data-time],
// #replay-markers button[data-time], #replay-integrity[data-status], <body data-replay="ready">; opened at a
// moment (`openAt`, s into the recording as made: #/recordings/<id>?t=…), it shows that screen, paused, and sets
// <body data-replay-at> to the second on the played timeline. A shared session's recording carries `typing: <name>`
// markers (who typed, not events): they stay off the timeline and the list, and #replay-author says "Typed by <name>"
// for the moment shown.
import "asciinema-player/dist/bundle/asciinema-player.css";
import "./replay.css";
import * as AsciinemaPlayer from "asciinema-player";
import type { RecordingSummary } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import {
  authorAt,
  authorsOf,
  type Cast,
  chaptersOf,
  compressIdle,
  formatOffset,
  idleClock,
  markerLabel,
  parseCast,
  safeForReplay,
  searchCast,
  serializeCast,
} from "./cast-text.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";
import { formatFullTime } from "../shared/format.ts";
import { showIntegrity } from "./recording-integrity.ts";
import { downloadLinks, moment, replayLayout, speedField, verifyOfflinePanel } from "./replay-panel.ts";
import { terminalFrames } from "./terminal-frames.ts";
import { videoPanel } from "./video-panel.ts";

/** Pauses longer than this (seconds) are shortened when idle-time compression is on. */
const IDLE_LIMIT_S = 2;
/** Video frames per second for a terminal: text changes in steps, and 10 fps shows typing as it came while
 * keeping an hour's recording to 36,000 frames (minutes to make, not hours). */
const TERMINAL_FPS = 10;
/** How often "Typed by" follows the player's position (ms); the player has no time-update event. */
const AUTHOR_EVERY_MS = 250;

export function renderReplay(container: HTMLElement, id: string, canDownloadKey: boolean, openAt?: number): Cleanup {
  document.title = "Replay · PSM";
  const titleBefore = document.title;
  let disposed = false;
  let player: AsciinemaPlayer.Player | undefined;
  let summary: RecordingSummary | undefined;
  /** The recording as made, escape strings removed: search and markers read their times here. */
  let recorded: Cast | undefined;
  let started = false;

  const heading = h("h1", {}, "Replay");
  const meta = h("p", { class: "muted" });
  const integrity = h("p", { id: "replay-integrity", class: "notice", role: "status" }, "Checking integrity…");
  const message = h("p", { class: "notice", role: "alert", hidden: true });
  const host = h("div", { id: "replay-player", class: "replay-player" });
  const markers = h("ol", { id: "replay-markers", class: "replay-markers", "aria-label": "Session events" });
  // A shared session: who typed at the moment shown (the latest authorship marker at or before it).
  const author = h("p", { id: "replay-author", class: "replay-author", hidden: true });
  /** The played cast's authorship markers: [time on the played timeline (s), username]. */
  let authors: [number, string][] = [];
  const authorTimer = setInterval(showAuthor, AUTHOR_EVERY_MS);
  const speed = speedField();
  const idle = h("input", { id: "replay-idle", type: "checkbox", checked: true });
  const search = h("input", {
    id: "replay-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 200,
  });
  const hits = h("ol", { id: "replay-hits", class: "replay-hits", "aria-label": "Search results" });
  const files = h("div", { class: "replay-files" });
  // The video follows the recording as made (no idle compression), so its clock and the events' times match.
  const video = videoPanel(id, async () => {
    if (!recorded) return undefined;
    const frames = terminalFrames(recorded);
    return {
      render: frames.render,
      dispose: frames.dispose,
      durationMs: frames.durationMs,
      fps: TERMINAL_FPS,
      width: frames.width,
      height: frames.height,
      markers: chaptersOf(recorded).map(([t, raw]) => ({
        timeMs: Math.round(t * 1000),
        label: markerLabel(raw, formatFullTime),
      })),
    };
  });

  const limit = () => (idle.checked ? IDLE_LIMIT_S : null);
  /** The cast as played: idle time compressed when asked. */
  const played = () => compressIdle(recorded!, limit());

  /** "14:03:27 · +0:05": when `offset` (s into the recording as made) happened, and how far in. */
  function when(offset: number): (Node | string)[] {
    return summary ? moment(summary.startedAt, offset) : [`+${formatOffset(offset)}`];
  }

  function mount(startAt = 0, autoPlay = false): void {
    if (!recorded || disposed) return;
    player?.dispose();
    const shown = played();
    started = autoPlay;
    player = AsciinemaPlayer.create({ data: serializeCast(shown) }, host, {
      speed: Number(speed.select.value),
      startAt,
      autoPlay,
      preload: true,
      controls: true,
      fit: "width",
      markers: chaptersOf(shown).map(([t, raw]): [number, string] => [t, markerLabel(raw, formatFullTime)]),
    });
    authors = authorsOf(shown);
    showAuthor();
    player.addEventListener("play", () => {
      started = true;
    });
  }

  /** Shows the screen just after `time` (s, on the played timeline), paused, with the player in view. A
   * player never started is started first, so its clock and progress bar follow the seek. */
  async function jump(time: number): Promise<void> {
    if (!player) return;
    host.scrollIntoView({ block: "nearest" });
    if (!started) {
      await player.play();
      started = true;
    }
    // Just after the hit's last character was shown: the screen then holds it.
    await player.seek(time + 0.001);
    await player.pause();
  }

  /** A button that jumps to `offset` (s into the recording as made), showing when that was. */
  function jumpButton(offset: number, toPlayed: (t: number) => number): HTMLButtonElement {
    const at = toPlayed(offset);
    return h(
      "button",
      {
        type: "button",
        class: "button-quiet replay-when",
        "data-time": String(at),
        "data-offset": String(offset),
        onclick: () => void jump(at),
      },
      ...when(offset),
    );
  }

  /** "Typed by bob" for the player's position; nothing for a session that was never shared. */
  function showAuthor(): void {
    if (!player || !summary) return;
    const name = authorAt(authors, player.getCurrentTime(), summary.username);
    author.hidden = name === null;
    const text = name === null ? "" : `Typed by ${name}`;
    if (author.textContent !== text) author.textContent = text;
  }

  function showMarkers(): void {
    if (!recorded) return;
    const toPlayed = idleClock(recorded, limit());
    replace(
      markers,
      ...chaptersOf(recorded).map(([t, raw]) =>
        h("li", {}, jumpButton(t, toPlayed), " ", h("span", {}, markerLabel(raw, formatFullTime))),
      ),
    );
  }

  function runSearch(event?: Event): void {
    event?.preventDefault();
    if (!recorded) return;
    const query = search.value.trim();
    const toPlayed = idleClock(recorded, limit());
    const found = searchCast(recorded, query);
    replace(hits, ...found.map((hit) => h("li", {}, jumpButton(hit.time, toPlayed), " ", h("code", {}, hit.line))));
    if (query && found.length === 0) replace(hits, h("li", { class: "muted" }, "No match."));
  }

  const controls = h(
    "form",
    { id: "replay-controls", class: "replay-controls", onsubmit: runSearch },
    speed.field,
    h("label", { class: "replay-idle" }, idle, " Shorten pauses over 2 s"),
    h(
      "div",
      { class: "replay-search" },
      field("Search the recording", search),
      h("button", { type: "submit", id: "replay-search-submit" }, "Search"),
    ),
  );
  speed.select.addEventListener("change", () => mount(player?.getCurrentTime() ?? 0, true));
  idle.addEventListener("change", () => {
    mount(0);
    showMarkers();
    runSearch();
  });

  replayLayout(container, [heading, meta, message], [host, author], markers, [
    integrity,
    controls,
    hits,
    files,
    video.panel,
  ]);

  void (async () => {
    try {
      const [found, text] = await Promise.all([api.recording(id), api.recordingCast(id)]);
      if (disposed) return;
      summary = found;
      heading.textContent = `Replay: ${found.username} on ${found.serverName}`;
      meta.textContent = `Session ${found.sessionId}, started ${formatFullTime(found.startedAt)}`;
      replace(files, downloadLinks(found), verifyOfflinePanel(found, canDownloadKey));
      recorded = safeForReplay(parseCast(text));
      mount();
      showMarkers();
      if (openAt !== undefined) {
        // The moment on the played timeline (idle time compressed), never past the end.
        const last = recorded.events.at(-1)?.[0] ?? 0;
        const at = idleClock(recorded, limit())(Math.min(openAt, last));
        await jump(at);
        if (disposed) return;
        document.body.dataset.replayAt = String(at);
      }
      document.body.dataset.replay = "ready";
    } catch (error) {
      if (!disposed) say(message, errorText(error));
    }
    await showIntegrity(integrity, id, () => disposed);
  })();

  return () => {
    disposed = true;
    clearInterval(authorTimer);
    video.cancel();
    player?.dispose();
    delete document.body.dataset.replay;
    delete document.body.dataset.replayAt;
    delete document.body.dataset.video;
    document.title = titleBefore;
  };
}
