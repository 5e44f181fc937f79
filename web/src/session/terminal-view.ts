// The xterm.js terminal both terminal pages share (look, fit to its host, the ended banner), and its
// read-only variant for an admin's live view, where hostile output must not act in the viewer's browser.
import "@xterm/xterm/css/xterm.css";
import "./terminal.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { MAX_COLS, MAX_ROWS } from "../../../protocol/index.ts";
import type { BackLink } from "./session-status.ts";
import { type Cleanup, h, replace } from "../shared/dom.ts";

/** Resize events are coalesced for this long (ms) before the terminal is refitted. */
const RESIZE_DEBOUNCE_MS = 100;
/** Terminal scrollback, in lines. */
const SCROLLBACK_LINES = 5000;

/**
 * OSC commands a watched session's output could use to act outside the terminal: 0/1/2 set the window
 * title, 8 makes hyperlinks (xterm would offer to open them), 52 reads or writes the clipboard. A
 * handler that returns true consumes the sequence, so xterm's own handling never runs.
 */
const VIEWER_SWALLOWED_OSC = [0, 1, 2, 8, 52] as const;

/**
 * OSC 8 (hyperlinks) is swallowed on the user's own terminal too: the target writes the link text and
 * the URL separately, so a hostile server could print "https://psm.example/login" over a phishing URL.
 * Swallowed, the text still prints but is never a link; xterm's default would open it after a confirm().
 */
const USER_SWALLOWED_OSC = [8] as const;

export interface TerminalView {
  term: Terminal;
  /** Stops the fitting and disposes the terminal. */
  dispose: Cleanup;
}

/**
 * Opens a terminal in `host` that keeps itself fitted to the host's size (window resizes and layout
 * changes alike). Never hyperlinks (OSC 8). `readOnly`: no keyboard input (so no answers to terminal queries
 * either, as long as the caller wires neither onData nor onBinary), no title or clipboard sequences, no cursor blink.
 */
export function mountTerminal(host: HTMLElement, { readOnly }: { readOnly: boolean }): TerminalView {
  const term = new Terminal({
    cursorBlink: !readOnly,
    disableStdin: readOnly,
    fontFamily: 'ui-monospace, "SFMono-Regular", "Cascadia Mono", Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: 14,
    scrollback: SCROLLBACK_LINES,
    theme: { background: "#0d1117", foreground: "#d6dde6", cursor: "#8ab4f8", selectionBackground: "#2f4a6d" },
    // Second guard, should an OSC 8 link ever get through: activating it does nothing.
    linkHandler: { activate: () => {} },
  });
  const swallowed = (readOnly ? VIEWER_SWALLOWED_OSC : USER_SWALLOWED_OSC).map((code) =>
    term.parser.registerOscHandler(code, () => true),
  );
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);

  function refit(): void {
    // FitAddon measures the container; a hidden or zero-size container yields no proposal.
    if (host.clientWidth > 0 && host.clientHeight > 0) fit.fit();
  }
  refit();

  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  const onResize = (): void => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(refit, RESIZE_DEBOUNCE_MS);
  };
  window.addEventListener("resize", onResize);
  // Layout changes that are not window resizes (the nav wrapping, the banner) also change the space.
  const observer = new ResizeObserver(onResize);
  observer.observe(host);

  return {
    term,
    dispose() {
      observer.disconnect();
      window.removeEventListener("resize", onResize);
      clearTimeout(resizeTimer);
      for (const disposable of swallowed) disposable.dispose();
      term.dispose();
    },
  };
}

/** The terminal's size within the protocol's bounds, for the socket's hello. */
export function termSize(term: Terminal): { cols: number; rows: number } {
  return {
    cols: Math.min(Math.max(term.cols, 1), MAX_COLS),
    rows: Math.min(Math.max(term.rows, 1), MAX_ROWS),
  };
}

/** The ended banner's content: `note` is a person's words (e.g. an admin's reason for a kill). */
export interface EndedBanner {
  heading?: string;
  text: string;
  reason?: string | undefined;
  note?: string | undefined;
  back: BackLink;
}

/** Fills and shows the `#ended-banner` element over the terminal. */
export function showEndedBanner(banner: HTMLElement, { heading, text, reason, note, back }: EndedBanner): void {
  if (reason) banner.dataset.endReason = reason;
  replace(
    banner,
    h("h2", {}, heading ?? "Session ended"),
    h("p", { id: "ended-reason" }, text),
    // A text node, never parsed as HTML.
    note ? h("blockquote", { id: "ended-note", class: "ended-note" }, note) : null,
    h("a", { href: back.href, class: "button" }, back.label),
    // The last output stays underneath: the overlay can be put away to read it.
    h(
      "button",
      { type: "button", id: "ended-dismiss", class: "button-quiet", onclick: () => (banner.hidden = true) },
      "Read the last output",
    ),
  );
  banner.hidden = false;
}
