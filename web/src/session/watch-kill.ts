// The live view's Kill control (admins and zone admins): a button for the status bar and the strip it
// opens under the bar asking for a reason (at least 3 characters; the session's user sees it), which ends
// the session with POST /api/sessions/{id}/kill. Test hooks: #watch-kill, #watch-kill-reason, #watch-kill-confirm.
import { KillRequest } from "../../../protocol/index.ts";
import { busy } from "../admin/admin-ui.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { h, say } from "../shared/dom.ts";
import { killOptions, killOutcomeText } from "./kill-options.ts";

/** `ended`: the kill went through (`also`: what else happened); `already`: the session had ended before it (409). */
export type KillOutcome = { kind: "ended"; also: string } | { kind: "already" };

export class WatchKill {
  /** Goes in the status bar. */
  readonly button: HTMLButtonElement;
  /** Goes under the status bar; hidden until the button is pressed. */
  readonly form: HTMLFormElement;
  private readonly reason: HTMLInputElement;
  private readonly confirm: HTMLButtonElement;
  private readonly message: HTMLElement;
  private readonly choices: ReturnType<typeof killOptions>;
  private closed = false;

  constructor(
    private readonly sessionId: string,
    private readonly done: (outcome: KillOutcome) => void,
    canLock: boolean,
  ) {
    this.choices = killOptions(canLock);
    this.button = h(
      "button",
      {
        id: "watch-kill",
        type: "button",
        class: "button-danger small-button",
        "aria-expanded": "false",
        "aria-controls": "watch-kill-form",
      },
      "Kill…",
    );
    this.reason = h("input", {
      id: "watch-kill-reason",
      class: "kill-reason",
      name: "reason",
      required: true,
      minlength: 3,
      maxlength: 500,
      autocomplete: "off",
      placeholder: "Why this session is being ended",
    });
    this.confirm = h(
      "button",
      { id: "watch-kill-confirm", type: "submit", class: "button-danger small-button" },
      "Kill session",
    );
    const cancel = h("button", { type: "button", class: "button-quiet small-button" }, "Cancel");
    this.message = h("span", { id: "watch-kill-message", role: "alert", hidden: true });
    this.form = h(
      "form",
      { id: "watch-kill-form", class: "watch-kill-form", novalidate: true, hidden: true },
      h("label", { for: "watch-kill-reason" }, "Reason (the user sees it):"),
      this.reason,
      this.choices.element,
      this.confirm,
      cancel,
      this.message,
    );

    this.button.addEventListener("click", () => this.open(true));
    cancel.addEventListener("click", () => this.open(false));
    this.reason.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.open(false);
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  /** The session is over: nothing left to kill. */
  close(): void {
    this.closed = true;
    this.form.hidden = true;
    this.button.hidden = true;
  }

  private open(show: boolean, focus = true): void {
    if (this.closed) return;
    this.form.hidden = !show;
    this.button.hidden = show;
    this.button.setAttribute("aria-expanded", String(show));
    if (!show) say(this.message, null);
    if (focus) (show ? this.reason : this.button).focus();
  }

  private async submit(): Promise<void> {
    const parsed = KillRequest.safeParse({ reason: this.reason.value, ...this.choices.values() });
    if (!parsed.success) {
      this.reason.setAttribute("aria-invalid", "true");
      say(this.message, "Give a reason of at least 3 characters; the user sees it.");
      this.reason.focus();
      return;
    }
    this.reason.removeAttribute("aria-invalid");
    await busy(this.confirm, async () => {
      try {
        const result = await api.killSession(this.sessionId, parsed.data);
        this.reason.value = "";
        this.open(false, false);
        this.done({ kind: "ended", also: killOutcomeText(parsed.data, result) });
      } catch (failure) {
        if (failure instanceof ApiError && failure.code === "conflict") {
          this.open(false, false);
          this.done({ kind: "already" });
          return;
        }
        say(
          this.message,
          errorText(failure, {
            not_found: "This session no longer exists.",
            forbidden: "This session is in a zone you do not administer.",
          }),
        );
      }
    });
  }
}
