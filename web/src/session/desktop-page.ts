// The desktop page (#/sessions/<id> of an RDP server): guacamole-common-js rendering through a tunnel
// over the session socket, scaled to the window, with keyboard, mouse, Ctrl-Alt-Del and Windows-key
// buttons and a clipboard panel (each direction as policy allows; the connector enforces it). Mirrors
// the session state on <body data-session-state> for tests, like the terminal page.
import "./desktop.css";
import Guacamole from "guacamole-common-js";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h } from "../shared/dom.ts";
import { closeCodeText, endReasonText } from "./end-reasons.ts";
import { mountDisplay } from "./guac-display.ts";
import { sessionTunnel } from "./guac-tunnel.ts";
import { SessionSocket, type SessionStop, type SocketState, type WarningReason } from "./session-socket.ts";
import { SessionStatusBar } from "./session-status.ts";
import { SessionWarningBanner } from "./session-warning.ts";
import { showEndedBanner } from "./terminal-view.ts";

/** Window resizes settle for this long (ms) before the remote desktop is asked for a new size. */
const RESIZE_DEBOUNCE_MS = 250;
/** Pasted text larger than this (bytes) is not sent; policy's own cap applies on the connector too. */
const PASTE_MAX_BYTES = 1024 * 1024;

const KEYSYM = { ctrl: 0xffe3, alt: 0xffe9, del: 0xffff, win: 0xffeb } as const;

