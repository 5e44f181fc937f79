// The approver's inbox (#/approvals): one card per pending request with who, what, where, when and
// why, the approvals so far, a comment and Approve / Deny. Cards stack on a phone; re-read every 15 s.
import { commandReviewsPanel } from "./command-reviews-panel.ts";
import type { ApprovalContext, ApprovalItem, CheckoutSummary } from "../../../protocol/index.ts";
import { APPROVAL_HISTORY_DAYS, recordingMode } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { approvalsText, statusBadge, statusLabel } from "./checkout-view.ts";
import { type Cleanup, append, h, say } from "../shared/dom.ts";
import { ExtensionInbox } from "./extension-inbox.ts";
import { formatMinutes, formatTime, formatWindow, timeElement } from "../shared/format.ts";

/** How often the inbox is re-read, in ms. */
const REFRESH_MS = 15_000;

type Verdict = "approve" | "deny";

function resultText(verdict: Verdict, c: CheckoutSummary): string {
  if (verdict === "deny") return `Denied. ${c.requester.username} cannot use this request.`;
  if (c.status === "pending_approval") {
    const missing = c.quorum - c.approvals.length;
    return `Approved. ${approvalsText(c)}; waiting for ${missing} more.`;
  }
  return `Approved. ${statusLabel(c.status)}: ${c.requester.username} can connect ${c.status === "active" ? "now" : `from ${formatTime(c.startsAt)}`}.`;
}

function fact(term: string, ...value: (Node | string | null)[]): HTMLDivElement {
  return h("div", { class: "fact" }, h("dt", {}, term), h("dd", {}, ...value));
}

/** What approving lets happen, in the policy's words: the limits and controls the session will run under. */
export function policyEffects(p: ApprovalContext["policy"]): string[] {
  return [
    `sessions up to ${formatMinutes(p.maxSessionMinutes)}`,
    recordingMode(p) === "off" ? "not recorded" : p.recordKeystrokes ? "recorded, keystrokes too" : "recorded",
    p.liveViewAllowed ? "admins may watch live" : "no live view",
    ...(p.mfaRequired ? ["second factor at connect"] : []),
    ...(p.masterPasswordRequired ? ["master password at connect"] : []),
    ...(p.exclusive ? ["exclusive: nobody else holds the credential meanwhile"] : []),
    ...(p.resetOnCheckin ? ["password changed at check-in"] : []),
  ];
}

/** The requester's record, one line, the warning signs first. */
export function historyText(r: ApprovalContext["requester"]): string {
  if (r.checkouts === 0) return `No other requests in the last ${APPROVAL_HISTORY_DAYS} days.`;
  const counts = [
    r.kills ? `${r.kills} session${r.kills === 1 ? "" : "s"} killed` : "",
    r.revocations ? `${r.revocations} revoked` : "",
    r.denials ? `${r.denials} denied` : "",
  ].filter(Boolean);
  return `${r.checkouts} other request${r.checkouts === 1 ? "" : "s"} in the last ${APPROVAL_HISTORY_DAYS} days${counts.length ? `: ${counts.join(", ")}` : ", none killed, revoked or denied"}.`;
}

function contextFacts(c: ApprovalItem): HTMLElement[] {
  const { zone, policy, requester } = c.context;
  const warn = requester.kills + requester.revocations > 0;
  return [
    fact(
      "Zone",
      c.zoneName,
      " ",
      h(
        "span",
        { class: zone.sensitivity === "high" ? "pill pending" : "pill ok", "data-sensitivity": zone.sensitivity },
        `${zone.sensitivity} sensitivity`,
      ),
      zone.description ? h("div", { class: "muted small zone-description" }, zone.description) : null,
    ),
    fact(
      "If approved",
      h("ul", { class: "policy-effects" }, ...policyEffects(policy).map((e) => h("li", {}, e))),
      h("div", { class: "muted small" }, `Policy: ${policy.name}`),
    ),
    fact(
      "Record",
      h("span", { class: warn ? "history-warning" : "", "data-history": "" }, historyText(requester)),
      requester.recent.length
        ? h(
            "ul",
            { class: "recent-checkouts muted small" },
            ...requester.recent.map((r) =>
              h(
                "li",
                {},
                `${formatTime(r.requestedAt)}: ${r.serverName}, ${r.status.replace(/_/g, " ")}${r.note ? ` (${r.note})` : ""}`,
              ),
            ),
          )
        : null,
    ),
  ];
}

