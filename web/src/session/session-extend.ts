// "More time" on the terminal page: a button in the status bar that opens a small form (how long, why),
// asks the edge, and says what happened: granted (the room then moves the countdown) or sent to the
// approvers. Hidden when policy allows no (more) extensions. Test hooks: #extend-button, #extend-result.
import type { SessionSummary } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { h } from "../shared/dom.ts";
import { formatTime } from "../shared/format.ts";

/** Steps offered, in minutes, up to what the policy allows per extension. */
const STEPS = [15, 30, 60, 120, 240];

export class ExtendControl {
  readonly element: HTMLElement;
  private readonly button = h(
    "button",
    { type: "button", id: "extend-button", class: "button-small", hidden: true },
    "More time",
  );
  private readonly minutes = h("select", { id: "extend-minutes", "aria-label": "How much more time" });
  private readonly reason = h("input", {
    id: "extend-reason",
    type: "text",
    maxlength: 500,
    placeholder: "Why (approvers see this)",
    "aria-label": "Why you need more time",
  });
  private readonly ask = h("button", { type: "submit", id: "extend-ask" }, "Ask");
  private readonly form = h("form", { id: "extend-form", class: "extend-form", hidden: true });
  private readonly result = h("span", { id: "extend-result", class: "session-notice", role: "status", hidden: true });
  private offer: SessionSummary["extension"] = null;

  constructor(
    private readonly sessionId: string,
    /** Where the keyboard goes back to when the form closes (the terminal). */
    private readonly refocus: () => void = () => {},
  ) {
    this.form.append(this.minutes, this.reason, this.ask);
    this.element = h("span", { class: "extend" }, this.button, this.form, this.result);
    this.button.addEventListener("click", () => {
      this.form.hidden = !this.form.hidden;
      if (!this.form.hidden) this.minutes.focus();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.submit();
    });
  }

  /** What policy allows now (from the session record); null hides the control. */
  setOffer(offer: SessionSummary["extension"]): void {
    this.offer = offer;
    const usable = !!offer && offer.remaining > 0 && !offer.pending;
    this.button.hidden = !usable;
    if (!usable) this.form.hidden = true;
    if (!offer) return;
    const steps = STEPS.filter((m) => m < offer.minutes);
    this.minutes.replaceChildren(
      ...[...steps, offer.minutes].map((m) =>
        h("option", { value: String(m) }, m >= 60 && m % 60 === 0 ? `${m / 60} h` : `${m} min`),
      ),
    );
    this.button.title = offer.approval ? "Ask the approvers for more time" : "Extend this session";
  }

  /** The session ended: nothing more to ask for. */
  disable(): void {
    this.setOffer(null);
  }

  private say(text: string): void {
    this.result.textContent = text;
    this.result.hidden = false;
  }

  private async submit(): Promise<void> {
    this.ask.disabled = true;
    try {
      const result = await api.extendSession(this.sessionId, {
        minutes: Number(this.minutes.value),
        reason: this.reason.value.trim(),
      });
      this.form.hidden = true;
      this.reason.value = "";
      this.refocus();
      if (result.status === "granted")
        this.say(`More time granted: the session now ends at ${formatTime(result.deadline)}.`);
      else this.say("Asked the approvers for more time. The countdown moves if they approve.");
      this.result.dataset.status = result.status;
      const offer = this.offer;
      if (offer)
        this.setOffer({
          ...offer,
          remaining: result.status === "granted" ? offer.remaining - 1 : offer.remaining,
          pending: result.status === "pending",
        });
    } catch (failure) {
      this.say(
        errorText(failure, {
          conflict: "More time cannot be given now (limit reached, or a request is already waiting).",
          forbidden: "Policy allows no more time for this session.",
        }),
      );
    } finally {
      this.ask.disabled = false;
    }
  }
}
