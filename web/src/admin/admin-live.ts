// Admin › Live sessions: the running and starting sessions the user may see (user, server, zone, justification,
// source IP, recording state, idle time, who is watching), refreshed every 5 s with a live countdown and idle
// time; each row links to its read-only live view (#/watch/<id>); admins and zone admins can kill one with a
// reason (auditors see the list read-only). Test hook: a.watch[data-session-id].
import { KillRequest, type LiveSession } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel } from "./admin-ui.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h, replace, say } from "../shared/dom.ts";
import { formatAgo, formatCountdown, formatFullTime, formatMinutes } from "../shared/format.ts";
import { killOptions, killOutcomeText } from "../session/kill-options.ts";

/** The list is re-read this often (ms); the countdowns tick every TICK_MS in between. */
const REFRESH_MS = 5_000;
const TICK_MS = 1_000;
/** Time-left thresholds (ms): amber under 5 minutes, red under 1 minute. */
const WARN_MS = 5 * 60_000;
const DANGER_MS = 60_000;

const HEADERS = ["User", "Server", "Zone", "Justification", "Source IP", "Recording", "Idle", "Watching", "Time left"];

const RECORDING: Record<LiveSession["recording"], { text: string; tone: string }> = {
  recorded: { text: "Recorded", tone: "ok" },
  not_recorded: { text: "Not recorded", tone: "muted" },
  failing: { text: "Recording failing", tone: "danger" },
};

/** "2 min", "1 h 5 min" since the last input; "under 1 min" while the user is typing. */
function idleText(lastInputAt: number | null, now: number): string {
  if (lastInputAt === null) return "—";
  const minutes = Math.floor((now - lastInputAt) / 60_000);
  return minutes < 1 ? "under 1 min" : formatMinutes(minutes);
}

/** One table row, kept across refreshes so an open kill form (and its focus) survives them. */
interface LiveRow {
  tr: HTMLTableRowElement;
  session: LiveSession;
  update(session: LiveSession): void;
  tick(now: number): void;
  /** Whether the kill form is open (its reason may be half typed). */
  killing(): boolean;
}

interface KillControls {
  element: HTMLElement;
  isOpen(): boolean;
}

const who = (s: LiveSession) => `${s.user}'s session on ${s.server}`;

