// Recordings (#/recordings): the sessions' recordings the signed-in user may see, filtered by user,
// server, zone and time, each with a link to its replay. Test hooks: #recordings-table rows carry
// data-recording-id and data-session-id.
import type { RecordingSummary } from "../../protocol/index.ts";
import { api, errorText } from "./api.ts";
import { type Cleanup, field, h, replace, say } from "./dom.ts";
import { formatFullTime, fromLocalInput, timeElement } from "./format.ts";

function duration(r: RecordingSummary): string {
  if (!r.endedAt) return "in progress";
  const s = Math.round((r.endedAt - r.startedAt) / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const size = (bytes: number) => (bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`);

export function renderRecordings(container: HTMLElement): Cleanup {
  document.title = "Recordings · PSM";
  let disposed = false;
  const input = (id: string, type = "text") =>
    h("input", { id, name: id, type, autocomplete: "off", spellcheck: "false", maxlength: 64 });
  const user = input("recordings-user");
  const server = input("recordings-server");
  const zone = input("recordings-zone");
  const from = input("recordings-from", "datetime-local");
  const to = input("recordings-to", "datetime-local");
  const message = h("p", { class: "notice", role: "alert", hidden: true });
  const body = h("tbody");
  const table = h(
    "table",
    { id: "recordings-table", class: "data-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Started", "User", "Server", "Length", "Size", "State", ""].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    body,
  );

  async function load(): Promise<void> {
    say(message, null);
    try {
      const rows = await api.recordings({
        user: user.value.trim() || undefined,
        server: server.value.trim() || undefined,
        zone: zone.value.trim() || undefined,
        from: fromLocalInput(from.value),
        to: fromLocalInput(to.value),
      });
      if (disposed) return;
      replace(
        body,
        ...rows.map((r) =>
          h(
            "tr",
            {
              "data-recording-id": r.id,
              "data-session-id": r.sessionId,
              "data-status": r.status,
              "data-format": r.format,
            },
            h("td", {}, timeElement(r.startedAt, formatFullTime(r.startedAt))),
            h("td", {}, r.username),
            h("td", {}, r.serverName, r.format === "guacamole" ? " (desktop)" : ""),
            h("td", {}, duration(r)),
            h("td", {}, size(r.bytes)),
            h("td", {}, r.status === "stored" ? (r.complete ? "stored" : "stored, incomplete") : r.status),
            h("td", {}, h("a", { class: "replay", href: `#/recordings/${encodeURIComponent(r.id)}` }, "Replay")),
          ),
        ),
      );
      if (rows.length === 0) say(message, "No recordings match.", "info");
    } catch (error) {
      if (!disposed) say(message, errorText(error));
    }
  }

  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void load();
      },
    },
    field("User", user),
    field("Server", server),
    field("Zone id", zone),
    field("From", from),
    field("To", to),
    h("button", { type: "submit", id: "recordings-filter" }, "Filter"),
  );
  replace(container, h("h1", {}, "Recordings"), form, message, table);
  void load();
  return () => {
    disposed = true;
  };
}
