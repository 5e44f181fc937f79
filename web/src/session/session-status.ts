// The slim bar above a terminal (the user's or an admin's live view): a back link, what is shown, a
// connection state indicator and a live countdown
// to the session's deadline (amber under 5 minutes or once the room warns, red under 1 minute), with
// spoken warnings at 5 minutes and 1 minute left; on a moderated session, its moderation state.
import type { Moderation } from "../../../protocol/index.ts";
import { append, h } from "../shared/dom.ts";
import type { SocketState } from "./session-socket.ts";

const STATE_TEXT: Record<SocketState, string> = {
  connecting: "Connecting",
  waiting_for_connector: "Waiting for connector",
  connected: "Connected",
  ended: "Ended",
  reconnecting: "Connection lost, reconnecting",
};

/** Countdown thresholds, in ms: amber under 5 minutes, red under 1 minute. */
const WARN_MS = 5 * 60_000;
const DANGER_MS = 60_000;

/** "1:02:03" for an hour or more, "4:05" below. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * What the bar says about a moderated session (docs/governance.md), and whether typed input is held now:
 * "Waiting for a moderator (0 of 1): input is held", "Input locked by a moderator", "Moderated by mona, walt".
 */
export function moderationText(m: Moderation): { text: string; held: boolean } {
  if (m.moderators.length < m.required) {
    const who = m.required === 1 ? "a moderator" : "moderators";
    return { text: `Waiting for ${who} (${m.moderators.length} of ${m.required}): input is held`, held: true };
  }
  if (m.locked) return { text: "Input locked by a moderator", held: true };
  return { text: `Moderated by ${m.moderators.join(", ")}`, held: false };
}

/** Where the bar's ← leads. */
export interface BackLink {
  href: string;
  label: string;
}

const MY_REQUESTS: BackLink = { href: "#/requests", label: "Back to my requests" };

export class SessionStatusBar {
  readonly element: HTMLElement;
  private readonly server = h("span", { id: "session-server", class: "session-server" }, "Session");
  private readonly stateDot = h("span", { class: "dot", "aria-hidden": "true" });
  private readonly stateText = h("span", {}, STATE_TEXT.connecting);
  private readonly state = h("span", { id: "session-state", class: "session-state", "data-state": "connecting" });
  private readonly countdown = h("span", { id: "session-countdown", class: "countdown mono", title: "Time left" });
  /** Polite live region for state changes and time warnings; the ticking countdown itself is not announced. */
  private readonly announcer = h("span", { class: "visually-hidden", "aria-live": "polite", role: "status" });
  private readonly notice = h("span", { id: "session-notice", class: "session-notice", role: "alert", hidden: true });
  /** Shown to the session's user while admins watch live (the room says so when policy tells users). */
  private readonly watchers = h("span", { id: "session-watchers", class: "session-watchers", hidden: true });
  /** A moderated session's state: who moderates, or why input is held. */
  private readonly moderation = h("span", { id: "session-moderation", class: "session-moderation", hidden: true });
  /** Shown while the session is recorded: the user is told, in the bar, all the time. */
  private readonly recording = h(
    "span",
    { id: "session-recording", class: "session-recording", title: "This session is recorded", hidden: true },
    "● Recording",
  );
  private deadline: number | undefined;
  private warned = { warn: false, danger: false };
  /** Set while the room's `time_limit` warning stands: the countdown is amber whatever is left. */
  private roomWarned = false;
  /** When the room's standing time warning says the session ends (unix ms). */
  private warnedAt: number | undefined;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(back: BackLink = MY_REQUESTS, ...actions: HTMLElement[]) {
    append(this.state, this.stateDot, this.stateText);
    this.element = h(
      "div",
      { id: "status-bar", class: "status-bar" },
      h("a", { href: back.href, class: "back", "aria-label": back.label }, "←"),
      this.server,
      this.state,
      this.recording,
      this.notice,
      this.watchers,
      this.moderation,
      h("span", { class: "spacer" }),
      ...actions,
      this.countdown,
      this.announcer,
    );
    this.timer = setInterval(() => this.tick(), 1000);
  }

