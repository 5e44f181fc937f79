// The one owner of `push_subscriptions` (AGENTS.md, "One owner per table"): a person's notified devices, saved and
// removed from the Account page (push-devices.ts), and, on delivery (push.ts), stamped or dropped when the push
// service says the subscription is gone. An endpoint is a capability URL: only delivery reads it.
import type { PushDevice } from "../../protocol/web-push.ts";

export type Subscription = { id: string; endpoint: string; p256dh: string; auth: string };

export async function devicesOf(db: D1Database, userId: string): Promise<PushDevice[]> {
  const { results } = await db
    .prepare(
      "SELECT id, label, created_at, last_delivered_at FROM push_subscriptions WHERE user_id = ? ORDER BY created_at",
    )
    .bind(userId)
    .all<{ id: string; label: string; created_at: number; last_delivered_at: number | null }>();
  return results.map((r) => ({
    id: r.id,
    label: r.label,
    createdAt: r.created_at,
    lastDeliveredAt: r.last_delivered_at,
  }));
}

/** The subscriptions of these users (or just `onlyDevice` among them), oldest first. */
export async function subscriptionIdsOf(
  db: D1Database,
  userIds: string[],
  onlyDevice: string | null,
): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT id FROM push_subscriptions WHERE user_id IN (SELECT value FROM json_each(?)) AND (? IS NULL OR id = ?)
       ORDER BY created_at`,
    )
    .bind(JSON.stringify(userIds), onlyDevice, onlyDevice)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Whose the browser's subscription is now (null: not listed). */
export async function endpointOwner(db: D1Database, endpoint: string): Promise<string | null> {
  const row = await db
    .prepare("SELECT user_id FROM push_subscriptions WHERE endpoint = ?")
    .bind(endpoint)
    .first<{ user_id: string }>();
  return row?.user_id ?? null;
}

/**
 * Saves a browser's subscription for `userId`, at most `max` per user: one statement, so the bound holds under
 * concurrent saves; a browser already listed as this user's always passes (its keys and label are updated). A browser
 * that moves to another user starts over as that user's. Returns its id, or null when the user has `max` others.
 */
export async function saveSubscription(
  db: D1Database,
  s: { userId: string; endpoint: string; p256dh: string; auth: string; label: string },
  max: number,
): Promise<string | null> {
  const saved = await db
    .prepare(
      `INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, label, created_at)
       SELECT ?, ?, ?, ?, ?, ?, ?
       WHERE (SELECT COUNT(*) FROM push_subscriptions WHERE user_id = ? AND endpoint != ?) < ?
       ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
         auth = excluded.auth, label = excluded.label,
         created_at = CASE WHEN user_id = excluded.user_id THEN created_at ELSE excluded.created_at END,
         last_delivered_at = CASE WHEN user_id = excluded.user_id THEN last_delivered_at ELSE NULL END
       RETURNING id`,
    )
    .bind(crypto.randomUUID(), s.userId, s.endpoint, s.p256dh, s.auth, s.label, Date.now(), s.userId, s.endpoint, max)
    .first<{ id: string }>();
  return saved?.id ?? null;
}

/** Removes one of the user's devices; its label, or null when it is not theirs or already gone. */
export async function removeDevice(db: D1Database, id: string, userId: string): Promise<string | null> {
  const row = await db
    .prepare("DELETE FROM push_subscriptions WHERE id = ? AND user_id = ? RETURNING label")
    .bind(id, userId)
    .first<{ label: string }>();
  return row?.label ?? null;
}

export async function loadSubscription(db: D1Database, id: string): Promise<Subscription | null> {
  return db
    .prepare("SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE id = ?")
    .bind(id)
    .first<Subscription>();
}

export async function markDelivered(db: D1Database, id: string, now: number): Promise<void> {
  await db.prepare("UPDATE push_subscriptions SET last_delivered_at = ? WHERE id = ?").bind(now, id).run();
}

/** The push service said it will never work again (RFC 8030 §7.3). */
export async function dropSubscription(db: D1Database, id: string): Promise<void> {
  await db.prepare("DELETE FROM push_subscriptions WHERE id = ?").bind(id).run();
}
