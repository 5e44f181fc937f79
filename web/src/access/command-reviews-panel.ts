// Held commands (command review, docs/governance.md): the lines a `review` rule holds at the connector that the
// signed-in user may allow or refuse (GET /api/command-reviews; empty for everyone who reviews nothing). Shown on
// Approvals and Moderate, re-read every 2 s while open: a held command waits on a person at a prompt. The panel
// stays hidden while there is nothing to review. Test hooks: #command-reviews, article[data-review-id].
import type { CommandReviewItem } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, h, replace } from "../shared/dom.ts";
import { poll } from "../shared/poll.ts";
import { timeElement } from "../shared/format.ts";

const REFRESH_MS = 2_000;

export function commandReviewsPanel(): { element: HTMLElement; cleanup: Cleanup } {
  const list = h("div", { class: "cards" });
  const message = h("p", { class: "alert", role: "alert", hidden: true });
  const element = h(
    "section",
    { id: "command-reviews", "aria-labelledby": "command-reviews-title", hidden: true },
    h("h2", { id: "command-reviews-title" }, "Commands waiting for your review"),
    h(
      "p",
      { class: "muted" },
      "The user is at the prompt: the command runs only if you allow it. No answer in time refuses it.",
    ),
    message,
    list,
  );

  function card(r: CommandReviewItem): HTMLElement {
    const key = `${r.sessionId}-${r.id}`;
    const allow = h("button", { type: "button", class: "approve" }, "Allow");
    const refuse = h("button", { type: "button", class: "deny button-danger" }, "Refuse");
    const result = h("p", { class: "muted", role: "status" });
    const element = h(
      "article",
      { class: "card command-review", "data-review-id": r.id, "aria-labelledby": `review-${key}` },
      h("h3", { id: `review-${key}` }, `${r.user} on ${r.server}`),
      h("pre", { class: "command-line" }, r.line),
      r.message ? h("p", {}, `Rule ${r.rule + 1}: ${r.message}`) : h("p", {}, `Rule ${r.rule + 1}`),
      h(
        "p",
        { class: "muted" },
        "Asked ",
        timeElement(r.requestedAt),
        "; refused unanswered at ",
        timeElement(r.expiresAt),
      ),
      h("div", { class: "button-row decision" }, allow, refuse),
      result,
    );
    const decide = async (yes: boolean) => {
      allow.disabled = refuse.disabled = true;
      try {
        await api.decideCommandReview(r.sessionId, r.id, yes);
        result.textContent = yes ? "Allowed: the command runs." : "Refused: the command did not run.";
      } catch (error) {
        result.textContent = errorText(error);
      }
    };
    allow.addEventListener("click", () => void decide(true));
    refuse.addEventListener("click", () => void decide(false));
    return element;
  }

  const cleanup = poll({
    read: () => api.commandReviews().then((r) => r.reviews),
    everyMs: REFRESH_MS,
    message,
    show: (reviews) => {
      element.hidden = reviews.length === 0;
      replace(list, ...reviews.map(card));
    },
  });
  return { element, cleanup };
}
