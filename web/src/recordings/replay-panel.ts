// What both replays share (terminal and desktop): the page's layout (the player, its events under it, the side
// panel beside it), a moment's clock time and offset, the speed choice, the downloads, and "How to verify
// offline" with the edge's public keys to download (GET /api/edge-keys, for auditors and admins).
// Test hooks: #replay-speed, #replay-download-cast, #replay-download-manifest, #replay-verify-offline,
// #replay-download-key.
import type { RecordingSummary } from "../../../protocol/index.ts";
import { recordingCastUrl, recordingManifestUrl, routeUrl } from "../shared/api.ts";
import { formatOffset, wallClock } from "./cast-text.ts";
import { field, h, replace } from "../shared/dom.ts";

/** Playback speeds offered (×). */
export const REPLAY_SPEEDS = [0.5, 1, 2, 4, 8, 16];
/** The edge's public key set; the file name is the one its content-disposition gives. */
const EDGE_KEYS_URL = routeUrl("GET /api/edge-keys", {});
const EDGE_KEYS_FILE = "psm-edge-keys.jwks.json";

/** The replay page: heading, meta and message, then the stage (player, controls, "Session events") and the side. */
export function replayLayout(
  container: HTMLElement,
  top: HTMLElement[],
  stage: HTMLElement[],
  markers: HTMLElement,
  side: HTMLElement[],
): void {
  replace(
    container,
    ...top,
    h(
      "div",
      { class: "replay-layout" },
      h("div", { class: "replay-stage" }, ...stage, h("h2", { class: "replay-subhead" }, "Session events"), markers),
      h("aside", { class: "replay-side", "aria-label": "Replay controls" }, ...side),
    ),
  );
}

/** "14:03:27 · +0:05": when `offset` (s into a recording that started at `startedAt`, ms) was, and how far in. */
export function moment(startedAt: number, offset: number): (Node | string)[] {
  const wall = wallClock(startedAt, offset);
  return [h("time", { datetime: wall.iso }, wall.text), " · ", h("span", {}, `+${formatOffset(offset)}`)];
}

export function speedField(): { select: HTMLSelectElement; field: HTMLDivElement } {
  const select = h(
    "select",
    { id: "replay-speed", name: "speed" },
    ...REPLAY_SPEEDS.map((s) => h("option", { value: String(s), selected: s === 1 }, `${s}×`)),
  );
  return { select, field: field("Speed", select) };
}

/** The recording's file name as the edge serves it (GET /api/recordings/{id}/cast, …/manifest). */
function fileNames(summary: Pick<RecordingSummary, "sessionId" | "format">) {
  const ext = summary.format === "guacamole" ? "guac" : "cast";
  return { recording: `session-${summary.sessionId}.${ext}`, manifest: `session-${summary.sessionId}.manifest.jws` };
}

export function downloadLinks(summary: Pick<RecordingSummary, "id" | "sessionId" | "format">): HTMLElement {
  const names = fileNames(summary);
  return h(
    "ul",
    { class: "replay-downloads" },
    h(
      "li",
      {},
      h(
        "a",
        { href: recordingCastUrl(summary.id), download: names.recording, id: "replay-download-cast" },
        `Download the recording (.${summary.format === "guacamole" ? "guac" : "cast"})`,
      ),
    ),
    h(
      "li",
      {},
      h(
        "a",
        { href: recordingManifestUrl(summary.id), download: names.manifest, id: "replay-download-manifest" },
        "Download the signed manifest",
      ),
    ),
  );
}

/**
 * "How to verify offline": the steps, the command with this recording's file names filled in, and the edge's
 * public keys to download for those who may fetch them (`canDownloadKey`: auditors, admins, zone admins).
 */
export function verifyOfflinePanel(
  summary: Pick<RecordingSummary, "id" | "sessionId" | "format">,
  canDownloadKey: boolean,
): HTMLDetailsElement {
  const names = fileNames(summary);
  const command = `npm run recording:verify -- --cast ${names.recording} --manifest ${names.manifest} --key ${EDGE_KEYS_FILE}`;
  return h(
    "details",
    { id: "replay-verify-offline", class: "replay-verify" },
    h("summary", {}, "How to verify offline"),
    h(
      "ol",
      {},
      h("li", {}, "Download the recording and its signed manifest (above)."),
      h(
        "li",
        {},
        "Download the edge's public signing keys: ",
        canDownloadKey
          ? h(
              "a",
              {
                class: "button button-quiet",
                href: EDGE_KEYS_URL,
                download: EDGE_KEYS_FILE,
                id: "replay-download-key",
              },
              "Download public keys (JWK)",
            )
          : h("span", {}, "ask an auditor or an administrator for the file."),
        " It holds no secret: every key the edge signs manifests with, public halves only.",
      ),
      h(
        "li",
        {},
        "In a checkout of edge-psm (Node 20, ",
        h("code", {}, "npm ci"),
        "), with the three files copied into it, run:",
        h("pre", {}, h("code", { id: "replay-verify-command" }, command)),
      ),
      h(
        "li",
        {},
        h("code", {}, "VERIFIED"),
        " (exit 0) means every byte matches what the edge signed. ",
        h("code", {}, "TAMPERED"),
        " (exit 1) names each changed, missing or moved chunk; exit 2 means it could not check.",
      ),
    ),
  );
}
