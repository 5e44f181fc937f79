// Pending session extensions on the approvals page: who wants how much more time on which live session
// and why, with Approve / Deny. Re-read with the page's own refresh. Test hook: [data-extension-id].
import type { PendingExtension } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { h } from "../shared/dom.ts";
import { formatTime, timeElement } from "../shared/format.ts";

export class ExtensionInbox {
  readonly element: HTMLElement;
  private readonly list = h("div", { id: "extension-list", class: "cards" });
  private readonly cards = new Map<string, HTMLElement>();
  private disposed = false;

  constructor() {
    this.element = h(
      "section",
      { id: "extension-inbox", hidden: true },
      h("h2", {}, "More time on live sessions"),
      this.list,
    );
  }

  load(): void {
    api
      .pendingExtensions()
      .then((pending) => {
        if (!this.disposed) this.draw(pending);
      })
      .catch(() => {
        // The checkout list's own error line covers a failed refresh.
      });
  }

  dispose(): void {
    this.disposed = true;
  }

  private draw(pending: PendingExtension[]): void {
    const ids = new Set(pending.map((x) => x.id));
    for (const [id, card] of this.cards)
      if (!ids.has(id) && !card.dataset.decided) {
        card.remove();
        this.cards.delete(id);
      }
    for (const x of pending) if (!this.cards.has(x.id)) this.list.append(this.card(x));
    this.element.hidden = this.cards.size === 0;
  }

  private card(x: PendingExtension): HTMLElement {
    const comment = h("input", {
      type: "text",
      maxlength: 1000,
      placeholder: "Comment (optional)",
      "aria-label": "Comment",
    });
    const approve = h("button", { type: "button", class: "approve" }, "Approve");
    const deny = h("button", { type: "button", class: "deny button-danger" }, "Deny");
    const result = h("p", { class: "alert", role: "status", hidden: true });
    const card = h(
      "article",
      { class: "card approval", "data-extension-id": x.id },
      h("h3", {}, `${x.requester} → ${x.server}`, h("span", { class: "muted" }, ` as ${x.credential}`)),
      h(
        "p",
        {},
        `${x.minutes} more minutes, asked `,
        timeElement(x.requestedAt),
        `; the session now ends at ${formatTime(x.deadline)}.`,
      ),
      x.reason ? h("blockquote", { class: "justification" }, x.reason) : "",
      comment,
      h("div", { class: "button-row decision" }, approve, deny),
      result,
    );
    const decide = async (yes: boolean) => {
      approve.disabled = deny.disabled = true;
      try {
        const outcome = await api.decideExtension(x.id, yes, comment.value.trim());
        card.dataset.decided = outcome.status;
        result.textContent =
          outcome.status === "granted"
            ? `Approved: the session now ends at ${formatTime(outcome.deadline)}.`
            : outcome.status === "lapsed"
              ? "The session ended before the decision."
              : "Denied.";
      } catch (failure) {
        approve.disabled = deny.disabled = false;
        result.textContent = errorText(failure, {
          forbidden: "You cannot decide this request (it is your own, or you are not one of its approvers).",
          conflict: "This request was already decided.",
        });
      }
      result.hidden = false;
    };
    approve.addEventListener("click", () => void decide(true));
    deny.addEventListener("click", () => void decide(false));
    this.cards.set(x.id, card);
    return card;
  }
}
