// Moderate (#/moderate): the live moderated sessions the signed-in user may moderate (GET /api/moderation,
// docs/governance.md), re-read every 10 s; each row links to the moderator's view (#/moderate/<id>, watch-page.ts
// in moderator mode). Test hooks: #moderate-list, a.moderate[data-session-id].
import type { ModerationSession } from "../../../protocol/index.ts";
import { dataTable, emptyRow } from "../admin/admin-ui.ts";
import { api } from "../shared/api.ts";
import { commandReviewsPanel } from "../access/command-reviews-panel.ts";
import { poll } from "../shared/poll.ts";
import { type Cleanup, h, replace } from "../shared/dom.ts";
import { timeElement } from "../shared/format.ts";

/** The list is re-read this often (ms): moderated sessions start and end while the page is open. */
const REFRESH_MS = 10_000;

const HEADERS = ["User", "Server", "Started", "Ends", "Moderators needed", "Moderate"];

function row(s: ModerationSession): HTMLTableRowElement {
  return h(
    "tr",
    { "data-session-id": s.id },
    h("th", { scope: "row" }, s.user),
    h("td", {}, s.server),
    h("td", { class: "nowrap" }, timeElement(s.startedAt)),
    h("td", { class: "nowrap" }, timeElement(s.deadline)),
    h("td", {}, String(s.required)),
    h(
      "td",
      { class: "actions" },
      h(
        "a",
        { href: `#/moderate/${encodeURIComponent(s.id)}`, class: "moderate", "data-session-id": s.id },
        `Moderate ${s.user} on ${s.server}`,
      ),
    ),
  );
}

export function renderModerate(container: HTMLElement): Cleanup {
  document.title = "Moderate · PSM";
  const body = h("tbody", {}, emptyRow(HEADERS.length, "Loading…"));
  const message = h("p", { id: "moderate-message", class: "alert", role: "alert", hidden: true });
  const reviews = commandReviewsPanel();
  container.append(
    h("h1", {}, "Moderate"),
    h(
      "p",
      { class: "muted" },
      "Sessions whose policy needs a moderator from a group you are in. Nothing the user types reaches the server until enough moderators watch; you can lock their input for a moment or end the session.",
    ),
    message,
    reviews.element,
    dataTable("moderate-list", "Sessions you may moderate", HEADERS, body),
  );
  const stop = poll({
    read: api.moderation,
    everyMs: REFRESH_MS,
    message,
    show: (list) => {
      if (list.length === 0) replace(body, emptyRow(HEADERS.length, "No session is waiting for you to moderate."));
      else replace(body, ...list.map(row));
    },
  });
  return () => {
    stop();
    reviews.cleanup();
  };
}
