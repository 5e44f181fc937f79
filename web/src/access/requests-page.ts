// My requests (#/requests): the user's checkouts with status, approvals so far and a live countdown;
// Connect (active only), Check in and Withdraw. Re-read every 5 s and whenever a countdown reaches zero.
import type { CheckoutSummary } from "../../../protocol/index.ts";
import { connectWithStepUp } from "../session/connect-step-up.ts";
import { api, errorText } from "../shared/api.ts";
import { cart } from "./cart.ts";
import { approvalsText, cartErrorText, statusBadge, submittedText } from "./checkout-view.ts";
import { type Cleanup, append, h, replace, say } from "../shared/dom.ts";
import { formatCountdown, formatWindow } from "../shared/format.ts";

/**
 * A request that was waiting and is now approved is announced: in the tab's title (seen from another tab) and,
 * where the user allowed it, as a system notification.
 */
function announceApprovals(before: CheckoutSummary[], after: CheckoutSummary[]): void {
  const waited = new Set(before.filter((c) => c.status === "pending_approval").map((c) => c.id));
  const approved = after.filter((c) => waited.has(c.id) && (c.status === "approved" || c.status === "active"));
  if (approved.length === 0) return;
  const text =
    approved.length === 1
      ? `Approved: ${approved[0]!.serverName} as ${approved[0]!.accountUsername}`
      : `${approved.length} requests approved`;
  document.title = `${text} · PSM`;
  if (typeof Notification !== "undefined" && Notification.permission === "granted")
    new Notification("Request approved", { body: text, tag: "psm-approved" });
}

/** Requests that are over: they can be asked for again. */
const ENDED = new Set<CheckoutSummary["status"]>(["denied", "withdrawn", "expired", "checked_in", "revoked"]);

/** How often the list is re-read, in ms. */
const REFRESH_MS = 5_000;
/** How often countdowns are redrawn, in ms. */
const TICK_MS = 1_000;
/** Countdowns under this many ms are shown as a warning. */
const WARN_MS = 5 * 60_000;

/** The next moment (ms) this checkout changes on its own, or null when it will not. */
function nextEdge(c: CheckoutSummary, now: number): number | null {
  if (c.status === "approved" && c.startsAt > now) return c.startsAt;
  if (c.status === "approved" || c.status === "active" || c.status === "pending_approval") return c.endsAt;
  return null;
}

/** The countdown sentence for a row at `now`, or null when nothing is counting. */
function countdown(c: CheckoutSummary, now: number): { text: string; warn: boolean } | null {
  if (c.status === "pending_approval")
    return { text: `Window ends in ${formatCountdown(c.endsAt - now)}`, warn: false };
  if (c.status === "approved" && c.startsAt > now)
    return { text: `Starts in ${formatCountdown(c.startsAt - now)}`, warn: false };
  if (c.status === "approved" || c.status === "active") {
    const left = c.endsAt - now;
    return { text: left > 0 ? `Ends in ${formatCountdown(left)}` : "Ending…", warn: left < WARN_MS };
  }
  return null;
}

function statusDetail(c: CheckoutSummary, now: number): string | null {
  if (c.status === "pending_approval") {
    const missing = Math.max(1, c.quorum - c.approvals.length);
    const who = `Waiting for ${missing === 1 ? "one approval" : `${missing} approvals`} from ${c.approverGroup ? `the ${c.approverGroup} group` : "the zone's approvers"}.`;
    return c.startsAt <= now
      ? `${who} The window is already running: time spent waiting for approval comes off it.`
      : who;
  }
  if (c.status === "denied" && c.denial) return `By ${c.denial.by}${c.denial.comment ? `: “${c.denial.comment}”` : ""}`;
  if (c.status === "revoked") return c.revokeReason ? `Reason: ${c.revokeReason}` : null;
  return null;
}

