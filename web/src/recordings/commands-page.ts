// The commands timeline (#/commands, auditors and admins): every command line run, alerted on or denied in a
// session, newest first; search by part of the line (any case) and filter by user, server, outcome and time, with
// the filter in the URL (#/commands?q=systemctl%20stop&user=alice) so a reload or a shared link keeps it; page
// back with "Load older". Each row links into its recording at the moment Enter was pressed.
// Test hooks: #commands-filter, #commands-q, #commands-table tr[data-idx], a.commands-replay, #commands-older.
import { type CommandListEntry, CommandOutcome } from "../../../protocol/index.ts";
import { api, type CommandsFilter, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h } from "../shared/dom.ts";
import { readFilter, writeFilter } from "./filter-url.ts";
import { fieldText, filteredList, timeRange } from "./filtered-list.ts";
import { formatFullTime, timeElement } from "../shared/format.ts";
import { namePicker } from "./name-picker.ts";

/** Commands per page (the edge allows up to 200). */
const PAGE_SIZE = 50;
const URL_KEYS = ["q", "user", "server", "action", "from", "to"] as const;
const OUTCOME_TEXT: Record<CommandOutcome, string> = { ran: "Ran", alert: "Ran, alerted", denied: "Denied" };

/** Where the replay of `c` opens: its recording, at the second Enter was pressed (`t`, the recording's clock). */
export function replayHref(c: CommandListEntry): string | null {
  if (!c.recordingId) return null;
  const at = c.seconds === null ? "" : `?t=${c.seconds.toFixed(3)}`;
  return `#/recordings/${encodeURIComponent(c.recordingId)}${at}`;
}

export function renderCommands(container: HTMLElement): Cleanup {
  document.title = "Commands · PSM";
  let filter: CommandsFilter = {};

  const initial = readFilter(URL_KEYS);
  const text = h("input", {
    id: "commands-q",
    name: "q",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 200,
    value: initial.q ?? "",
  });
  const pickers = {
    user: namePicker({ id: "commands-user", kind: "user", value: initial.user, names: api.auditNames }),
    server: namePicker({ id: "commands-server", kind: "server", value: initial.server, names: api.auditNames }),
  };
  const action = h(
    "select",
    { id: "commands-action", name: "action" },
    h("option", { value: "" }, "Any outcome"),
    ...CommandOutcome.options.map((o) => h("option", { value: o, selected: o === initial.action }, OUTCOME_TEXT[o])),
  );
  const from = h("input", { id: "commands-from", name: "from", type: "datetime-local", value: initial.from ?? "" });
  const to = h("input", { id: "commands-to", name: "to", type: "datetime-local", value: initial.to ?? "" });
  const form = h(
    "form",
    { id: "commands-filter", class: "grid-form", role: "search", novalidate: true },
    field("Command contains", text, "Any case: “systemctl stop”"),
    field("User", pickers.user.input, "Part of a name"),
    field("Server", pickers.server.input),
    field("Outcome", action),
    field("From", from),
    field("To", to),
    pickers.user.list,
    pickers.server.list,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", id: "commands-search" }, "Search"),
      h("button", { type: "reset", class: "button-quiet" }, "Clear"),
    ),
  );
  const message = h("p", { id: "commands-message", class: "alert", role: "alert", hidden: true });
  const count = h("p", { id: "commands-count", class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const older = h(
    "button",
    { type: "button", id: "commands-older", class: "button-quiet", hidden: true },
    "Load older",
  );
  const table = h(
    "table",
    { id: "commands-table", class: "table" },
    h("caption", { class: "visually-hidden" }, "Commands, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["When", "Who", "Server", "Command", "Outcome", "Recording"].map((l) => h("th", { scope: "col" }, l)),
      ),
    ),
    body,
  );

  function row(c: CommandListEntry): HTMLTableRowElement {
    const href = replayHref(c);
    const outcome = c.rule === null ? OUTCOME_TEXT[c.outcome] : `${OUTCOME_TEXT[c.outcome]} (rule ${c.rule + 1})`;
    return h(
      "tr",
      { "data-idx": c.idx, "data-outcome": c.outcome, ...(c.sessionId ? { "data-session-id": c.sessionId } : {}) },
      h("td", { class: "small nowrap" }, timeElement(c.at, formatFullTime(c.at))),
      h("td", {}, c.user ?? c.userId ?? "—"),
      h("td", {}, c.server ?? c.serverId ?? "—"),
      h("td", {}, h("code", { class: "commands-line" }, c.line)),
      h("td", {}, outcome, c.message ? h("div", { class: "muted small" }, c.message) : null),
      h(
        "td",
        {},
        href
          ? h(
              "a",
              { href, class: "commands-replay" },
              c.seconds === null ? "Replay the session" : "Replay at this moment",
            )
          : h("span", { class: "muted small" }, "Not recorded"),
      ),
    );
  }

  function takeFilter(): boolean {
    const range = timeRange(from, to, message);
    if (!range) return false;
    filter = {
      q: fieldText(text),
      user: fieldText(pickers.user.input),
      server: fieldText(pickers.server.input),
      action: CommandOutcome.safeParse(action.value).data,
      ...range,
    };
    writeFilter("/commands", {
      q: filter.q,
      user: filter.user,
      server: filter.server,
      action: filter.action,
      from: range.from === undefined ? undefined : from.value,
      to: range.to === undefined ? undefined : to.value,
    });
    return true;
  }

  const list = filteredList<CommandListEntry, number>({
    form,
    body,
    older,
    message,
    count,
    columns: 6,
    noun: "commands",
    loading: "Loading the commands…",
    empty: "No command matches.",
    failure: "Could not load the commands.",
    row,
    // The edge's cursor is the last entry it read, which may be past the last row kept.
    fetch: async (before) => {
      const page = await api.commands({ ...filter, ...(before !== undefined ? { before } : {}), limit: PAGE_SIZE });
      return { page: page.commands, next: page.next ?? undefined };
    },
    take: takeFilter,
    clear: [text, pickers.user.input, pickers.server.input, from, to, action],
    errorText,
  });

  append(
    container,
    h("h1", {}, "Commands"),
    h(
      "p",
      { class: "muted" },
      "Every command line run in a session whose policy has command rules, as the shell showed it when Enter was pressed. A guard-rail, not a sandbox: see the governance notes.",
    ),
    h("section", { class: "panel", "aria-label": "Search the commands" }, form),
    message,
    count,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "load-more" }, older),
  );
  takeFilter();
  void list.load(false);
  return () => {
    list.dispose();
    for (const picker of Object.values(pickers)) picker.dispose();
  };
}
