// What a kill does besides ending the session, chosen in both kill forms (Admin › Live sessions and the live
// view): revoke the checkout (on by default: ending the session alone lets the user reconnect at once), and,
// for admins, lock the account. After the kill, one sentence says which of them happened.
import type { KillResult } from "../../../protocol/index.ts";
import { h } from "../shared/dom.ts";

export type KillChoices = { revokeCheckout: boolean; lockUser: boolean };

export function killOptions(canLock: boolean): { element: HTMLElement; values: () => KillChoices } {
  const revoke = h("input", { type: "checkbox", class: "kill-revoke", checked: true });
  const lock = h("input", { type: "checkbox", class: "kill-lock" });
  return {
    element: h(
      "div",
      { class: "kill-options" },
      h("label", {}, revoke, " Also revoke the checkout (no reconnect)"),
      canLock ? h("label", {}, lock, " Lock the user's account") : null,
    ),
    values: () => ({ revokeCheckout: revoke.checked, lockUser: canLock && lock.checked }),
  };
}

/** "The checkout was revoked. The account was locked." — what happened beyond the session's end. */
export function killOutcomeText(asked: KillChoices, result: KillResult): string {
  const parts: string[] = [];
  if (result.checkoutRevoked) parts.push("The checkout was revoked: the user cannot reconnect.");
  else if (asked.revokeCheckout) parts.push("The checkout had already ended.");
  else parts.push("The checkout stays open: the user can reconnect.");
  if (result.userLocked) parts.push("The account was locked.");
  else if (asked.lockUser) parts.push("The account was not locked (already locked, or an admin's: use Admin › Users).");
  return parts.join(" ");
}
