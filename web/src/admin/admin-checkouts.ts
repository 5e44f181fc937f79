// Admin › Checkouts: everyone's checkouts in the admin's zones, filtered by state and by part of a user's,
// server's or account's name, each open one with Revoke (a reason the requester sees; its sessions end).
// The audit log links here with one checkout's id (#/admin/checkouts/<id>). Test hooks: #checkouts-state,
// #checkouts-q, tr[data-checkout-id][data-status], button.revoke, .revoke-reason, button.revoke-confirm.
import { AdminCheckoutQuery, type CheckoutSummary, RevokeRequest } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, inlineAction, panel } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { statusBadge, statusLabel } from "../access/checkout-view.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { formatFullTime } from "../shared/format.ts";

const HEADERS = ["Requester", "Server and account", "Zone", "Status", "Window", "Justification", ""];
const OPEN = new Set(["approved", "active"]);

export function renderAdminCheckouts(container: HTMLElement, { param }: AdminContext): Cleanup {
  let disposed = false;
  const state = h(
    "select",
    { id: "checkouts-state", name: "state" },
    h("option", { value: "open" }, "Open (approved or active)"),
    h("option", { value: "pending" }, "Waiting for approval"),
    h("option", { value: "ended" }, "Ended"),
    h("option", { value: "all" }, "All"),
  );
  const q = h("input", {
    id: "checkouts-q",
    name: "q",
    type: "search",
    autocomplete: "off",
    placeholder: "User, server or account",
  });
  const filters = h(
    "form",
    { id: "checkouts-filter", class: "inline-form", role: "search" },
    field("Show", state),
    field("Find", q),
  );
  const body = h("tbody", {}, emptyRow(HEADERS.length, "Loading checkouts…"));
  const message = h("p", { id: "checkouts-message", class: "alert", role: "alert", hidden: true });
  // A link from the audit log shows that one checkout, whatever its state.
  let only: string | undefined = param ?? undefined;
  if (only) state.value = "all";

  function revokeControls(c: CheckoutSummary): HTMLElement {
    const open = h("button", { type: "button", class: "button-danger small-button revoke" }, "Revoke…");
    const reason = h("input", {
      class: "revoke-reason",
      name: "reason",
      autocomplete: "off",
      maxlength: 1000,
      placeholder: "Reason (the requester sees it)",
      "aria-label": `Reason for revoking ${c.requester.username}'s checkout of ${c.serverName}`,
    });
    const confirm = h("button", { type: "submit", class: "button-danger small-button revoke-confirm" }, "Revoke");
    return inlineAction({ open, field: reason, submit: confirm, onSubmit: () => submit() }).element;

    function submit(): void {
      const parsed = RevokeRequest.safeParse({ reason: reason.value });
      if (!parsed.success) {
        say(message, "Give a reason of at least 3 characters; the requester sees it.");
        reason.focus();
        return;
      }
      void busy(confirm, async () => {
        try {
          const after = await api.revoke(c.id, parsed.data.reason);
          say(
            message,
            `${after.requester.username}'s checkout of ${after.serverName} as ${after.accountUsername} is ${statusLabel(after.status).toLowerCase()}; its sessions are ended.`,
            "ok",
          );
        } catch (failure) {
          say(
            message,
            errorText(failure, {
              forbidden: "That checkout is in a zone you do not administer.",
              conflict: "That checkout is no longer open, so there is nothing to revoke.",
            }),
          );
        }
        await load();
      });
    }
  }

  function row(c: CheckoutSummary): HTMLTableRowElement {
    return h(
      "tr",
      { "data-checkout-id": c.id, "data-status": c.status },
      h("th", { scope: "row" }, c.requester.username),
      h("td", {}, c.serverName, h("div", { class: "muted small" }, `as ${c.accountUsername} (${c.credentialName})`)),
      h("td", {}, c.zoneName),
      h(
        "td",
        {},
        statusBadge(c.status),
        c.revokeReason ? h("div", { class: "muted small" }, `Reason: ${c.revokeReason}`) : null,
      ),
      h("td", { class: "small" }, `${formatFullTime(c.startsAt)} – ${formatFullTime(c.endsAt)}`),
      h("td", { class: "small" }, c.justification),
      h("td", { class: "actions" }, OPEN.has(c.status) ? revokeControls(c) : null),
    );
  }

  /** Loads are numbered: an answer to an older filter that arrives late is dropped. */
  let loads = 0;
  async function load(): Promise<void> {
    const mine = ++loads;
    try {
      const list = await api.adminCheckouts({
        state: AdminCheckoutQuery.shape.state.safeParse(state.value).data,
        q: q.value.trim(),
        ...(only ? { id: only } : {}),
      });
      if (disposed || mine !== loads) return;
      // A row whose Revoke… form is open stays as it is (a half-typed reason survives a refresh).
      const open = body.querySelector("form:not([hidden])")?.closest<HTMLTableRowElement>("tr[data-checkout-id]");
      replace(
        body,
        ...(list.length
          ? list.map((c) => (open?.dataset.checkoutId === c.id ? open : row(c)))
          : [emptyRow(HEADERS.length, "No checkouts match. Change the filter.")]),
      );
    } catch (failure) {
      if (!disposed) say(message, errorText(failure));
    }
  }

  let typing: ReturnType<typeof setTimeout> | undefined;
  const reload = () => {
    only = undefined;
    clearTimeout(typing);
    typing = setTimeout(() => void load(), 250);
  };
  state.addEventListener("change", reload);
  q.addEventListener("input", reload);
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });

  append(
    container,
    panel(
      "checkouts",
      "Checkouts",
      "Everyone's checkouts in your zones. Revoking ends the requester's access at once and ends any session running under it.",
      filters,
      dataTable("checkouts-table", "Checkouts", HEADERS, body),
      message,
    ),
  );
  void load();
  return () => {
    disposed = true;
    clearTimeout(typing);
  };
}