export function renderLiveSessions(container: HTMLElement, ctx: AdminContext): Cleanup {
  const { readOnly } = ctx;
  // The last column holds Watch for everyone, and Kill for admins and zone admins.
  const columns = HEADERS.length + 1;
  const body = h("tbody", {}, emptyRow(columns, "Loading live sessions…"));
  const message = h("p", { id: "live-message", class: "alert", role: "alert", tabindex: -1, hidden: true });
  const updated = h("p", { id: "live-updated", class: "muted small", "aria-live": "off" });
  const rows = new Map<string, LiveRow>();
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let serial = 0;
  let disposed = false;
  /** The message shows a refresh failure (cleared by the next good refresh, unlike a kill's outcome). */
  let showingLoadError = false;
  let formIds = 0;

  function buildRow(first: LiveSession): LiveRow {
    const user = h("th", { scope: "row", class: "live-user" });
    const server = h("td", { class: "live-server" });
    const zone = h("td", { class: "live-zone" });
    const justification = h("td", { class: "live-justification small" });
    const sourceIp = h("td", { class: "live-source mono small" });
    const recording = h("td", { class: "live-recording" });
    const idle = h("td", { class: "live-idle nowrap" });
    const viewers = h("td", { class: "live-viewers" });
    const started = h("time", {});
    const countdown = h("span", { class: "live-left mono" });
    const left = h(
      "td",
      { class: "nowrap" },
      countdown,
      h("br", {}),
      h("span", { class: "muted small" }, "started ", started),
    );
    const watch = h(
      "a",
      { href: `#/watch/${encodeURIComponent(first.id)}`, class: "watch", "data-session-id": first.id },
      "Watch",
    );
    const actions = h("td", { class: "actions" }, h("div", { class: "kill-wrap" }, watch));
    const tr = h("tr", {}, user, server, zone, justification, sourceIp, recording, idle, viewers, left, actions);
    let kill: KillControls | undefined;

    const row: LiveRow = {
      tr,
      session: first,
      update(s) {
        row.session = s;
        tr.dataset.sessionId = s.id;
        tr.dataset.status = s.status;
        tr.dataset.browserAttached = s.browserAttached ? "yes" : "no";
        tr.dataset.recording = s.recording;
        const starting = s.status === "pending";
        // Whether the user's browser is attached: a dot beside the name (spelled out for screen readers).
        const state = s.browserAttached ? "browser attached" : "no browser attached";
        replace(
          user,
          h("span", { class: "live-dot", "aria-hidden": "true", title: state }, s.browserAttached ? "●" : "○"),
          " ",
          s.user,
          h("span", { class: "visually-hidden" }, ` (${state})`),
          starting && " ",
          starting && h("span", { class: "pill pending small" }, "Starting"),
        );
        replace(server, s.server, h("br", {}), h("span", { class: "muted small mono" }, `as ${s.credential}`));
        zone.textContent = s.zone;
        replace(justification, s.justification ?? h("span", { class: "muted" }, "—"));
        replace(sourceIp, s.sourceIp ?? h("span", { class: "muted" }, "unknown"));
        const rec = RECORDING[s.recording];
        replace(recording, h("span", { class: `pill ${rec.tone}` }, rec.text));
        started.dateTime = new Date(s.startedAt).toISOString();
        started.title = formatFullTime(s.startedAt);
        countdown.dataset.deadline = String(s.deadline);
        watch.setAttribute("aria-label", `Watch ${who(s)} (read-only)`);
        replace(viewers, s.watchers.length ? s.watchers.join(", ") : h("span", { class: "muted" }, "Nobody"));
        row.tick(Date.now());
      },
      tick(now) {
        started.textContent = formatAgo(row.session.startedAt, now);
        idle.textContent = idleText(row.session.lastInputAt, now);
        const ms = row.session.deadline - now;
        countdown.textContent = ms > 0 ? formatCountdown(ms) : "Time is up";
        countdown.classList.toggle("warn", ms <= WARN_MS && ms > DANGER_MS);
        countdown.classList.toggle("danger", ms <= DANGER_MS);
      },
      killing: () => kill?.isOpen() ?? false,
    };
    if (!readOnly) {
      kill = killControls(row);
      actions.firstElementChild?.append(kill.element);
    }
    row.update(first);
    return row;
  }

  /** The Kill button and the inline form it opens (reason + Confirm). */
  function killControls(row: LiveRow): KillControls {
    const formId = `kill-form-${++formIds}`;
    const kill = h(
      "button",
      { type: "button", class: "button-danger small-button kill", "aria-expanded": "false", "aria-controls": formId },
      "Kill…",
    );
    const reason = h("input", {
      class: "kill-reason",
      name: "reason",
      required: true,
      minlength: 3,
      maxlength: 500,
      autocomplete: "off",
      placeholder: "Reason (the user sees it)",
    });
    const confirm = h("button", { type: "submit", class: "button-danger small-button kill-confirm" }, "Confirm");
    const cancel = h("button", { type: "button", class: "button-quiet small-button kill-cancel" }, "Cancel");
    const choices = killOptions(ctx.isAdmin);
    const form = h(
      "form",
      { id: formId, class: "kill-form", novalidate: true, hidden: true },
      reason,
      choices.element,
      confirm,
      cancel,
    );

    const open = (show: boolean, focus = true) => {
      form.hidden = !show;
      kill.hidden = show;
      kill.setAttribute("aria-expanded", String(show));
      reason.setAttribute("aria-label", `Reason for ending ${who(row.session)}`);
      if (focus) (show ? reason : kill).focus();
    };
    kill.addEventListener("click", () => open(true));
    cancel.addEventListener("click", () => open(false));
    reason.addEventListener("keydown", (event) => {
      if (event.key === "Escape") open(false);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const parsed = KillRequest.safeParse({ reason: reason.value, ...choices.values() });
      if (!parsed.success) {
        reason.setAttribute("aria-invalid", "true");
        say(message, "Give a reason of at least 3 characters; the user sees it.");
        showingLoadError = false;
        reason.focus();
        return;
      }
      reason.removeAttribute("aria-invalid");
      const { id } = row.session;
      const label = who(row.session);
      void busy(confirm, async () => {
        try {
          const done = await api.killSession(id, parsed.data);
          say(message, `Ended ${label}. ${killOutcomeText(parsed.data, done)}`, "ok");
          reason.value = "";
          open(false, false);
        } catch (failure) {
          say(
            message,
            errorText(failure, {
              conflict: `${label} had already ended.`,
              not_found: `${label} no longer exists.`,
              forbidden: "That session is in a zone you do not administer.",
            }),
          );
          if (failure instanceof ApiError && failure.code === "conflict") open(false, false);
        }
        showingLoadError = false;
        await refresh();
      });
    });
    return { element: h("div", { class: "kill-wrap" }, kill, form), isOpen: () => !form.hidden };
  }

  function draw(list: readonly LiveSession[]): void {
    const sorted = [...list].sort((a, b) => b.startedAt - a.startedAt);
    const seen = new Set(sorted.map((s) => s.id));
    let lostFocus = false;
    for (const [id, row] of rows) {
      if (seen.has(id)) continue;
      if (row.killing()) say(message, `${who(row.session)} has ended.`, "info");
      lostFocus ||= row.tr.contains(document.activeElement);
      row.tr.remove();
      rows.delete(id);
    }
    // Focus was in a row that is gone (e.g. the one just killed): keep it on the outcome, not <body>.
    if (lostFocus) message.focus();
    if (sorted.length === 0) {
      replace(body, emptyRow(columns, "No live sessions right now."));
      return;
    }
    body.querySelector("tr.empty")?.remove();
    sorted.forEach((s, i) => {
      const known = rows.get(s.id);
      known?.update(s);
      const row = known ?? buildRow(s);
      rows.set(s.id, row);
      // Move a row only when it is out of place: moving the row with the focused reason would blur it.
      if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] ?? null);
    });
  }

  async function refresh(): Promise<void> {
    clearTimeout(refreshTimer);
    const mine = ++serial;
    try {
      const list = await api.liveSessions();
      if (disposed || mine !== serial) return;
      draw(list);
      const count = list.length === 1 ? "1 live session" : `${list.length} live sessions`;
      updated.textContent = `${count} · updated ${new Date().toLocaleTimeString()} · refreshes every 5 s`;
      if (showingLoadError) say(message, null);
      showingLoadError = false;
    } catch (failure) {
      if (disposed || mine !== serial) return;
      say(message, `Could not refresh the list. ${errorText(failure)}`);
      showingLoadError = true;
    } finally {
      if (!disposed && mine === serial) refreshTimer = setTimeout(() => void refresh(), REFRESH_MS);
    }
  }

  const ticker = setInterval(() => {
    const now = Date.now();
    for (const row of rows.values()) row.tick(now);
  }, TICK_MS);

  append(
    container,
    panel(
      "live",
      "Live sessions",
      readOnly
        ? "Sessions running now. Watch shows one live, read-only. Only admins and zone admins can end a session."
        : "Sessions running now. Watch shows one live, read-only. Kill ends one at once; your reason is shown to its user and recorded in the audit log.",
      updated,
      dataTable("live-table", "Live sessions", [...HEADERS, readOnly ? "Live view" : "Actions"], body),
      message,
    ),
  );
  void refresh();

  return () => {
    disposed = true;
    clearTimeout(refreshTimer);
    clearInterval(ticker);
  };
}
