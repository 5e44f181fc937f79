// Who hears of what: each user's notification preferences (a channel per topic, defaults below) and the addresses
// the outbox writes to for a topic. Every notification to a person goes through `notifyPeople`, so a choice made
// on the Account page holds for every event of its topic. The one owner of `notify_preferences` (AGENTS.md, "One
// owner per table").
import {
  type NotifyChannel,
  type NotifyPreferences,
  NotifyTopic,
  type NotifyTopic as Topic,
} from "../../protocol/index.ts";
import type { EventNotice } from "./messages.ts";
import { enqueueStatements, type NotifyEnv, planNotifications } from "./outbox.ts";
import { loadRelay } from "./relay.ts";

/**
 * Defaults: everything a person must act on or would want to know at once reaches them by email until they say
 * otherwise. These are few (approvals, one's own session killed, admins' alerts), so no topic starts off.
 */
export const DEFAULT_CHANNELS: Record<Topic, NotifyChannel> = {
  requests: "email",
  extensions: "email",
  kills: "email",
  recording_alerts: "email",
  rotation_failures: "email",
  connectors: "email",
  moderation: "email",
};

/** The topic an outbox event belongs to (checkout.* and the audit actions notified). */
export function topicOf(event: string): Topic | null {
  if (event.startsWith("checkout.")) return "requests";
  if (event.startsWith("session.extension") || event === "session.extended") return "extensions";
  if (event === "session.killed") return "kills";
  if (event === "recording.alert") return "recording_alerts";
  if (event === "credential.rotation_failed") return "rotation_failures";
  if (event === "connector.down") return "connectors";
  if (event === "session.started") return "moderation";
  return null;
}

export async function loadPreferences(db: D1Database, userId: string): Promise<NotifyPreferences> {
  const [{ results }, user] = await Promise.all([
    db
      .prepare("SELECT topic, channel FROM notify_preferences WHERE user_id = ?")
      .bind(userId)
      .all<{ topic: string; channel: NotifyChannel }>(),
    db.prepare("SELECT email FROM users WHERE id = ?").bind(userId).first<{ email: string | null }>(),
  ]);
  const topics = { ...DEFAULT_CHANNELS };
  for (const r of results) {
    const topic = NotifyTopic.safeParse(r.topic);
    if (topic.success) topics[topic.data] = r.channel;
  }
  return { topics, email: user?.email ?? null };
}

export async function savePreferences(
  db: D1Database,
  userId: string,
  topics: Partial<Record<Topic, NotifyChannel>>,
  now: number,
): Promise<void> {
  const upsert = db.prepare(
    `INSERT INTO notify_preferences (user_id, topic, channel, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(user_id, topic) DO UPDATE SET channel = excluded.channel, updated_at = excluded.updated_at`,
  );
  const statements = Object.entries(topics).map(([topic, channel]) => upsert.bind(userId, topic, channel, now));
  if (statements.length > 0) await db.batch(statements);
}

/**
 * The email addresses of `userIds` (enabled, with an address) whose channel for `topic` is email: their own
 * choice, or the topic's default.
 */
export async function emailsFor(db: D1Database, userIds: string[], topic: Topic): Promise<string[]> {
  if (userIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT DISTINCT u.email FROM users u
       LEFT JOIN notify_preferences p ON p.user_id = u.id AND p.topic = ?
       WHERE u.id IN (SELECT value FROM json_each(?)) AND u.email IS NOT NULL AND u.disabled = 0
         AND COALESCE(p.channel, ?) = 'email'`,
    )
    .bind(topic, JSON.stringify([...new Set(userIds)]), DEFAULT_CHANNELS[topic])
    .all<{ email: string }>();
  return results.map((r) => r.email);
}

/** Enabled users with the admin role. */
export async function adminIds(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT id FROM users WHERE disabled = 0 AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = 'admin')",
    )
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Whether an SMTP relay is set up and on: email rows are then written even without the send_email binding. */
export async function mailRelayOn(db: D1Database): Promise<boolean> {
  return !!(await loadRelay(db))?.enabled;
}

/**
 * Puts `notice` in the outbox for `userIds` as their preferences for its topic say (and for the webhook, if one
 * is configured); returns how many rows were written.
 */
export async function notifyPeople(
  env: Pick<NotifyEnv, "DB" | "EMAIL" | "NOTIFY_WEBHOOK_URL" | "NOTIFY_EMAIL_FROM" | "APP_URL">,
  notice: EventNotice,
  userIds: string[],
  now: number,
): Promise<number> {
  const topic = topicOf(notice.event);
  const emails = topic ? await emailsFor(env.DB, userIds, topic) : [];
  const rows = planNotifications(notice, { emails }, { ...env, mailRelay: await mailRelayOn(env.DB) });
  if (rows.length > 0) await env.DB.batch(enqueueStatements(env.DB, rows, now));
  return rows.length;
}
