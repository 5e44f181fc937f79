// The terminal page (#/sessions/<id>): xterm.js filling the page under the status bar, wired to a
// SessionSocket, with the room's end-of-session warnings under the bar. Mirrors the session state on
// <body data-session-state> for tests. On a moderated session the bar says who moderates, and while the room
// holds input (no moderator yet, or locked) nothing typed is sent: the bar says so instead. Where the policy lets the
// user share the session, "Share" invites a colleague to type too (share-panel.ts); the bar then says who else types
// and who is typing now (session-presence.ts).
import type { ErrorCode, Moderation } from "../../../protocol/index.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h } from "../shared/dom.ts";
import { closeCodeText, endReasonText } from "./end-reasons.ts";
import { SessionSocket, type SessionStop, type SocketState, type WarningReason } from "./session-socket.ts";
import { ExtendControl } from "./session-extend.ts";
import { FilesPanel } from "./files-panel.ts";
import { moderationText, SessionStatusBar } from "./session-status.ts";
import { SessionWarningBanner } from "./session-warning.ts";
import { Presence } from "./session-presence.ts";
import { SharePanel } from "./share-panel.ts";
import { mountTerminal, showEndedBanner, termSize } from "./terminal-view.ts";

/** While reconnecting, the session's record is re-read at most this often (ms) to learn if it ended. */
const RECHECK_MS = 10_000;

const ROOM_ERROR_TEXT: Partial<Record<ErrorCode, string>> = {
  rate_limited: "Too much input too fast; some was dropped.",
  forbidden: "You are not allowed to use this session.",
  not_found: "This session does not exist.",
};

/** `onBinary` strings carry one byte per character (legacy mouse reports), not UTF-16 text. */
function binaryStringBytes(data: string): Uint8Array {
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  return bytes;
}

