// Checkout notifications: who hears about each change (the requester, the approver group), put in
// the outbox; and the outbox sweep with the real webhook fetch and email binding.
import type { Env } from "../env.ts";
import { deliverDue, enqueueStatements, planNotifications } from "../notify/outbox.ts";
import { emailsFor, mailRelayOn } from "../notify/people.ts";
import { hubSender, relayChannel } from "../notify/relay.ts";
import { planPush } from "../notify/push.ts";
import { approvalNotice } from "../notify/push-notices.ts";
import type { Checkout, CheckoutStatus } from "./checkout.ts";
import type { CheckoutRow } from "./checkout-store.ts";
import { rowPolicy } from "./checkout-store.ts";

type Event = "requested" | CheckoutStatus;

const EVENTS = {
  requested: "checkout.requested",
  approved: "checkout.approved",
  denied: "checkout.denied",
  expired: "checkout.expired",
  revoked: "checkout.revoked",
  checked_in: "checkout.checked_in",
} as const satisfies Partial<Record<Event, string>>;

/** The requester and, when asked, the approver group: those whose preference for requests is email. */
async function emails(db: D1Database, row: CheckoutRow, toApprovers: boolean): Promise<string[]> {
  const groupId = rowPolicy(row).approverGroupId;
  const { results } = await db
    .prepare(
      `SELECT id FROM users WHERE id = ? OR (? = 1 AND id IN (SELECT user_id FROM group_members WHERE group_id = ?))`,
    )
    .bind(row.user_id, toApprovers ? 1 : 0, groupId)
    .all<{ id: string }>();
  return emailsFor(
    db,
    results.map((r) => r.id),
    "requests",
  );
}

export async function notifyCheckout(env: Env, event: Event, row: CheckoutRow, checkout: Checkout): Promise<void> {
  const name = (EVENTS as Partial<Record<Event, (typeof EVENTS)[keyof typeof EVENTS]>>)[event];
  if (!name) return;
  // A request that needs no approval is already approved: nobody has anything to decide.
  if (event === "requested" && checkout.status !== "pending_approval") return;
  const decision = checkout.denial ?? checkout.approvals[checkout.approvals.length - 1];
  const rows = planNotifications(
    {
      event: name,
      checkoutId: row.id,
      requester: row.requester_name,
      server: row.server_name,
      credential: `${row.credential_name} (${row.account_username})`,
      startsAt: checkout.startsAt,
      endsAt: checkout.endsAt,
      justification: row.justification,
      ...(decision && (event === "approved" || event === "denied")
        ? { decidedBy: (decision.by as { name?: string }).name ?? decision.by.userId, comment: decision.comment }
        : {}),
      ...(checkout.revokeReason ? { reason: checkout.revokeReason } : {}),
    },
    { emails: await emails(env.DB, row, event === "requested" || event === "expired") },
    { ...env, mailRelay: await mailRelayOn(env.DB) },
  );
  // Approvers' task: their notified devices (Web Push) open the request's card.
  const pushRows =
    event === "requested"
      ? await planPush(
          env.DB,
          name,
          await approverIds(env.DB, row),
          approvalNotice({
            checkoutId: row.id,
            requester: row.requester_name,
            credential: `${row.credential_name} (${row.account_username})`,
            server: row.server_name,
          }),
          Date.now(),
        )
      : [];
  const all = [...rows, ...pushRows];
  if (all.length) await env.DB.batch(enqueueStatements(env.DB, all, Date.now()));
}

/** The approver group's enabled members, the requester left out (nobody approves their own request). */
async function approverIds(db: D1Database, row: CheckoutRow): Promise<string[]> {
  const groupId = rowPolicy(row).approverGroupId;
  if (!groupId) return [];
  const { results } = await db
    .prepare(
      `SELECT u.id FROM group_members gm JOIN users u ON u.id = gm.user_id
       WHERE gm.group_id = ? AND u.disabled = 0 AND u.id != ?`,
    )
    .bind(groupId, row.user_id)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

export async function deliverOutbox(env: Env, now: number) {
  const email = env.EMAIL;
  // With an SMTP relay set up, email goes through the mail site's connectors (worker/notify/relay.ts).
  const relayMail = await relayChannel(env.DB, hubSender(env));
  return deliverDue(env, now, {
    fetch: (input, init) => fetch(input, init),
    ...(relayMail ? { relayMail } : {}),
    ...(email
      ? {
          sendEmail: async (from: string, to: string, raw: string) => {
            const { sendViaBinding } = await import("../notify/email-send.ts");
            await sendViaBinding(email, from, to, raw);
          },
        }
      : {}),
  });
}