  setServer(serverName: string, credentialName: string): void {
    this.setLabel(serverName, `${serverName} as ${credentialName}`);
    document.title = `${serverName} · PSM`;
  }

  /** What the bar says is shown (e.g. whose session an admin is watching); plain text, never HTML. */
  setLabel(text: string, title = text): void {
    this.server.textContent = text;
    this.server.title = title;
  }

  setState(state: SocketState): void {
    this.state.dataset.state = state;
    this.stateText.textContent = STATE_TEXT[state];
    this.announcer.textContent = STATE_TEXT[state];
    if (state === "ended") this.countdown.textContent = "";
  }

  /**
   * The room's deadline (its hello, an extension): shown, and a standing time warning for an earlier end is cleared
   * (more time was given since the room warned).
   */
  roomDeadline(unixMs: number): void {
    this.setDeadline(unixMs);
    if (this.warnedAt !== undefined && unixMs > this.warnedAt) this.setTimeWarning(null);
  }

  setDeadline(unixMs: number): void {
    // A later deadline (more time was granted): the spoken warnings are due again.
    if (this.deadline !== undefined && unixMs > this.deadline && !this.roomWarned)
      this.warned = { warn: false, danger: false };
    this.deadline = unixMs;
    this.countdown.dataset.deadline = String(unixMs);
    this.tick();
  }

  /**
   * The room warned that time runs out at `at` (unix ms): count down to it and turn amber now. The
   * warning banner announces it, so the bar's own 5-minute announcement is skipped. `null` clears it.
   */
  setTimeWarning(at: number | null): void {
    this.roomWarned = at !== null;
    this.warnedAt = at ?? undefined;
    if (at !== null) {
      this.warned.warn = true;
      this.setDeadline(at);
    } else {
      this.tick();
    }
  }

  setRecording(recorded: boolean): void {
    this.recording.hidden = !recorded;
  }

  /** A short message next to the state (e.g. input refused); `null` clears it. */
  setNotice(text: string | null): void {
    this.notice.textContent = text ?? "";
    this.notice.hidden = !text;
  }

  /** How many people watch this session live; 0 hides the notice. Announced when it changes. */
  setWatchers(count: number): void {
    const text = count === 0 ? "" : count === 1 ? "Watched live by 1 admin" : `Watched live by ${count} admins`;
    if (text === this.watchers.textContent) return;
    this.watchers.textContent = text;
    this.watchers.hidden = count === 0;
    this.watchers.dataset.count = String(count);
    this.announcer.textContent = text || "No one is watching this session any more.";
  }

  /** A moderated session's state from the room; announced (politely) when what it says changes. */
  setModeration(state: Moderation): void {
    const { text, held } = moderationText(state);
    this.moderation.hidden = false;
    this.moderation.dataset.held = String(held);
    this.moderation.dataset.locked = String(state.locked);
    if (text === this.moderation.textContent) return;
    this.moderation.textContent = text;
    this.announcer.textContent = text;
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.deadline === undefined || this.state.dataset.state === "ended") return;
    const left = this.deadline - Date.now();
    this.countdown.textContent = left > 0 ? `${formatRemaining(left)} left` : "Time is up";
    this.countdown.classList.toggle("warn", (this.roomWarned || left <= WARN_MS) && left > DANGER_MS);
    this.countdown.classList.toggle("danger", left <= DANGER_MS);
    if (left <= DANGER_MS && left > 0 && !this.warned.danger) {
      this.warned = { warn: true, danger: true };
      this.announcer.textContent = "Less than 1 minute left in this session.";
    } else if (left <= WARN_MS && left > DANGER_MS && !this.warned.warn) {
      this.warned.warn = true;
      this.announcer.textContent = `${Math.ceil(left / 60_000)} minutes left in this session.`;
    }
  }
}
