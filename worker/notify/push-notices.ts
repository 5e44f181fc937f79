// The words of Web Push notices (pure): a sign-in waiting for approval and an approver's task. A notice says
// what happened and where to act; it never carries the number to match, a token or anything secret, because a
// locked phone may show it to whoever holds it.
import type { PushNotice } from "../../protocol/web-push.ts";
import { truncate } from "./delivery.ts";

const NAME_MAX_CHARS = 60;

// biome-ignore lint/suspicious/noControlCharactersInRegex: names must stay on one line in a notification
const oneLine = (s: string) => truncate(s.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), NAME_MAX_CHARS);

/** A sign-in waits for this user's approval: the notice opens the Account page, where the number is typed. */
export function signInNotice(
  challengeId: string,
  from: { browser: string | null; ip: string | null; country: string | null },
): PushNotice {
  const where = [from.browser, from.ip ? `${from.ip}${from.country ? ` (${from.country})` : ""}` : from.country]
    .filter(Boolean)
    .join(", ");
  return {
    kind: "sign_in",
    title: "Sign-in request",
    body: `Sign-in request from ${where || "an unknown device"}. Open to type the number that device shows.`,
    url: "/#/account",
    tag: `sign-in-${challengeId}`.slice(0, 80),
  };
}

/** A checkout waits for this approver: the notice opens that request's card. */
export function approvalNotice(n: {
  checkoutId: string;
  requester: string;
  credential: string;
  server: string;
}): PushNotice {
  return {
    kind: "approval",
    title: "Approval needed",
    body: `${oneLine(n.requester)} requests ${oneLine(n.credential)} on ${oneLine(n.server)}.`,
    url: `/#/approvals/${encodeURIComponent(n.checkoutId)}`.slice(0, 300),
    tag: `checkout-${n.checkoutId}`.slice(0, 80),
  };
}

/**
 * A command line waits for this reviewer (command review, docs/governance.md): the notice opens Approvals, where
 * held commands are answered. It names who and where, never the line, which may hold what a lock screen must not show.
 */
export function commandReviewNotice(n: {
  sessionId: string;
  reviewId: string;
  user: string;
  server: string;
}): PushNotice {
  return {
    kind: "command_review",
    title: "Command waits for review",
    body: `${oneLine(n.user)}'s command on ${oneLine(n.server)} waits for your review.`,
    url: "/#/approvals",
    tag: `review-${n.sessionId}-${n.reviewId}`.slice(0, 80),
  };
}

/** The user of a live session invites the person to type in it (shared sessions): the notice opens the invitations. */
export function invitationNotice(n: { invitationId: string; user: string; server: string }): PushNotice {
  return {
    kind: "invitation",
    title: "Invitation to a session",
    body: `${oneLine(n.user)} invites you to type in their session on ${oneLine(n.server)}.`,
    url: "/#/shared",
    tag: `invitation-${n.invitationId}`.slice(0, 80),
  };
}

/** A live session's user asks for more time: the notice opens the approvals page, where extensions are decided. */
export function extensionNotice(n: {
  extensionId: string;
  requester: string;
  target: string;
  minutes: number;
}): PushNotice {
  return {
    kind: "extension",
    title: "Extension asked",
    body: `${oneLine(n.requester)} asks for ${n.minutes} more minutes on ${oneLine(n.target)}.`,
    url: "/#/approvals",
    tag: `extension-${n.extensionId}`.slice(0, 80),
  };
}

/** What "Send a test" shows on the chosen device. */
export function testNotice(deviceId: string): PushNotice {
  return {
    kind: "test",
    title: "Notifications work",
    body: "This device will be told about sign-in requests and approvals.",
    url: "/#/account",
    tag: `test-${deviceId}`.slice(0, 80),
  };
}