export function renderTerminal(container: HTMLElement, sessionId: string): Cleanup {
  document.title = "Session · PSM";
  const body = document.body;
  const extend = new ExtendControl(sessionId, () => term.focus());
  // Check in from the session itself: it ends the checkout (and this session) once confirmed.
  const checkIn = h(
    "button",
    { type: "button", id: "session-check-in", class: "small-button", hidden: true },
    "Check in",
  );
  let checkoutId: string | null = null;
  checkIn.addEventListener("click", () => {
    if (!checkoutId) return;
    const live = socket.state === "connected" || socket.state === "reconnecting";
    if (live && !window.confirm("Check in now? This session ends and the checkout is closed.")) return;
    checkIn.disabled = true;
    api.checkIn(checkoutId).then(
      () => status.setNotice("Checked in."),
      (failure: unknown) => {
        checkIn.disabled = false;
        status.setNotice(errorText(failure, { conflict: "This checkout is already over." }));
      },
    );
  });
  // File transfer (docs/governance.md): the button shows once the room says the policy allows a direction.
  const files = new FilesPanel({
    sendFile: (message) => socket.sendFile(message),
    sendFileFrame: (frame) => socket.sendFileFrame(frame),
  });
  // Shared sessions (docs/governance.md): the button shows once the edge says the policy allows inviting.
  const share = new SharePanel(sessionId, () => term.focus());
  const presence = new Presence(null);
  const status = new SessionStatusBar(
    undefined,
    presence.participants,
    presence.typingNotice,
    share.button,
    extend.element,
    checkIn,
    files.button,
  );
  const warning = new SessionWarningBanner();
  const terminalEl = h("div", { id: "terminal", class: "terminal-host", "data-session-id": sessionId });
  const banner = h("div", { id: "ended-banner", class: "ended-banner", role: "alert", hidden: true });
  container.classList.add("terminal-page");
  append(
    container,
    status.element,
    warning.element,
    files.element,
    share.element,
    h("div", { class: "terminal-area" }, terminalEl, banner),
  );

  const view = mountTerminal(terminalEl, { readOnly: false });
  const term = view.term;

  let stopped = false;
  let lastRecheck = 0;
  let deadline: number | undefined;

  /** A moderated session whose input the room holds now: typed keys are not sent (the room would drop them). */
  let held = false;
  /** The notice shown for input typed while held; cleared once input flows again. */
  let heldNotice: string | null = null;

  /** Whether the session ever reached its target: a session that never did "could not start", it did not "end". */
  let everConnected = false;

  function setState(state: SocketState): void {
    if (state === "connected") everConnected = true;
    body.dataset.sessionState = state;
    status.setState(state);
    if (state === "connected") status.setNotice(null);
    if (state === "reconnecting") {
      files.dropped();
      void recheck();
    }
  }

  function showStopped(text: string, reason?: string, closeCode?: number, note?: string): void {
    if (stopped) return;
    stopped = true;
    if (reason) body.dataset.endReason = reason;
    if (closeCode !== undefined) body.dataset.closeCode = String(closeCode);
    setState("ended");
    term.options.disableStdin = true;
    term.options.cursorBlink = false;
    warning.clear();
    status.setTimeWarning(null);
    extend.disable();
    checkIn.hidden = true;
    files.dropped();
    files.button.hidden = true;
    files.element.hidden = true;
    share.close();
    presence.clear();
    showEndedBanner(banner, {
      heading: everConnected ? "Session ended" : "The session could not start",
      text,
      reason,
      note,
      back: { href: "#/requests", label: "Back to my requests" },
    });
  }

  function onStopped(stop: SessionStop): void {
    if ("reason" in stop) showStopped(endReasonText(stop.reason), stop.reason, undefined, stop.note);
    else showStopped(closeCodeText(stop.closeCode), undefined, stop.closeCode);
  }

  const socket = new SessionSocket(
    {
      sessionId,
      endpoint: "ws",
      size: () => termSize(term),
    },
    {
      state: setState,
      deadline: onDeadline,
      warning: onWarning,
      output: (payload, rendered) => term.write(payload, rendered),
      reset: () => term.reset(),
      stopped: onStopped,
      error: (code) => status.setNotice(ROOM_ERROR_TEXT[code] ?? errorText(new ApiError(0, code))),
      watchers: (count) => status.setWatchers(count),
      moderation: onModeration,
      // Command control: the line was cleared and never ran; the policy's reason is shown until the next notice.
      // Command control's words (docs/governance.md): a refusal, a line held for a reviewer, or its approval.
      notice: (notice) =>
        status.setNotice(notice.code === "command_denied" ? `Command refused: ${notice.message}` : notice.message),
      participants: (state) => {
        presence.setParticipants(state);
        share.refresh();
      },
      typing: (name) => presence.typed(name),
      files: (message) => files.message(message),
      fileFrame: (frame) => files.frame(frame),
    },
  );

  function onModeration(state: Moderation): void {
    status.setModeration(state);
    held = moderationText(state).held;
    body.dataset.inputHeld = String(held);
    if (!held && heldNotice !== null) {
      status.setNotice(null);
      heldNotice = null;
    }
  }

  function onDeadline(unixMs: number): void {
    const later = deadline !== undefined && unixMs > deadline;
    deadline = unixMs;
    status.setDeadline(unixMs);
    // An extension was granted: the offer changed (one fewer left, nothing pending).
    if (later) {
      lastRecheck = 0;
      void recheck();
    }
    // More time was given since the room warned: the time-limit warning no longer stands.
    const warnedAt = warning.at("time_limit");
    if (warnedAt !== undefined && unixMs > warnedAt) {
      warning.clear("time_limit");
      status.setTimeWarning(null);
    }
  }

  function onWarning(reason: WarningReason, at: number): void {
    if (stopped) return;
    warning.show(reason, at);
    if (reason === "time_limit") status.setTimeWarning(at);
  }

  /** Reads the session record: name and deadline for the bar, and whether it already ended. */
  async function recheck(): Promise<void> {
    const now = Date.now();
    if (now - lastRecheck < RECHECK_MS) return;
    lastRecheck = now;
    try {
      const summary = await api.session(sessionId);
      if (stopped) return;
      status.setServer(summary.serverName, summary.credentialName);
      status.setRecording(summary.recorded && summary.status !== "ended");
      checkoutId = summary.checkoutId;
      checkIn.hidden = !checkoutId || summary.status === "ended";
      if (deadline === undefined || summary.deadline > deadline) onDeadline(summary.deadline);
      extend.setOffer(summary.extension);
      if (summary.status === "ended") {
        socket.stop();
        showStopped(endReasonText(summary.endReason), summary.endReason ?? undefined);
      }
    } catch (failure) {
      if (stopped || !(failure instanceof ApiError)) return;
      if (failure.code === "not_found" || failure.code === "forbidden") {
        socket.stop();
        showStopped(errorText(failure, { not_found: "This session does not exist." }));
      }
    }
  }

  const inputs = [
    term.onData((data) => send(data)),
    term.onBinary((data) => send(binaryStringBytes(data))),
    term.onResize(({ cols, rows }) => socket.resize(cols, rows)),
  ];

  function send(data: string | Uint8Array): void {
    if (stopped || socket.state !== "connected") return;
    if (held) {
      heldNotice = "Not sent: input is held until the session is moderated and unlocked.";
      status.setNotice(heldNotice);
      return;
    }
    if (!socket.sendInput(data)) status.setNotice("Input not sent: the connection is backed up.");
    else warning.clear("idle");
  }

  setState("connecting");
  socket.start();
  void recheck();
  void share.load();
  term.focus();

  return () => {
    socket.stop();
    status.dispose();
    warning.dispose();
    share.dispose();
    presence.dispose();
    for (const disposable of inputs) disposable.dispose();
    view.dispose();
    delete body.dataset.sessionState;
    delete body.dataset.endReason;
    delete body.dataset.closeCode;
    delete body.dataset.inputHeld;
  };
}
