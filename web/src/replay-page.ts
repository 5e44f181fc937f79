// Replay of one recording (#/recordings/<id>) on asciinema-player: play, pause, seek, speeds 0.5x to
// 8x, session-event markers, idle-time compression; search in the recording's text with hits that
// jump the player; the integrity status; downloads of the .cast and the signed manifest. Escape
// strings that could act outside the terminal (titles, clipboard) are removed before playing.
// Test hooks: #replay-player, #replay-search, #replay-hits button[data-time], #replay-integrity[data-status].
import "asciinema-player/dist/bundle/asciinema-player.css";
import "./replay.css";
import * as AsciinemaPlayer from "asciinema-player";
import { api, errorText, recordingCastUrl, recordingManifestUrl } from "./api.ts";
import {
  type Cast,
  compressIdle,
  markersOf,
  parseCast,
  safeForReplay,
  searchCast,
  serializeCast,
} from "./cast-text.ts";
import { type Cleanup, field, h, replace, say } from "./dom.ts";
import { formatFullTime } from "./format.ts";
import { showIntegrity } from "./recording-integrity.ts";

const SPEEDS = [0.5, 1, 1.5, 2, 4, 8];
/** Pauses longer than this (seconds) are shortened when idle-time compression is on. */
const IDLE_LIMIT_S = 2;

export function renderReplay(container: HTMLElement, id: string): Cleanup {
  document.title = "Replay · PSM";
  const titleBefore = document.title;
  let disposed = false;
  let player: AsciinemaPlayer.Player | undefined;
  let cast: Cast | undefined;
  let started = false;

  const heading = h("h1", {}, "Replay");
  const meta = h("p", { class: "muted" });
  const integrity = h("p", { id: "replay-integrity", class: "notice", role: "status" }, "Checking integrity…");
  const message = h("p", { class: "notice", role: "alert", hidden: true });
  const host = h("div", { id: "replay-player", class: "replay-player" });
  const speed = h(
    "select",
    { id: "replay-speed", name: "speed" },
    ...SPEEDS.map((s) => h("option", { value: String(s), selected: s === 1 }, `${s}×`)),
  );
  const idle = h("input", { id: "replay-idle", type: "checkbox", checked: true });
  const search = h("input", {
    id: "replay-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 200,
  });
  const hits = h("ol", { id: "replay-hits", class: "replay-hits" });
  const downloads = h(
    "p",
    {},
    h("a", { href: recordingCastUrl(id), download: "", id: "replay-download-cast" }, "Download .cast"),
    " · ",
    h(
      "a",
      { href: recordingManifestUrl(id), download: "", id: "replay-download-manifest" },
      "Download signed manifest",
    ),
  );

  /** The cast as played: escape strings removed, idle time compressed when asked. */
  const played = () => compressIdle(safeForReplay(cast!), idle.checked ? IDLE_LIMIT_S : null);

  function mount(startAt = 0, autoPlay = false): void {
    if (!cast || disposed) return;
    player?.dispose();
    const shown = played();
    started = autoPlay;
    player = AsciinemaPlayer.create({ data: serializeCast(shown) }, host, {
      speed: Number(speed.value),
      startAt,
      autoPlay,
      preload: true,
      controls: true,
      fit: "width",
      markers: markersOf(shown),
    });
    player.addEventListener("play", () => {
      started = true;
    });
  }

  /** Shows the screen just after `time` (s), paused. A player never started is started first, so its
   * clock and progress bar follow the seek. */
  async function jump(time: number): Promise<void> {
    if (!player) return;
    if (!started) {
      await player.play();
      started = true;
    }
    // Just after the hit's last character was shown: the screen then holds it.
    await player.seek(time + 0.001);
    await player.pause();
  }

  function runSearch(event?: Event): void {
    event?.preventDefault();
    if (!cast) return;
    const found = searchCast(played(), search.value.trim());
    replace(
      hits,
      ...found.map((hit) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "button-quiet",
              "data-time": String(hit.time),
              onclick: () => void jump(hit.time),
            },
            `${hit.time.toFixed(1)} s`,
          ),
          " ",
          h("code", {}, hit.line),
        ),
      ),
    );
    if (search.value.trim() && found.length === 0) replace(hits, h("li", { class: "muted" }, "No match."));
  }

  const controls = h(
    "form",
    { class: "filters", onsubmit: runSearch },
    field("Speed", speed),
    h("label", { class: "replay-idle" }, idle, " Shorten pauses over 2 s"),
    field("Search the recording", search),
    h("button", { type: "submit", id: "replay-search-submit" }, "Search"),
  );
  speed.addEventListener("change", () => mount(player?.getCurrentTime() ?? 0, true));
  idle.addEventListener("change", () => {
    mount(0);
    runSearch();
  });

  replace(container, heading, meta, integrity, message, host, controls, hits, downloads);

  void (async () => {
    try {
      const [summary, text] = await Promise.all([api.recording(id), api.recordingCast(id)]);
      if (disposed) return;
      heading.textContent = `Replay: ${summary.username} on ${summary.serverName}`;
      meta.textContent = `Session ${summary.sessionId}, started ${formatFullTime(summary.startedAt)}`;
      cast = parseCast(text);
      mount();
      document.body.dataset.replay = "ready";
    } catch (error) {
      if (!disposed) say(message, errorText(error));
    }
    await showIntegrity(integrity, id, () => disposed);
  })();

  return () => {
    disposed = true;
    player?.dispose();
    delete document.body.dataset.replay;
    document.title = titleBefore;
  };
}
