// The cart panel beside the catalog: per item a start, a duration bounded by its policy and a
// required justification; "Submit request(s)" sends them as one cart and reports each item's fate.
import { SubmitCartRequest } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cart, type CartLine, durationChoices, lineKey } from "./cart.ts";
import { cartErrorText, policyTags, submittedText } from "./checkout-view.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";
import { formatMinutes, fromLocalInput, toLocalInput } from "../shared/format.ts";

/** The edge's minimum justification length, in characters (CartItem). */
const MIN_JUSTIFICATION = 3;

export function renderCartPanel(cart: Cart, onSubmitted: () => void): { element: HTMLElement; cleanup: Cleanup } {
  const list = h("ol", { class: "cart-lines" });
  const count = h("span", { id: "cart-count", class: "muted" });
  const message = h("p", { id: "cart-message", class: "alert", role: "alert", hidden: true, tabindex: -1 });
  const results = h("ul", { id: "cart-results", class: "cart-results", "aria-live": "polite", hidden: true });
  const submit = h("button", { type: "submit", id: "cart-submit" }, "Submit request");
  const form = h(
    "form",
    { id: "cart-form", novalidate: true },
    list,
    message,
    h("div", { class: "form-actions" }, submit),
  );
  const empty = h("p", { class: "muted cart-empty" }, "Empty. Use “Add to cart” on a credential to request it.");
  const element = h(
    "section",
    { id: "cart", class: "panel cart", "aria-labelledby": "cart-title" },
    h("h2", { id: "cart-title" }, "Cart ", count),
    results,
    empty,
    form,
  );
  let busy = false;
  let disposed = false;

  function lineItem(line: CartLine, index: number): HTMLLIElement {
    const key = lineKey(line);
    const id = `cart-${index}`;
    const start = h("input", {
      id: `${id}-start`,
      class: "cart-start",
      type: "datetime-local",
      value: line.start,
      min: toLocalInput(Date.now()),
    });
    const minutes = h(
      "select",
      { id: `${id}-minutes`, class: "cart-minutes" },
      ...durationChoices(line.policy.maxCheckoutMinutes).map((m) =>
        h("option", { value: m, selected: m === line.minutes }, formatMinutes(m)),
      ),
    );
    const reason = h("textarea", {
      id: `${id}-justification`,
      class: "cart-justification",
      rows: 2,
      required: true,
      maxlength: 1000,
      placeholder: "Why you need this access (ticket, incident…)",
    });
    reason.value = line.justification;
    start.addEventListener("change", () => cart.update(key, { start: start.value }));
    minutes.addEventListener("change", () => cart.update(key, { minutes: Number(minutes.value) }));
    reason.addEventListener("input", () => {
      reason.removeAttribute("aria-invalid");
      cart.update(key, { justification: reason.value });
    });
    const remove = h(
      "button",
      { type: "button", class: "button-quiet remove", "aria-label": `Remove ${line.serverName} as ${line.username}` },
      "Remove",
    );
    remove.addEventListener("click", () => cart.remove(key));
    return h(
      "li",
      {
        class: "cart-item",
        "data-cart-key": key,
        "data-server-id": line.serverId,
        "data-credential-id": line.credentialId,
      },
      h(
        "div",
        { class: "cart-item-head" },
        h("strong", {}, line.serverName),
        h("span", { class: "muted" }, ` as ${line.username} · ${line.zoneName}`),
        remove,
      ),
      policyTags(line.policy),
      h(
        "div",
        { class: "cart-item-fields" },
        field("Start", start, "Leave empty to start now"),
        field("Duration", minutes, `Up to ${formatMinutes(line.policy.maxCheckoutMinutes)}`),
      ),
      field("Justification", reason),
    );
  }

  function draw(): void {
    const n = cart.lines.length;
    count.textContent = n ? `(${n})` : "";
    submit.textContent = n > 1 ? `Submit ${n} requests` : "Submit request";
    submit.disabled = n === 0 || busy;
    form.hidden = n === 0;
    empty.hidden = n > 0;
    replace(list, ...cart.lines.map(lineItem));
  }

  function showResults(lines: CartLine[], outcome: Awaited<ReturnType<typeof api.submitCart>>): void {
    replace(
      results,
      ...lines.map((line, i) => {
        const item = outcome.results[i];
        const ok = item?.ok === true;
        const text = !item
          ? "No answer for this item."
          : item.ok
            ? submittedText(item.checkout)
            : cartErrorText(item.error);
        return h(
          "li",
          { "data-result": ok ? "ok" : "error", "data-cart-key": lineKey(line) },
          h("span", { class: `pill ${ok ? "ok" : "danger"}` }, ok ? "Requested" : "Not requested"),
          ` ${line.serverName} as ${line.username}: ${text}`,
        );
      }),
      h("li", {}, h("a", { href: "#/requests" }, "Go to My requests")),
    );
    results.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    for (const reason of Array.from(list.querySelectorAll<HTMLTextAreaElement>("textarea.cart-justification"))) {
      if (reason.value.trim().length < MIN_JUSTIFICATION) {
        reason.setAttribute("aria-invalid", "true");
        say(message, "Every item needs a justification of at least 3 characters.");
        reason.focus();
        return;
      }
    }
    const lines = [...cart.lines];
    const body = SubmitCartRequest.safeParse({
      items: lines.map((line) => ({
        serverId: line.serverId,
        credentialId: line.credentialId,
        ...(fromLocalInput(line.start) !== undefined ? { startsAt: fromLocalInput(line.start) } : {}),
        minutes: line.minutes,
        justification: line.justification.trim(),
      })),
    });
    if (!body.success) {
      say(message, "Check each item's start, duration and justification, then submit again.");
      message.focus();
      return;
    }
    say(message, null);
    busy = true;
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const outcome = await api.submitCart(body.data);
      if (disposed) return;
      showResults(lines, outcome);
      const failed = new Set(lines.filter((_, i) => outcome.results[i]?.ok !== true).map(lineKey));
      cart.retain((line) => failed.has(lineKey(line)));
      if (failed.size === 0) {
        cart.lastResult = { result: outcome, names: lines.map((l) => `${l.serverName} as ${l.username}`) };
        onSubmitted();
      }
    } catch (failure) {
      if (disposed) return;
      say(message, `Nothing was requested. ${errorText(failure)}`);
      message.focus();
    } finally {
      busy = false;
      form.removeAttribute("aria-busy");
      if (!disposed) draw();
    }
  });

  const stop = cart.listen(draw);
  draw();
  return {
    element,
    cleanup: () => {
      disposed = true;
      stop();
    },
  };
}
