// The admin's read-only live view (#/watch/<sessionId>): a hardened, input-less xterm fed by a viewer
// SessionSocket on /api/sessions/{id}/watch (a reset and a replay on joining, then live output, with
// credit returned as xterm renders: that is how the room measures this viewer's lag), under a bar
// saying whose session it is, with Kill for admins and zone admins. A desktop (RDP) session is shown
// with guacamole-common-js instead (desktop-watch.ts). Test hooks: #watch-terminal or #watch-desktop,
// <body data-session-state> (as on the terminal page), #ended-banner.
// The same view serves a moderator of a moderated session (#/moderate/<id>, docs/governance.md): the socket is
// /moderate, the bar says "Moderating <user> on <server>" and the session's moderation state, and offers
// Lock input (30 s), Unlock input and End session (hooks #moderate-lock, #moderate-unlock, #moderate-end).
import "./watch.css";
import type { LiveSession, Moderate, Moderation, ModerationSession } from "../../../protocol/index.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import type { WatchView } from "./desktop-watch.ts";
import { type Cleanup, append, h } from "../shared/dom.ts";
import { closeCodeText, endReasonText } from "./end-reasons.ts";
import { recheckWhileReconnecting } from "./recheck.ts";
import { SessionSocket, type SessionStop, type SocketState, type WarningReason } from "./session-socket.ts";
import { type BackLink, SessionStatusBar } from "./session-status.ts";
import { mountTerminal, showEndedBanner, termSize } from "./terminal-view.ts";
import { type KillOutcome, WatchKill } from "./watch-kill.ts";

/** While reconnecting, the live list is re-read this often (ms) to learn whether the session is still live. */
const RECHECK_MS = 5_000;
/**
 * After this many failed connection attempts in a row, with the API answering and listing the session,
 * the live view is taken as refused (policy forbids it, or the zone is not this admin's): a refused
 * upgrade looks like any dropped socket to the page, so retrying would go on for ever.
 */
const REFUSED_AFTER = 3;

const LIVE_SESSIONS: BackLink = { href: "#/admin/live", label: "Back to live sessions" };
const TO_MODERATE: BackLink = { href: "#/moderate", label: "Back to sessions to moderate" };

/** How long Lock input holds the user's input (s); the room unlocks by itself after it. */
export const LOCK_SECONDS = 30;

/** What the page names the session by: the admin's live list, or the moderator's list. */
type Described = Pick<LiveSession, "id" | "user" | "server" | "deadline"> & { credential?: string };

interface Stop {
  heading?: string;
  text: string;
  reason?: string;
  note?: string;
  closeCode?: number;
}

