// The non-blocking strip between the terminal's status bar and the terminal saying the session is about
// to end: a live countdown for a `time_limit` warning, the end time for an `idle` one (the page clears
// that on the user's next keystroke). Test hook: #session-warning[data-warning], hidden when none.
import { h } from "../shared/dom.ts";
import type { WarningReason } from "./session-socket.ts";
import { formatRemaining } from "./session-status.ts";

/** Under this much time left (ms) the time-limit strip turns red. */
const DANGER_MS = 60_000;

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function sentence(reason: WarningReason, at: number, now: number): string {
  if (reason === "idle") {
    return `No input for a while: this session ends at ${clock.format(at)} unless you type something.`;
  }
  const left = at - now;
  return left > 0
    ? `This session ends in ${formatRemaining(left)} — save your work.`
    : "This session is ending now — save your work.";
}

export class SessionWarningBanner {
  /** Mount this: the strip plus a live region that stays in the DOM so screen readers hear each new warning. */
  readonly element: HTMLElement;
  private readonly strip = h("div", { id: "session-warning", class: "session-warning", hidden: true });
  private readonly text = h("span", { id: "session-warning-text" });
  /** Announces a warning once when it arrives; the ticking text in the strip is not a live region. */
  private readonly announcer = h("span", { class: "visually-hidden", role: "alert" });
  /** Standing warnings: reason → unix ms when the session ends for it. */
  private readonly active = new Map<WarningReason, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    this.strip.append(h("span", { class: "session-warning-icon", "aria-hidden": "true" }, "⚠"), this.text);
    this.element = h("div", { class: "session-warning-slot" }, this.strip, this.announcer);
  }

  /** When the standing warning of `reason` says the session ends, if there is one. */
  at(reason: WarningReason): number | undefined {
    return this.active.get(reason);
  }

  show(reason: WarningReason, at: number): void {
    this.active.set(reason, at);
    this.draw();
    this.announcer.textContent = sentence(reason, at, Date.now());
  }

  /** Clears one warning (e.g. `idle` after a keystroke), or all of them with no argument. */
  clear(reason?: WarningReason): void {
    if (reason === undefined) this.active.clear();
    else if (!this.active.delete(reason)) return;
    this.draw();
  }

  dispose(): void {
    this.active.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Shows the warning that ends the session first; ticks once a second while a countdown is shown. */
  private draw(): void {
    let shown: [WarningReason, number] | undefined;
    for (const entry of this.active) if (!shown || entry[1] < shown[1]) shown = entry;
    if (!shown) {
      this.strip.hidden = true;
      delete this.strip.dataset.warning;
      this.strip.classList.remove("danger");
      this.text.textContent = "";
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const [reason, at] = shown;
    const now = Date.now();
    this.strip.hidden = false;
    this.strip.dataset.warning = reason;
    this.strip.dataset.at = String(at);
    this.strip.classList.toggle("danger", reason === "time_limit" && at - now <= DANGER_MS);
    this.text.textContent = sentence(reason, at, now);
    if (reason === "time_limit" && this.timer === undefined) this.timer = setInterval(() => this.draw(), 1000);
    if (reason !== "time_limit" && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
