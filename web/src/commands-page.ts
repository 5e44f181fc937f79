// The commands timeline (#/commands, auditors and admins): every command line run, alerted on or denied in a
// session, newest first; search by part of the line (any case) and filter by user, server, outcome and time, with
// the filter in the URL (#/commands?q=systemctl%20stop&user=alice) so a reload or a shared link keeps it; page
// back with "Load older". Each row links into its recording at the moment Enter was pressed.
// Test hooks: #commands-filter, #commands-q, #commands-table tr[data-idx], a.commands-replay, #commands-older.
import { type CommandListEntry, CommandOutcome } from "../../protocol/index.ts";
import { api, type CommandsFilter, errorText } from "./api.ts";
import { type Cleanup, append, field, h, replace, say } from "./dom.ts";
import { readFilter, writeFilter } from "./filter-url.ts";
import { formatFullTime, fromLocalInput, timeElement } from "./format.ts";
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
  let rows: CommandListEntry[] = [];
  let next: number | null = null;
  let filter: CommandsFilter = {};
  let disposed = false;
  let loaded = false;
  let serial = 0;

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

  function draw(): void {
    count.textContent = rows.length ? `${rows.length} commands shown` : "";
    if (rows.length === 0) {
      const empty = loaded ? "No command matches." : "Loading the commands…";
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 6 }, empty)));
      return;
    }
    replace(body, ...rows.map(row));
  }

  async function load(more: boolean): Promise<void> {
    const mine = ++serial;
    older.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const page = await api.commands({
        ...filter,
        ...(more && next !== null ? { before: next } : {}),
        limit: PAGE_SIZE,
      });
      if (disposed || mine !== serial) return;
      rows = more ? [...rows, ...page.commands] : page.commands;
      next = page.next;
      loaded = true;
      older.hidden = next === null;
      say(message, null);
      draw();
    } catch (failure) {
      if (disposed || mine !== serial) return;
      say(message, `Could not load the commands. ${errorText(failure)}`);
    } finally {
      older.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  function takeFilter(): boolean {
    const fromMs = fromLocalInput(from.value);
    const toMs = fromLocalInput(to.value);
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
      say(message, "“From” must be before “To”.");
      from.focus();
      return false;
    }
    const value = (input: HTMLInputElement) => input.value.trim() || undefined;
    filter = {
      q: value(text),
      user: value(pickers.user.input),
      server: value(pickers.server.input),
      action: CommandOutcome.safeParse(action.value).data,
      from: fromMs,
      to: toMs,
    };
    writeFilter("/commands", {
      q: filter.q,
      user: filter.user,
      server: filter.server,
      action: filter.action,
      from: fromMs === undefined ? undefined : from.value,
      to: toMs === undefined ? undefined : to.value,
    });
    return true;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (takeFilter()) void load(false);
  });
  form.addEventListener("reset", () => {
    // The reset event fires before the fields clear; they were filled from the URL, so clear them by hand.
    queueMicrotask(() => {
      for (const input of [text, pickers.user.input, pickers.server.input, from, to]) input.value = "";
      action.value = "";
      if (takeFilter()) void load(false);
    });
  });
  older.addEventListener("click", () => void load(true));

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
  draw();
  void load(false);
  return () => {
    disposed = true;
    for (const picker of Object.values(pickers)) picker.dispose();
  };
}
