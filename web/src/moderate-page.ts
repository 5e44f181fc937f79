// Moderate (#/moderate): the live moderated sessions the signed-in user may moderate (GET /api/moderation,
// docs/governance.md), re-read every 10 s; each row links to the moderator's view (#/moderate/<id>, watch-page.ts
// in moderator mode). Test hooks: #moderate-list, a.moderate[data-session-id].
import type { ModerationSession } from "../../protocol/index.ts";
import { dataTable, emptyRow } from "./admin-ui.ts";
import { api, errorText } from "./api.ts";
import { commandReviewsPanel } from "./command-reviews-panel.ts";
import { type Cleanup, h, replace } from "./dom.ts";
import { timeElement } from "./format.ts";

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
  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** What the table shows now: rows are rebuilt only when it changes, so a focused link keeps its focus. */
  let shown: string | undefined;

  async function load(): Promise<void> {
    try {
      const list = await api.moderation();
      if (disposed) return;
      message.hidden = true;
      const key = JSON.stringify(list);
      if (key === shown) return;
      shown = key;
      if (list.length === 0) replace(body, emptyRow(HEADERS.length, "No session is waiting for you to moderate."));
      else replace(body, ...list.map(row));
    } catch (error) {
      if (disposed) return;
      message.textContent = errorText(error);
      message.hidden = false;
    } finally {
      if (!disposed) timer = setTimeout(() => void load(), REFRESH_MS);
    }
  }

  void load();
  return () => {
    disposed = true;
    reviews.cleanup();
    clearTimeout(timer);
  };
}