/** `desktop`: the session is RDP; its view is loaded with guacamole-common-js (see main.ts). */
export function renderWatch(
  container: HTMLElement,
  sessionId: string,
  canKill: boolean,
  desktop?: typeof import("./desktop-watch.ts"),
  /** An admin may also lock the user's account at a kill. */
  canLock = false,
  /** `moderate`: a moderator's view of a moderated session (#/moderate/<id>); no Kill, moderation controls instead. */
  mode: "watch" | "moderate" = "watch",
): Cleanup {
  const moderating = mode === "moderate";
  const back = moderating ? TO_MODERATE : LIVE_SESSIONS;
  document.title = moderating ? "Moderate · PSM" : "Live view · PSM";
  const body = document.body;
  const status = new SessionStatusBar(back);
  status.setLabel(moderating ? `Moderating ${sessionId}` : `Watching ${sessionId} — read-only`);
  const terminalEl = desktop
    ? h("div", { id: "watch-desktop", class: "desktop-host", "data-session-id": sessionId })
    : h("div", { id: "watch-terminal", class: "terminal-host", "data-session-id": sessionId });
  const banner = h("div", { id: "ended-banner", class: "ended-banner", role: "alert", hidden: true });
  const kill = canKill && !moderating ? new WatchKill(sessionId, onKill, canLock) : null;
  if (kill) status.element.append(kill.button);
  const controls = moderating ? moderatorControls() : null;
  if (controls) status.element.append(controls.lock, controls.unlock, controls.end);
  container.classList.add("terminal-page", "watch-page");
  append(container, status.element, kill?.form, h("div", { class: "terminal-area" }, terminalEl, banner));

  // Read-only: stdin disabled, title/link/clipboard sequences swallowed. onData and onBinary are never
  // wired, so answers to terminal queries (DA, DSR, ...) and mouse reports go nowhere.
  const view: WatchView = desktop
    ? desktop.mountDesktopWatch(terminalEl, () => {
        socket.stop();
        showStopped({ text: closeCodeText(4001), closeCode: 4001 });
      })
    : terminalView(terminalEl);

  let stopped = false;
  let disposed = false;
  /** The room's hello gave the deadline; the live list's copy may be older. */
  let roomDeadline = false;
  const rechecks = recheckWhileReconnecting(() => recheck(), RECHECK_MS);

  function setState(state: SocketState): void {
    body.dataset.sessionState = state;
    status.setState(state);
    if (state === "connected") status.setNotice(null);
    rechecks.follow(state, stopped);
  }

  function showStopped({ heading, text, reason, note, closeCode }: Stop): void {
    if (stopped) return;
    stopped = true;
    if (reason) body.dataset.endReason = reason;
    if (closeCode !== undefined) body.dataset.closeCode = String(closeCode);
    setState("ended");
    status.setTimeWarning(null);
    status.setNotice(null);
    kill?.close();
    controls?.disable();
    showEndedBanner(banner, { heading, text, reason, note, back });
  }

  function onStopped(stop: SessionStop): void {
    if ("reason" in stop) showStopped({ text: endReasonText(stop.reason), reason: stop.reason, note: stop.note });
    else showStopped({ text: closeCodeText(stop.closeCode), closeCode: stop.closeCode });
  }

  function onDeadline(unixMs: number): void {
    roomDeadline = true;
    status.roomDeadline(unixMs);
  }

  function onWarning(reason: WarningReason, at: number): void {
    // An idle warning is addressed to the user (their next keystroke clears it); the viewer sees only time.
    if (stopped || reason !== "time_limit") return;
    status.setTimeWarning(at);
  }

  function onKill(outcome: KillOutcome): void {
    // The room tells every viewer `ended` (with the reason just given), which brings up the banner; it often
    // comes before the kill's own answer, so what else the kill did goes into the banner then.
    if (stopped) {
      if (outcome.kind === "ended") banner.append(h("p", { id: "kill-outcome" }, outcome.also));
      return;
    }
    status.setNotice(
      outcome.kind === "ended" ? `Kill sent; the session is ending. ${outcome.also}` : "The session had already ended.",
    );
  }

  /** Lock, Unlock and End for a moderator: sent on the moderator's socket; the room answers with `moderation`. */
  function moderatorControls() {
    const button = (id: string, label: string, className: string, onClick: () => void) => {
      const b = h("button", { id, type: "button", class: `small-button ${className}` }, label);
      b.addEventListener("click", onClick);
      return b;
    };
    const send = (action: Moderate["action"], seconds?: number) => {
      if (!socket.moderate(action, seconds)) status.setNotice("Not sent: the live view is not connected.");
    };
    const lock = button("moderate-lock", `Lock input (${LOCK_SECONDS} s)`, "button-quiet", () =>
      send("lock", LOCK_SECONDS),
    );
    const unlock = button("moderate-unlock", "Unlock input", "button-quiet", () => send("unlock"));
    unlock.hidden = true;
    const end = button("moderate-end", "End session", "button-danger", () => {
      if (window.confirm("End this session now? The user is disconnected and told a moderator ended it.")) send("end");
    });
    return {
      lock,
      unlock,
      end,
      /** Shows Lock or Unlock, whichever applies now. */
      update(state: Moderation): void {
        lock.hidden = state.locked;
        unlock.hidden = !state.locked;
      },
      disable(): void {
        for (const b of [lock, unlock, end]) b.disabled = true;
      },
    };
  }

  function onModeration(state: Moderation): void {
    if (stopped) return;
    status.setModeration(state);
    controls?.update(state);
  }

  const socket = new SessionSocket(
    { sessionId, endpoint: moderating ? "moderate" : "watch", readOnly: true, size: () => view.size() },
    {
      state: setState,
      deadline: onDeadline,
      warning: onWarning,
      output: (payload, rendered) => view.output(payload, rendered),
      reset: () => view.reset(),
      stopped: onStopped,
      error: (code) => status.setNotice(errorText(new ApiError(0, code))),
      moderation: onModeration,
    },
  );

  /** Names the session in the bar from the live list (the title comes from the API, never the terminal). */
  function describe(session: Described): void {
    const what = `${session.user} on ${session.server}`;
    if (moderating) {
      status.setLabel(`Moderating ${what}`);
      document.title = `Moderating ${what} · PSM`;
    } else {
      status.setLabel(`Watching ${what} — read-only`, `${what} as ${session.credential}`);
      document.title = `Watching ${what} · PSM`;
    }
    if (!roomDeadline) status.setDeadline(session.deadline);
  }

  /** The session as the live list has it; undefined when absent; null when the list could not be read. */
  async function lookUp(): Promise<Described | undefined | null> {
    try {
      const list: (LiveSession | ModerationSession)[] = moderating ? await api.moderation() : await api.liveSessions();
      return list.find((session) => session.id === sessionId);
    } catch {
      return null;
    }
  }

  /** While reconnecting: stop if the session is no longer live, or if the live view keeps being refused. */
  async function recheck(): Promise<void> {
    const session = await lookUp();
    if (disposed || stopped || session === null || socket.state !== "reconnecting") return;
    if (!session) {
      socket.stop();
      showStopped({ text: "This session is no longer live, or you cannot see it." });
      return;
    }
    describe(session);
    if (socket.failedAttempts >= REFUSED_AFTER) {
      socket.stop();
      showStopped({
        heading: "Live view unavailable",
        text: moderating
          ? "The moderator view was refused: you are not one of this session's moderators."
          : "The live view was refused: this session's policy does not allow watching it, or it is outside your zones.",
      });
    }
  }

  setState("connecting");
  socket.start();
  void lookUp().then((session) => {
    if (!disposed && session) describe(session);
  });

  return () => {
    disposed = true;
    socket.stop();
    rechecks.dispose();
    status.dispose();
    view.dispose();
    delete body.dataset.sessionState;
    delete body.dataset.endReason;
    delete body.dataset.closeCode;
  };
}

/** The read-only terminal (xterm) as a watch view. */
function terminalView(element: HTMLElement): WatchView {
  const view = mountTerminal(element, { readOnly: true });
  const term = view.term;
  return {
    size: () => termSize(term),
    output: (payload, rendered) => term.write(payload, rendered),
    reset: () => term.reset(),
    dispose: () => view.dispose(),
  };
}