export function renderRequests(container: HTMLElement, openSession: (id: string) => void): Cleanup {
  document.title = "My requests · PSM";
  let checkouts: CheckoutSummary[] = [];
  let loaded = false;
  let busy = false;
  let disposed = false;
  let loading: Promise<void> | null = null;

  const message = h("p", { id: "requests-message", class: "alert", role: "alert", hidden: true, tabindex: -1 });
  const flash = h("ul", { id: "cart-results", class: "cart-results", "aria-live": "polite", hidden: true });
  const count = h("p", { id: "requests-count", class: "muted", "aria-live": "polite" }, "Loading your requests…");
  const body = h("tbody");
  const table = h(
    "table",
    { id: "requests-table", class: "table" },
    h("caption", { class: "visually-hidden" }, "Your checkout requests, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["Server and account", "Zone", "Window", "Status", "Approvals", "Time", "Actions"].map((label) =>
          h("th", { scope: "col" }, label),
        ),
      ),
    ),
    body,
  );

  /** Request again: the same server and credential go back into the cart, and the catalog opens to send it. */
  function requestAgainButton(c: CheckoutSummary): HTMLButtonElement {
    const button = h(
      "button",
      {
        type: "button",
        class: "request-again button-quiet",
        "aria-label": `Request again: ${c.serverName} as ${c.accountUsername}`,
      },
      "Request again",
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const server = (await api.catalog()).find((s) => s.id === c.serverId);
        const credential = server?.credentials.find((cr) => cr.id === c.credentialId);
        if (!server || !credential) {
          say(message, `${c.serverName} as ${c.accountUsername} is no longer available to you.`);
          return;
        }
        cart.add(server, credential);
        location.hash = "#/catalog";
      } catch (failure) {
        say(message, errorText(failure));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }

  function actionButton(c: CheckoutSummary, kind: "connect" | "check-in" | "withdraw"): HTMLButtonElement {
    const label = { connect: "Connect", "check-in": "Check in", withdraw: "Withdraw" }[kind];
    const button = h(
      "button",
      {
        type: "button",
        class: kind === "connect" ? "connect" : `${kind} button-quiet`,
        "data-checkout-id": c.id,
        "aria-label": `${label}: ${c.serverName} as ${c.accountUsername}`,
        disabled: busy,
      },
      label,
    );
    button.addEventListener("click", () => void act(c, kind, button));
    return button;
  }

  function row(c: CheckoutSummary, now: number): HTMLTableRowElement {
    const time = countdown(c, now);
    const live = c.status === "active" && c.endsAt > now;
    const detail = statusDetail(c, now);
    return h(
      "tr",
      {
        "data-checkout-id": c.id,
        "data-status": c.status,
        "data-server-id": c.serverId,
        "data-server-name": c.serverName,
        "data-credential-id": c.credentialId,
      },
      h(
        "th",
        { scope: "row" },
        c.serverName,
        h("div", { class: "muted small" }, `as ${c.accountUsername} · ${c.credentialName}`),
      ),
      h("td", { "data-label": "Zone" }, c.zoneName),
      h("td", { class: "small", "data-label": "Window" }, formatWindow(c.startsAt, c.endsAt)),
      h("td", {}, statusBadge(c.status), detail ? h("div", { class: "muted small" }, detail) : null),
      // Who approved, with their words, inline (not only in a tooltip).
      h(
        "td",
        { class: "approvals" },
        approvalsText(c),
        ...c.approvals.map((a) =>
          h("div", { class: "muted small approval-comment" }, a.comment ? `${a.by}: “${a.comment}”` : a.by),
        ),
      ),
      h(
        "td",
        { class: time?.warn ? "countdown warn" : "countdown", "data-countdown": c.id },
        time ? time.text : h("span", { class: "muted" }, "—"),
      ),
      h(
        "td",
        { class: "actions" },
        h(
          "div",
          { class: "button-row" },
          live ? actionButton(c, "connect") : null,
          c.status === "approved" || c.status === "active" ? actionButton(c, "check-in") : null,
          c.status === "pending_approval" ? actionButton(c, "withdraw") : null,
          ENDED.has(c.status) ? requestAgainButton(c) : null,
        ),
      ),
    );
  }

  /**
   * While a request waits and the browser has not been asked yet: offer system notifications (a permission prompt
   * only ever follows a click). Hidden once granted, denied, or when nothing waits.
   */
  const notify = h(
    "button",
    { type: "button", id: "notify-approvals", class: "button-quiet", hidden: true },
    "Notify me when a request is approved",
  );
  notify.addEventListener("click", () => {
    void Notification.requestPermission().then((answer) => {
      notify.hidden = true;
      say(
        message,
        answer === "granted"
          ? "You will get a notification when a request is approved, while this page is open."
          : "Notifications are off for this site. The tab's title still changes when a request is approved.",
        "info",
      );
    });
  });
  const offerNotifications = () => {
    notify.hidden = !(
      typeof Notification !== "undefined" &&
      Notification.permission === "default" &&
      checkouts.some((c) => c.status === "pending_approval")
    );
  };

  /** The banner of a cart just sent follows its rows: "waiting for one approval" becomes "Approved…" in place. */
  function followFlash(): void {
    for (const li of flash.querySelectorAll<HTMLElement>("li[data-checkout-id]")) {
      const c = checkouts.find((x) => x.id === li.dataset.checkoutId);
      const text = li.querySelector(".flash-text");
      if (c && text && text.textContent !== submittedText(c)) text.textContent = submittedText(c);
    }
  }

  function draw(): void {
    offerNotifications();
    followFlash();
    const now = Date.now();
    const focused = document.activeElement;
    const refocus =
      focused instanceof HTMLButtonElement && body.contains(focused)
        ? `button.${focused.classList[0]}[data-checkout-id="${focused.dataset.checkoutId}"]`
        : null;
    const open = checkouts.filter((c) => nextEdge(c, now) !== null).length;
    count.textContent = loaded ? `${checkouts.length} requests, ${open} open` : "";
    if (checkouts.length === 0) {
      const text = loaded ? "No requests yet. Find a server in the Catalog and add it to the cart." : "Loading…";
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 7 }, text)));
      return;
    }
    replace(body, ...checkouts.map((c) => row(c, now)));
    if (refocus) body.querySelector<HTMLButtonElement>(refocus)?.focus();
  }

  /** Updates the countdowns in place; re-reads the list when one of them crosses zero. */
  let lastTick = Date.now();
  function tick(): void {
    const now = Date.now();
    const crossed = checkouts.some((c) => {
      const edge = nextEdge(c, lastTick);
      return edge !== null && edge > lastTick && edge <= now;
    });
    lastTick = now;
    if (crossed) {
      draw(); // drops Connect at once, before the edge confirms the expiry
      void load();
      return;
    }
    for (const c of checkouts) {
      const cell = body.querySelector<HTMLTableCellElement>(`td[data-countdown="${c.id}"]`);
      const time = countdown(c, now);
      if (!cell || !time) continue;
      cell.textContent = time.text;
      cell.classList.toggle("warn", time.warn);
    }
  }

  function load(): Promise<void> {
    loading ??= api
      .checkouts()
      .then((list) => {
        if (disposed) return;
        announceApprovals(checkouts, list);
        checkouts = list;
        loaded = true;
        if (message.dataset.tone === "error" && message.dataset.source === "load") say(message, null);
        draw();
      })
      .catch((failure: unknown) => {
        if (disposed) return;
        say(message, `Could not load your requests. ${errorText(failure)}`);
        message.dataset.source = "load";
      })
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  async function act(c: CheckoutSummary, kind: "connect" | "check-in" | "withdraw", button: HTMLButtonElement) {
    if (busy) return;
    busy = true;
    say(message, null);
    delete message.dataset.source;
    const label = button.textContent;
    button.textContent = kind === "connect" ? "Connecting…" : "Working…";
    for (const b of Array.from(body.querySelectorAll("button"))) b.disabled = true;
    try {
      if (kind === "connect") {
        // Step-up (second factor, master password) as the edge's policy decides: web/src/session/connect-step-up.ts.
        const session = await connectWithStepUp(c.id, c.serverName);
        if (session && !disposed) openSession(session.id);
        return;
      }
      const updated = kind === "check-in" ? await api.checkIn(c.id) : await api.withdraw(c.id);
      if (disposed) return;
      checkouts = checkouts.map((x) => (x.id === updated.id ? updated : x));
      say(
        message,
        kind === "check-in"
          ? `${c.serverName} as ${c.accountUsername} is checked in.`
          : `Your request for ${c.serverName} as ${c.accountUsername} is withdrawn.`,
        "ok",
      );
    } catch (failure) {
      if (disposed) return;
      say(
        message,
        errorText(failure, {
          connector_unavailable: `No connector is online for ${c.serverName}'s site, so the session could not start. Ask an admin to check the site's connector, then try again.`,
          conflict:
            kind === "connect"
              ? `This checkout is not active any more (it may have expired, been checked in or revoked).`
              : "This request has changed meanwhile; the list is refreshed.",
          not_found: `This checkout no longer exists.`,
          forbidden: `You are not allowed to do that with this checkout.`,
        }),
      );
      message.focus();
      void load();
    } finally {
      busy = false;
      button.textContent = label;
      if (!disposed) draw();
    }
  }

  if (cart.lastResult) {
    const { result, names } = cart.lastResult;
    cart.lastResult = null;
    replace(
      flash,
      ...result.results.map((item, i) =>
        h(
          "li",
          { "data-result": item.ok ? "ok" : "error", ...(item.ok ? { "data-checkout-id": item.checkout.id } : {}) },
          h("span", { class: `pill ${item.ok ? "ok" : "danger"}` }, item.ok ? "Requested" : "Not requested"),
          " ",
          h("span", { class: "flash-name" }, names[i] ?? "Item"),
          ": ",
          h("span", { class: "flash-text" }, item.ok ? submittedText(item.checkout) : cartErrorText(item.error)),
        ),
      ),
    );
    flash.hidden = false;
  }

  append(
    container,
    h("h1", {}, "My requests"),
    flash,
    message,
    h("div", { class: "toolbar" }, count, notify),
    h("div", { class: "table-wrap" }, table),
  );
  draw();
  void load();
  const refresh = window.setInterval(() => void load(), REFRESH_MS);
  const ticker = window.setInterval(tick, TICK_MS);
  return () => {
    disposed = true;
    window.clearInterval(refresh);
    window.clearInterval(ticker);
  };
}
