// Recordings (#/recordings): the sessions' recordings the signed-in user may see, filtered by part of a user's,
// server's or zone's name and by time, with the filter in the URL (#/recordings?user=ali) so a reload or a shared
// link keeps it. Each row says how the session ended and whether its recording is signed, verifies it on demand,
// and links to its replay. Test hooks: #recordings-table rows carry data-recording-id, data-session-id,
// data-status and data-format; .integrity[data-status] after Verify.
import type { RecordingSummary } from "../../../protocol/index.ts";
import { rowButton } from "../admin/admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";
import { endReasonText } from "../session/end-reasons.ts";
import { readFilter, writeFilter } from "./filter-url.ts";
import { formatFullTime, fromLocalInput, timeElement } from "../shared/format.ts";
import { namePicker } from "./name-picker.ts";

const URL_KEYS = ["user", "server", "zone", "from", "to"] as const;

function duration(r: RecordingSummary): string {
  if (!r.endedAt) return "in progress";
  const s = Math.round((r.endedAt - r.startedAt) / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

/** "time_limit" → "Time limit"; the full sentence goes in the cell's title. */
function endReason(r: RecordingSummary): HTMLElement {
  if (!r.endReason) return h("span", { class: "muted" }, r.endedAt ? "—" : "running");
  const label = r.endReason.replaceAll("_", " ");
  return h(
    "span",
    { class: "end-reason", "data-end-reason": r.endReason, title: endReasonText(r.endReason) },
    label.charAt(0).toUpperCase() + label.slice(1),
  );
}

/** What the edge knows without reading the bytes: recording, signed, incomplete; Verify reads them. */
function integrityState(r: RecordingSummary): { text: string; tone: "ok" | "pending" | "" } {
  if (r.status === "recording") return { text: "Recording", tone: "pending" };
  if (!r.signed) return { text: "Not signed", tone: "" };
  if (!r.complete) return { text: "Signed, incomplete", tone: "pending" };
  return { text: r.status === "sealed" ? "Signed, uploading" : "Signed", tone: "ok" };
}

const VERDICT: Record<string, string> = {
  verified: "Verified: matches its signed manifest",
  tampered: "Tampered: does not match its signed manifest",
  unsealed: "Not sealed yet",
  incomplete: "Verified, incomplete",
};

export function renderRecordings(container: HTMLElement): Cleanup {
  document.title = "Recordings · PSM";
  let disposed = false;
  let serial = 0;
  const initial = readFilter(URL_KEYS);
  const pickers = {
    user: namePicker({ id: "recordings-user", kind: "user", value: initial.user, names: api.recordingNames }),
    server: namePicker({ id: "recordings-server", kind: "server", value: initial.server, names: api.recordingNames }),
    zone: namePicker({ id: "recordings-zone", kind: "zone", value: initial.zone, names: api.recordingNames }),
  };
  const from = h("input", { id: "recordings-from", name: "from", type: "datetime-local", value: initial.from ?? "" });
  const to = h("input", { id: "recordings-to", name: "to", type: "datetime-local", value: initial.to ?? "" });
  const message = h("p", { id: "recordings-message", class: "alert", role: "alert", hidden: true });
  const count = h("p", { id: "recordings-count", class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const table = h(
    "table",
    { id: "recordings-table", class: "table" },
    h("caption", { class: "visually-hidden" }, "Recordings, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Started", "User", "Server", "Zone", "Length", "Ended", "Integrity", "Replay"].map((t) =>
          h("th", { scope: "col" }, t),
        ),
      ),
    ),
    body,
  );

  /** A name that filters the list by itself. */
  const filterLink = (key: "user" | "server" | "zone", name: string) =>
    h("a", { href: `#/recordings?${new URLSearchParams({ [key]: name })}` }, name);

  function integrity(r: RecordingSummary): HTMLElement {
    const state = integrityState(r);
    const shown = h("span", { class: `pill integrity ${state.tone}` }, state.text);
    const cell = h("div", { class: "button-row" }, shown);
    if (r.status === "recording") return cell;
    const verify = rowButton("Verify", "verify", `recording of ${r.username} on ${r.serverName}`, async () => {
      verify.disabled = true;
      shown.textContent = "Verifying…";
      try {
        const report = await api.verifyRecording(r.id);
        if (disposed) return;
        shown.dataset.status = report.status;
        shown.textContent = VERDICT[report.status] ?? report.status;
        shown.className = `pill integrity ${report.status === "verified" ? "ok" : "danger"}`;
      } catch (error) {
        if (disposed) return;
        shown.dataset.status = "unchecked";
        shown.textContent = `Not checked: ${errorText(error)}`;
      } finally {
        verify.disabled = false;
      }
    });
    cell.append(verify);
    return cell;
  }

  function row(r: RecordingSummary): HTMLTableRowElement {
    return h(
      "tr",
      {
        "data-recording-id": r.id,
        "data-session-id": r.sessionId,
        "data-status": r.status,
        "data-format": r.format,
      },
      h("td", { class: "small nowrap" }, timeElement(r.startedAt, formatFullTime(r.startedAt))),
      h("td", {}, filterLink("user", r.username)),
      h("td", {}, filterLink("server", r.serverName), r.format === "guacamole" ? " (desktop)" : ""),
      h("td", {}, filterLink("zone", r.zoneName)),
      h("td", { class: "nowrap" }, duration(r), h("div", { class: "muted small" }, size(r.bytes))),
      h("td", {}, endReason(r)),
      h("td", {}, integrity(r)),
      h(
        "td",
        {},
        h(
          "a",
          {
            class: "replay button button-quiet small-button",
            href: `#/recordings/${encodeURIComponent(r.id)}`,
            "aria-label": `Replay: ${r.username} on ${r.serverName}, ${formatFullTime(r.startedAt)}`,
          },
          "Replay",
        ),
      ),
    );
  }

  async function load(): Promise<void> {
    const mine = ++serial;
    say(message, null);
    const fromMs = fromLocalInput(from.value);
    const toMs = fromLocalInput(to.value);
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
      say(message, "“From” must be before “To”.");
      from.focus();
      return;
    }
    const text = (input: HTMLInputElement) => input.value.trim() || undefined;
    const filter = {
      user: text(pickers.user.input),
      server: text(pickers.server.input),
      zone: text(pickers.zone.input),
    };
    writeFilter("/recordings", {
      ...filter,
      from: fromMs === undefined ? undefined : from.value,
      to: toMs === undefined ? undefined : to.value,
    });
    form.setAttribute("aria-busy", "true");
    try {
      const rows = await api.recordings({ ...filter, from: fromMs, to: toMs });
      if (disposed || mine !== serial) return;
      count.textContent = rows.length ? `${rows.length} recording${rows.length === 1 ? "" : "s"}` : "";
      replace(
        body,
        ...(rows.length
          ? rows.map(row)
          : [h("tr", { class: "empty" }, h("td", { colspan: 8 }, "No recordings match these filters."))]),
      );
    } catch (error) {
      if (!disposed && mine === serial) say(message, errorText(error));
    } finally {
      if (mine === serial) form.removeAttribute("aria-busy");
    }
  }

  const form = h(
    "form",
    {
      id: "recordings-filter-form",
      class: "grid-form",
      role: "search",
      novalidate: true,
      onsubmit: (event: Event) => {
        event.preventDefault();
        void load();
      },
    },
    field("User", pickers.user.input, "Part of a name: “ali” finds alice"),
    field("Server", pickers.server.input),
    field("Zone", pickers.zone.input),
    field("From", from),
    field("To", to),
    pickers.user.list,
    pickers.server.list,
    pickers.zone.list,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", id: "recordings-filter" }, "Filter"),
      h(
        "button",
        {
          type: "button",
          class: "button-quiet",
          onclick: () => {
            for (const input of [pickers.user.input, pickers.server.input, pickers.zone.input, from, to])
              input.value = "";
            void load();
          },
        },
        "Clear",
      ),
    ),
  );
  replace(
    container,
    h("h1", {}, "Recordings"),
    h("section", { class: "panel", "aria-label": "Filters" }, form),
    message,
    count,
    h("div", { class: "table-wrap" }, table),
  );
  replace(body, h("tr", { class: "empty" }, h("td", { colspan: 8 }, "Loading recordings…")));
  void load();
  return () => {
    disposed = true;
    for (const picker of Object.values(pickers)) picker.dispose();
  };
}