export function renderDesktop(container: HTMLElement, sessionId: string): Cleanup {
  document.title = "Desktop · PSM";
  const body = document.body;
  const status = new SessionStatusBar();
  const warning = new SessionWarningBanner();
  const host = h("div", { id: "desktop", class: "desktop-host", tabindex: "0", "data-session-id": sessionId });
  const banner = h("div", { id: "ended-banner", class: "ended-banner", role: "alert", hidden: true });
  const remoteClipboard = h("textarea", { id: "clipboard-remote", readonly: true, rows: "3" }) as HTMLTextAreaElement;
  const localClipboard = h("textarea", { id: "clipboard-local", rows: "3" }) as HTMLTextAreaElement;
  const clipboardPanel = h(
    "div",
    { class: "clipboard-panel", hidden: true },
    h("label", {}, "Copied on the desktop", remoteClipboard),
    h("label", {}, "To paste on the desktop", localClipboard),
    h("button", { type: "button", id: "clipboard-send", onclick: () => sendClipboard() }, "Send to desktop"),
    h("p", { class: "hint" }, "Copy and paste each work only where policy allows them."),
  );
  const button = (id: string, label: string, onclick: () => void) =>
    h("button", { type: "button", id, class: "desktop-button", onclick }, label);
  const toolbar = h(
    "div",
    { class: "desktop-toolbar" },
    button("send-cad", "Ctrl-Alt-Del", () => pressChord([KEYSYM.ctrl, KEYSYM.alt, KEYSYM.del])),
    button("send-win", "Windows key", () => pressChord([KEYSYM.win])),
    button("toggle-clipboard", "Clipboard", () => {
      clipboardPanel.hidden = !clipboardPanel.hidden;
    }),
  );
  container.classList.add("terminal-page", "desktop-page");
  append(
    container,
    status.element,
    warning.element,
    toolbar,
    clipboardPanel,
    h("div", { class: "desktop-area" }, host, banner),
  );

  let stopped = false;
  const guac = sessionTunnel((text) => {
    if (!stopped && socket.state === "connected" && socket.sendInput(text)) warning.clear("idle");
  });
  const client = new Guacamole.Client(guac.tunnel);
  const display = client.getDisplay();
  const { scale: fitToHost, dispose: unmount } = mountDisplay(display, host, "desktop-canvas");

  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  function askForSize(): void {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (socket.state === "connected" && host.clientWidth > 0)
        client.sendSize(Math.floor(host.clientWidth), Math.floor(host.clientHeight));
    }, RESIZE_DEBOUNCE_MS);
  }
  const observer = new ResizeObserver(() => {
    fitToHost();
    askForSize();
  });
  observer.observe(host);

  const mouse = new Guacamole.Mouse(display.getElement());
  mouse.onEach(["mousedown", "mouseup", "mousemove"], (event) => {
    if (!stopped) client.sendMouseState(event.state, true);
  });
  const keyboard = new Guacamole.Keyboard(host);
  keyboard.onkeydown = (keysym) => {
    if (!stopped) client.sendKeyEvent(1, keysym);
    return false;
  };
  keyboard.onkeyup = (keysym) => {
    if (!stopped) client.sendKeyEvent(0, keysym);
  };
  host.addEventListener("mousedown", () => host.focus());

  function pressChord(keysyms: number[]): void {
    for (const k of keysyms) client.sendKeyEvent(1, k);
    for (const k of [...keysyms].reverse()) client.sendKeyEvent(0, k);
    host.focus();
  }

  client.onclipboard = (stream, mimetype) => {
    if (mimetype !== "text/plain") return;
    const reader = new Guacamole.StringReader(stream);
    let text = "";
    reader.ontext = (chunk) => {
      text += chunk;
    };
    reader.onend = () => {
      remoteClipboard.value = text;
    };
  };

  function sendClipboard(): void {
    const text = localClipboard.value;
    if (!text || new TextEncoder().encode(text).byteLength > PASTE_MAX_BYTES) return;
    const writer = new Guacamole.StringWriter(client.createClipboardStream("text/plain"));
    writer.sendText(text);
    writer.sendEnd();
  }

  function setState(state: SocketState): void {
    body.dataset.sessionState = state;
    status.setState(state);
    if (state === "connected") {
      status.setNotice(null);
      askForSize();
    }
  }

  function showStopped(text: string, reason?: string, closeCode?: number, note?: string): void {
    if (stopped) return;
    stopped = true;
    if (reason) body.dataset.endReason = reason;
    if (closeCode !== undefined) body.dataset.closeCode = String(closeCode);
    setState("ended");
    keyboard.reset();
    warning.clear();
    status.setTimeWarning(null);
    showEndedBanner(banner, { text, reason, note, back: { href: "#/requests", label: "Back to my requests" } });
  }

  function onStopped(stop: SessionStop): void {
    if ("reason" in stop) showStopped(endReasonText(stop.reason), stop.reason, undefined, stop.note);
    else showStopped(closeCodeText(stop.closeCode), undefined, stop.closeCode);
  }

  const socket: SessionSocket = new SessionSocket(
    // The room's hello carries a terminal size; a desktop's size travels as a Guacamole `size` instead.
    { sessionId, endpoint: "ws", size: () => ({ cols: 80, rows: 24 }) },
    {
      state: setState,
      deadline: (unixMs) => {
        status.setDeadline(unixMs);
        const warnedAt = warning.at("time_limit");
        if (warnedAt !== undefined && unixMs > warnedAt) {
          warning.clear("time_limit");
          status.setTimeWarning(null);
        }
      },
      warning: (reason: WarningReason, at: number) => {
        if (stopped) return;
        warning.show(reason, at);
        if (reason === "time_limit") status.setTimeWarning(at);
      },
      output: (payload, rendered) => {
        try {
          guac.receive(payload);
          body.dataset.desktopFrames = String(guac.frames);
        } catch {
          socket.stop();
          showStopped(closeCodeText(4001), undefined, 4001);
          return;
        }
        rendered();
      },
      // The stream starts afresh (a new page, or a resume the room could not honour byte for byte):
      // the connector repaints the whole desktop, from an instruction boundary.
      reset: () => guac.reset(),
      stopped: onStopped,
      error: (code) => status.setNotice(errorText(new ApiError(0, code))),
      // The user is told while admins watch the desktop live (policy `notifyWatched`).
      watchers: (count) => status.setWatchers(count),
    },
  );

  async function loadSummary(): Promise<void> {
    try {
      const summary = await api.session(sessionId);
      if (stopped) return;
      status.setServer(summary.serverName, summary.credentialName);
      status.setDeadline(summary.deadline);
      if (summary.status === "ended") {
        socket.stop();
        showStopped(endReasonText(summary.endReason), summary.endReason ?? undefined);
      }
    } catch {
      // The socket reports what matters; the bar keeps its placeholders.
    }
  }

  setState("connecting");
  client.connect();
  socket.start();
  void loadSummary();
  host.focus();

  return () => {
    stopped = true;
    socket.stop();
    observer.disconnect();
    clearTimeout(resizeTimer);
    keyboard.reset();
    client.disconnect();
    unmount();
    status.dispose();
    warning.dispose();
    delete body.dataset.sessionState;
    delete body.dataset.endReason;
    delete body.dataset.closeCode;
    delete body.dataset.desktopFrames;
  };
}
