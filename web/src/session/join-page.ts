// Typing in a session shared with you (#/shared/<sessionId>, docs/governance.md "Shared sessions"): after the
// invitation was accepted (shared-page.ts), the session's terminal on the `join` socket, a viewer's socket whose
// keyboard input reaches the target. The bar says whose session it is, who else types and who is typing now; the
// joiner's window size does not drive the session (the user's does). Taken back, expired or ended, the page says
// so. Test hooks: #join-terminal, <body data-session-state>, #ended-banner, #session-participants, #session-typing.
import { CloseCode, type InvitationToMe } from "../../../protocol/index.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h } from "../shared/dom.ts";
import { closeCodeText, endReasonText } from "./end-reasons.ts";
import { recheckWhileReconnecting } from "./recheck.ts";
import { SessionSocket, type SessionStop, type SocketState, type WarningReason } from "./session-socket.ts";
import { Presence } from "./session-presence.ts";
import { type BackLink, SessionStatusBar } from "./session-status.ts";
import { mountTerminal, showEndedBanner, termSize } from "./terminal-view.ts";
import "./share.css";

const SHARED: BackLink = { href: "#/shared", label: "Back to sessions shared with you" };

/** While reconnecting, the invitations are re-read this often (ms) to learn whether this one still stands. */
const RECHECK_MS = 5_000;
/** After this many failed attempts in a row with the invitation still listed, the join is taken as refused. */
const REFUSED_AFTER = 3;

/** `onBinary` strings carry one byte per character (legacy mouse reports), not UTF-16 text. */
function binaryStringBytes(data: string): Uint8Array {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  return bytes;
}

/** `self`: the signed-in person's username (their own typing is not announced to them). */
export function renderJoin(container: HTMLElement, sessionId: string, self: string): Cleanup {
  document.title = "Shared session · PSM";
  const body = document.body;
  const presence = new Presence(self);
  const status = new SessionStatusBar(SHARED, presence.participants, presence.typingNotice);
  status.setLabel("Shared session");
  const terminalEl = h("div", { id: "join-terminal", class: "terminal-host", "data-session-id": sessionId });
  const banner = h("div", { id: "ended-banner", class: "ended-banner", role: "alert", hidden: true });
  container.classList.add("terminal-page");
  append(container, status.element, h("div", { class: "terminal-area" }, terminalEl, banner));

  const view = mountTerminal(terminalEl, { readOnly: false });
  const term = view.term;
  let stopped = false;
  let disposed = false;
  let everConnected = false;
  const rechecks = recheckWhileReconnecting(() => recheck(), RECHECK_MS);

  function setState(state: SocketState): void {
    if (state === "connected") everConnected = true;
    body.dataset.sessionState = state;
    status.setState(state);
    if (state === "connected") status.setNotice(null);
    rechecks.follow(state, stopped);
  }

  function showStopped(text: string, opts: { heading?: string; reason?: string; closeCode?: number } = {}): void {
    if (stopped) return;
    stopped = true;
    if (opts.reason) body.dataset.endReason = opts.reason;
    if (opts.closeCode !== undefined) body.dataset.closeCode = String(opts.closeCode);
    setState("ended");
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    status.setTimeWarning(null);
    presence.clear();
    showEndedBanner(banner, {
      heading: opts.heading ?? (everConnected ? "Session ended" : "Could not join the session"),
      text,
      reason: opts.reason,
      back: SHARED,
    });
  }

  function onStopped(stop: SessionStop): void {
    if ("reason" in stop) showStopped(endReasonText(stop.reason), { reason: stop.reason });
    else if (stop.closeCode === CloseCode.Forbidden)
      // The room closes an invited person's socket when the invitation is taken back or their right to join went.
      showStopped("The session's user took the invitation back, or you may no longer join this session.", {
        heading: "You left the session",
        closeCode: stop.closeCode,
      });
    else showStopped(closeCodeText(stop.closeCode), { closeCode: stop.closeCode });
  }

  function onWarning(reason: WarningReason, at: number): void {
    // An idle warning is the user's (their next keystroke clears it); the joiner sees the time limit only.
    if (stopped || reason !== "time_limit") return;
    status.setTimeWarning(at);
  }

  const socket = new SessionSocket(
    { sessionId, endpoint: "join", size: () => termSize(term) },
    {
      state: setState,
      deadline: (unixMs) => status.roomDeadline(unixMs),
      warning: onWarning,
      output: (payload, rendered) => term.write(payload, rendered),
      reset: () => term.reset(),
      stopped: onStopped,
      error: (code) =>
        status.setNotice(
          code === "rate_limited" ? "Too much input too fast; some was dropped." : errorText(new ApiError(0, code)),
        ),
      participants: (state) => presence.setParticipants(state),
      typing: (name) => presence.typed(name),
    },
  );

  function send(data: string | Uint8Array): void {
    if (stopped || socket.state !== "connected") return;
    if (!socket.sendInput(data)) status.setNotice("Input not sent: the connection is backed up.");
  }
  const inputs = [term.onData((data) => send(data)), term.onBinary((data) => send(binaryStringBytes(data)))];

  /** Names the session from the invitation (the words come from the API, never from the terminal). */
  function describe(invitation: InvitationToMe): void {
    const what = `${invitation.from}'s session on ${invitation.server}`;
    status.setLabel(`Typing in ${what}`);
    document.title = `Typing in ${what} · PSM`;
  }

  /** This session's open invitation to me; undefined when there is none; null when the list could not be read. */
  async function invitation(): Promise<InvitationToMe | undefined | null> {
    try {
      return (await api.invitations()).find((i) => i.sessionId === sessionId);
    } catch {
      return null;
    }
  }

  /** While reconnecting: stop when the invitation no longer stands, or the join keeps being refused. */
  async function recheck(): Promise<void> {
    const found = await invitation();
    if (disposed || stopped || found === null || socket.state !== "reconnecting") return;
    let text: string;
    if (!found) text = "This invitation is no longer open: it was taken back, it expired, or the session ended.";
    else if (found.state !== "joined") text = "You have not joined yet: choose Join under Shared with you.";
    else if (socket.failedAttempts >= REFUSED_AFTER)
      text = "The session refused this page. Join again from Shared with you: each sign-in joins on its own.";
    else return;
    socket.stop();
    showStopped(text, { heading: everConnected ? "You left the session" : "Could not join the session" });
  }

  setState("connecting");
  socket.start();
  void invitation().then((found) => {
    if (!disposed && found) describe(found);
  });
  term.focus();

  return () => {
    disposed = true;
    socket.stop();
    rechecks.dispose();
    status.dispose();
    presence.dispose();
    for (const disposable of inputs) disposable.dispose();
    view.dispose();
    delete body.dataset.sessionState;
    delete body.dataset.endReason;
    delete body.dataset.closeCode;
  };
}