export function renderApprovals(container: HTMLElement, me: { id: string }, focusId?: string): Cleanup {
  document.title = "Approvals · PSM";
  /** Cards by checkout id; cards decided here stay (with their result) until the page is left. */
  const cards = new Map<string, { element: HTMLElement; decided: boolean }>();
  let disposed = false;
  let loaded = false;

  const list = h("div", { id: "approvals-list", class: "cards" });
  const count = h("p", { id: "approvals-count", class: "muted", "aria-live": "polite" }, "Loading requests…");
  const message = h("p", { id: "approvals-message", class: "alert", role: "alert", hidden: true });
  const empty = h("p", { class: "muted empty-state", hidden: true }, "Nothing to decide. New requests appear here.");

  /** A request's card; with `result` (after a decision here) it shows that instead of the controls. */
  function card(c: ApprovalItem, pending: ApprovalItem[], result?: HTMLElement): HTMLElement {
    const commentId = `decision-comment-${c.id}`;
    const comment = h("textarea", {
      id: commentId,
      class: "decision-comment",
      rows: 2,
      maxlength: 1000,
      placeholder: "Optional; the requester sees it",
    });
    const approve = h("button", { type: "button", class: "approve" }, "Approve");
    const deny = h("button", { type: "button", class: "deny button-danger" }, "Deny");
    const actions = h("div", { class: "button-row decision" }, approve, deny);
    const others = pending.filter((p) => p.requester.id === c.requester.id && p.id !== c.id).length;
    const element = h(
      "article",
      { class: "card approval", "data-approval-id": c.id, "aria-labelledby": `approval-${c.id}-title` },
      h(
        "header",
        { class: "card-head" },
        h(
          "h2",
          { id: `approval-${c.id}-title` },
          `${c.requester.username} → ${c.serverName}`,
          h("span", { class: "muted" }, ` as ${c.accountUsername}`),
        ),
        statusBadge(c.status),
      ),
      h(
        "dl",
        { class: "facts" },
        fact("Who", c.requester.username, others ? h("span", { class: "muted" }, ` · ${others} other pending`) : ""),
        fact("What", `${c.serverName}, credential ${c.credentialName} (account ${c.accountUsername})`),
        fact("When", formatWindow(c.startsAt, c.endsAt)),
        ...contextFacts(c),
        fact("Asked", timeElement(c.requestedAt)),
        fact(
          "Approvals",
          approvalsText(c),
          ...c.approvals.map((a) =>
            h("div", { class: "muted small" }, `${a.by}${a.comment ? `: “${a.comment}”` : ""}`),
          ),
        ),
      ),
      h(
        "blockquote",
        { class: "justification" },
        h("span", { class: "visually-hidden" }, "Justification: "),
        c.justification,
      ),
      result ?? h("div", { class: "field" }, h("label", { for: commentId }, "Comment"), comment),
      result ? null : actions,
    );
    if (result) return element;
    const decide = async (verdict: Verdict) => {
      approve.disabled = deny.disabled = comment.disabled = true;
      element.setAttribute("aria-busy", "true");
      element.querySelector("[data-approval-result]")?.remove();
      try {
        const updated = await api.decide(c.id, verdict, comment.value.trim());
        if (disposed) return;
        const outcome = h(
          "p",
          {
            class: "alert",
            role: "status",
            tabindex: -1,
            "data-tone": "ok",
            "data-approval-result": verdict === "approve" ? "approved" : "denied",
          },
          resultText(verdict, updated),
        );
        const decided = card({ ...updated, context: c.context }, pending, outcome);
        element.replaceWith(decided);
        cards.set(c.id, { element: decided, decided: true });
        outcome.focus();
        load();
      } catch (failure) {
        if (disposed) return;
        approve.disabled = deny.disabled = comment.disabled = false;
        actions.after(
          h(
            "p",
            { class: "alert", role: "alert", "data-approval-result": "error" },
            errorText(failure, {
              forbidden:
                "You cannot decide this request: it is your own (or another account of yours), or you are not one of its approvers.",
              conflict: "This request is no longer pending: someone else decided it, it was withdrawn, or it expired.",
              not_found: "This request no longer exists.",
            }),
          ),
        );
      } finally {
        element.removeAttribute("aria-busy");
      }
    };
    approve.addEventListener("click", () => void decide("approve"));
    // A denial ends the request for good: it needs a reason (the requester reads it) and a confirmation.
    deny.addEventListener("click", () => {
      element.querySelector("[data-approval-result]")?.remove();
      if (comment.value.trim().length < 3) {
        comment.setAttribute("aria-invalid", "true");
        actions.after(
          h(
            "p",
            { class: "alert", role: "alert", "data-approval-result": "error" },
            "Say why you deny it in the comment: the requester reads it.",
          ),
        );
        comment.focus();
        return;
      }
      comment.removeAttribute("aria-invalid");
      if (!window.confirm(`Deny ${c.requester.username}'s request for ${c.serverName}? This cannot be undone.`)) return;
      void decide("deny");
    });
    if (c.requester.id === me.id) {
      actions.before(h("p", { class: "note" }, "This is your own request; someone else must decide it."));
    }
    return element;
  }

  function draw(pending: ApprovalItem[]): void {
    const ids = new Set(pending.map((c) => c.id));
    for (const [id, entry] of cards) {
      if (!ids.has(id) && !entry.decided) {
        entry.element.remove();
        cards.delete(id);
      }
    }
    // Only new cards are added, so a half-typed comment or a focused button survives the refresh.
    for (const c of pending) {
      if (cards.has(c.id)) continue;
      const element = card(c, pending);
      cards.set(c.id, { element, decided: false });
      list.append(element);
    }
    const waiting = pending.filter((c) => !cards.get(c.id)?.decided).length;
    count.textContent = waiting === 1 ? "1 request waits for a decision." : `${waiting} requests wait for a decision.`;
    empty.hidden = cards.size > 0;
  }

  /** A link to one request (a notification's): its card is brought into view and marked, or the page says why not. */
  function showLinked(id: string): void {
    const entry = cards.get(id);
    if (!entry) {
      say(message, "That request is no longer waiting: it was decided, withdrawn, or it expired.", "info");
      return;
    }
    entry.element.classList.add("linked");
    entry.element.scrollIntoView({ block: "center" });
    entry.element.querySelector<HTMLElement>("textarea, button")?.focus();
  }

  const extensions = new ExtensionInbox();

  function load(): void {
    extensions.load();
    api
      .approvals()
      .then((pending) => {
        if (disposed) return;
        const first = !loaded;
        loaded = true;
        say(message, null);
        draw(pending);
        if (first && focusId) showLinked(focusId);
      })
      .catch((failure: unknown) => {
        if (disposed) return;
        if (!loaded) count.textContent = "";
        say(message, `Could not load the requests. ${errorText(failure)}`);
      });
  }

  // Held commands first: a person waits at a prompt for them.
  const reviews = commandReviewsPanel();
  append(
    container,
    h("h1", {}, "Approvals"),
    h("p", { class: "muted" }, "Requests waiting for your decision. Times are in your time zone."),
    message,
    reviews.element,
    extensions.element,
    count,
    empty,
    list,
  );
  load();
  const refresh = window.setInterval(load, REFRESH_MS);
  return () => {
    disposed = true;
    reviews.cleanup();
    extensions.dispose();
    window.clearInterval(refresh);
  };
}
