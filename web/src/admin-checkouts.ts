// Admin › Revoke: ends a checkout (and its live sessions) by id, with a reason the requester sees.
// There is no list of everyone's checkouts; ids come from the audit log (its entries link here).
import { RevokeRequest } from "../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, panel } from "./admin-ui.ts";
import { api, errorText } from "./api.ts";
import { type Cleanup, append, field, h, say } from "./dom.ts";
import { statusLabel } from "./checkout-view.ts";

export function renderAdminCheckouts(container: HTMLElement, { param }: AdminContext): Cleanup {
  const id = h("input", {
    id: "revoke-id",
    name: "checkoutId",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    class: "mono",
  });
  const reason = h("textarea", { id: "revoke-reason", name: "reason", rows: 2, required: true, maxlength: 1000 });
  const submit = h("button", { type: "submit", id: "revoke-submit", class: "button-danger" }, "Revoke checkout");
  const message = h("p", { id: "revoke-message", class: "alert", role: "alert", hidden: true });
  const reasonField = field(
    "Reason",
    reason,
    "At least 3 characters. Recorded in the audit log and shown to the requester.",
  );
  reasonField.classList.add("wide");
  const form = h(
    "form",
    { id: "revoke-form", class: "grid-form", novalidate: true },
    field("Checkout id", id, "From the audit log (checkout entries link here)."),
    reasonField,
    h("div", { class: "form-actions" }, submit),
    message,
  );
  id.value = param ?? "";

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const parsed = RevokeRequest.safeParse({ reason: reason.value });
    if (!id.value.trim()) {
      say(message, "Enter the checkout's id.");
      id.focus();
      return;
    }
    if (!parsed.success) {
      say(message, "Give a reason of at least 3 characters.");
      reason.focus();
      return;
    }
    say(message, null);
    void busy(submit, async () => {
      try {
        const c = await api.revoke(id.value.trim(), parsed.data.reason);
        say(
          message,
          `${c.requester.username}'s checkout of ${c.serverName} as ${c.accountUsername} is ${statusLabel(c.status).toLowerCase()}; its sessions are ended.`,
          "ok",
        );
        reason.value = "";
      } catch (failure) {
        say(
          message,
          errorText(failure, {
            not_found: "No checkout has that id.",
            forbidden: "That checkout is in a zone you do not administer.",
            conflict: "That checkout is not open (it is pending, or already ended), so there is nothing to revoke.",
          }),
        );
      }
    });
  });

  append(
    container,
    panel(
      "revoke",
      "Revoke a checkout",
      "Revoking ends the requester's access at once and ends any session running under it.",
      form,
    ),
  );
  (param ? reason : id).focus();
  return () => {};
}
