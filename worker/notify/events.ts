// Events that are raised where the outbox cannot be written directly (the session room, the connector hub) reach
// people from the audit ledger: the minute sweep follows the ledger from a cursor and turns each followed entry
// into a notice for the right people. Rows and the cursor's move are one D1 batch behind a guard on the cursor,
// so two sweeps never both announce an entry and a failed batch announces it at the next sweep (at least once).
// The sweep also watches the connectors: one offline for CONNECTOR_DOWN_AFTER_MS is announced to admins once.
// The one owner of `notify_cursor` and `connector_outages` (AGENTS.md, "One owner per table").
import type { AuditEntry } from "../../protocol/index.ts";
import { ledger } from "../audit.ts";
import type { Env } from "../env.ts";
import type { EventNotice } from "./messages.ts";
import { enqueueStatements, type NotificationRow, planNotifications } from "./outbox.ts";
import { adminIds, emailsFor, mailRelayOn, topicOf } from "./people.ts";

/** Ledger entries read per sweep, at most (a burst larger than this is worked off over the next minutes). */
const PAGE = 200;
/** A fresh deployment (no cursor yet) announces entries this recent, not its whole history: 15 min. */
const FIRST_LOOKBACK_MS = 15 * 60_000;
/** A connector offline this long is announced (a restart or a network blip is not): 5 min. */
export const CONNECTOR_DOWN_AFTER_MS = 5 * 60_000;

const FOLLOWED = new Set([
  "session.killed",
  "recording.alert",
  "session.extension_requested",
  "session.extended",
  "session.extension_denied",
  "session.started",
]);

type Announce = { notice: EventNotice; userIds: string[] };

/** Announces the followed ledger entries written since the last sweep; returns how many outbox rows it wrote. */
export async function followLedger(env: Env, now: number): Promise<number> {
  const db = env.DB;
  const cursor = await db.prepare("SELECT after_idx FROM notify_cursor WHERE id = 1").first<{ after_idx: number }>();
  if (!cursor) {
    const recent = await ledger(env).query({ from: now - FIRST_LOOKBACK_MS, limit: 500 });
    const newest = recent.length ? null : (await ledger(env).query({ limit: 1 }))[0];
    const start = recent.length ? Math.min(...recent.map((e) => e.idx)) - 1 : (newest?.idx ?? -1);
    await db
      .prepare("INSERT INTO notify_cursor (id, after_idx) VALUES (1, ?) ON CONFLICT DO NOTHING")
      .bind(start)
      .run();
    return 0;
  }
  const entries = await ledger(env).page(cursor.after_idx, PAGE);
  if (entries.length === 0) return 0;
  const relay = await mailRelayOn(db);
  const rows: NotificationRow[] = [];
  for (const entry of entries) {
    if (!FOLLOWED.has(entry.action)) continue;
    const announce = await describe(db, entry);
    if (!announce) continue;
    const topic = topicOf(announce.notice.event);
    const emails = topic ? await emailsFor(db, announce.userIds, topic) : [];
    rows.push(...planNotifications(announce.notice, { emails }, { ...env, mailRelay: relay }));
  }
  const last = entries[entries.length - 1]!.idx;
  await db.batch([
    // Raises (rolling the batch back) when another sweep moved the cursor meanwhile: its rows stand, ours go.
    db
      .prepare("SELECT json(CASE WHEN after_idx = ? THEN '1' ELSE 'moved' END) FROM notify_cursor WHERE id = 1")
      .bind(cursor.after_idx),
    ...enqueueStatements(db, rows, now),
    db.prepare("UPDATE notify_cursor SET after_idx = ? WHERE id = 1").bind(last),
  ]);
  return rows.length;
}

type SessionFacts = {
  user_id: string;
  username: string;
  server_name: string;
  credential_name: string;
  approver_group_id: string | null;
  moderators_required: number | null;
  moderator_group_id: string | null;
};

async function sessionFacts(db: D1Database, sessionId: string | undefined): Promise<SessionFacts | null> {
  if (!sessionId) return null;
  return db
    .prepare(
      `SELECT se.user_id, u.username, sv.name AS server_name, cr.name AS credential_name,
         json_extract(ch.policy, '$.approverGroupId') AS approver_group_id,
         json_extract(ch.policy, '$.moderatorsRequired') AS moderators_required,
         json_extract(ch.policy, '$.moderatorGroupId') AS moderator_group_id
       FROM sessions se JOIN users u ON u.id = se.user_id JOIN servers sv ON sv.id = se.server_id
       JOIN credentials cr ON cr.id = se.credential_id LEFT JOIN checkouts ch ON ch.id = se.checkout_id
       WHERE se.id = ?`,
    )
    .bind(sessionId)
    .first<SessionFacts>();
}

/** A group's members but `except` (nobody approves or moderates their own session). */
async function groupMembers(db: D1Database, groupId: string, except: string): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT user_id FROM group_members WHERE group_id = ? AND user_id != ?")
    .bind(groupId, except)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

const text = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** The notice for one followed entry and who should read it, or null when nobody should. */
async function describe(db: D1Database, e: AuditEntry): Promise<Announce | null> {
  const data = (e.data ?? {}) as Record<string, unknown>;
  const sessionId = e.refs?.sessionId ?? (e.target?.type === "session" ? e.target.id : undefined);
  const actor = e.actor?.name ?? "An administrator";
  if (e.action === "recording.alert") {
    const where = e.target ? `${e.target.type} ${e.target.name ?? e.target.id}` : "the recorder";
    return {
      notice: {
        event: e.action,
        subject: `Recording alert: ${where}`,
        headline: "A recording needs attention: what the connector records may not reach the store.",
        fields: [
          { label: "Where", value: where },
          { label: "Detail", value: text(data.detail) || "no detail" },
        ],
        link: { label: "Open the audit log", path: "/#/audit" },
        context: `Audit entry ${e.idx}`,
      },
      userIds: await adminIds(db),
    };
  }
  const s = await sessionFacts(db, sessionId);
  if (!s) return null;
  const target = `${s.credential_name} on ${s.server_name}`;
  const base = [
    { label: "User", value: s.username },
    { label: "Target", value: target },
  ];
  const context = `Session ${sessionId}`;
  if (e.action === "session.killed") {
    const note = text(data.note);
    return {
      notice: {
        event: e.action,
        subject: `Your session was ended: ${target}`,
        headline: `${actor} ended your session on ${target}.`,
        fields: base,
        ...(note ? { note: { label: "Reason", value: note } } : {}),
        link: { label: "Open your requests", path: "/#/requests" },
        context,
      },
      userIds: [s.user_id],
    };
  }
  if (e.action === "session.started") {
    // A moderated session relays nothing its user types until its moderators watch (docs/governance.md).
    if (!s.moderators_required || !s.moderator_group_id) return null;
    return {
      notice: {
        event: e.action,
        subject: `Moderator needed: ${s.username} on ${target}`,
        headline: `${s.username} started a session that needs ${s.moderators_required} moderator(s) watching before any input reaches ${s.server_name}.`,
        fields: base,
        link: { label: "Watch and moderate", path: `/#/watch/${encodeURIComponent(sessionId ?? "")}` },
        context,
      },
      userIds: await groupMembers(db, s.moderator_group_id, s.user_id),
    };
  }
  if (e.action === "session.extension_requested") {
    if (!s.approver_group_id) return null;
    return {
      notice: {
        event: e.action,
        subject: `Extension asked: ${s.username} on ${target}`,
        headline: `${s.username} asks for ${text(data.minutes)} more minutes; it needs your decision.`,
        fields: [...base, { label: "Minutes", value: text(data.minutes) }],
        ...(text(data.reason) ? { note: { label: "Reason", value: text(data.reason) } } : {}),
        link: { label: "Open your approvals", path: "/#/approvals" },
        context,
      },
      userIds: await groupMembers(db, s.approver_group_id, s.user_id),
    };
  }
  // Decided by an approver (an extension the policy granted at once was the user's own doing: nothing to tell).
  if (data.approval !== "approver") return null;
  const granted = e.action === "session.extended";
  return {
    notice: {
      event: e.action,
      subject: `Extension ${granted ? "granted" : "denied"}: ${target}`,
      headline: `${actor} ${granted ? "granted" : "denied"} your ${text(data.minutes)} more minutes.`,
      fields: base,
      ...(text(data.comment) ? { note: { label: "Comment", value: text(data.comment) } } : {}),
      link: { label: "Open your requests", path: "/#/requests" },
      context,
    },
    userIds: [s.user_id],
  };
}

/** Live connectors of a site, by id (ConnectorHub.health). */
export type LiveConnectors = (siteId: string) => Promise<string[]>;

/**
 * Notes which enrolled connectors are offline and announces, once per outage, those offline for
 * CONNECTOR_DOWN_AFTER_MS to admins; a connector back online closes its outage. Returns how many it announced.
 */
export async function watchConnectors(env: Env, now: number, live: LiveConnectors): Promise<number> {
  const db = env.DB;
  const { results } = await db
    .prepare(
      `SELECT c.id, c.name, c.site_id, s.name AS site_name, o.down_since, o.notified_at
       FROM connectors c JOIN sites s ON s.id = c.site_id LEFT JOIN connector_outages o ON o.connector_id = c.id
       WHERE c.revoked_at IS NULL`,
    )
    .all<{
      id: string;
      name: string;
      site_id: string;
      site_name: string;
      down_since: number | null;
      notified_at: number | null;
    }>();
  const online = new Set<string>();
  for (const site of new Set(results.map((r) => r.site_id))) {
    for (const id of await live(site).catch(() => [] as string[])) online.add(id);
  }
  const statements: D1PreparedStatement[] = [];
  const due: typeof results = [];
  for (const c of results) {
    if (online.has(c.id)) {
      if (c.down_since !== null)
        statements.push(db.prepare("DELETE FROM connector_outages WHERE connector_id = ?").bind(c.id));
    } else if (c.down_since === null) {
      statements.push(
        db
          .prepare("INSERT INTO connector_outages (connector_id, down_since) VALUES (?, ?) ON CONFLICT DO NOTHING")
          .bind(c.id, now),
      );
    } else if (c.notified_at === null && now - c.down_since >= CONNECTOR_DOWN_AFTER_MS) {
      due.push(c);
    }
  }
  if (due.length > 0) {
    const emails = await emailsFor(db, await adminIds(db), "connectors");
    const relay = await mailRelayOn(db);
    for (const c of due) {
      const stillOnline = results.some((o) => o.site_id === c.site_id && online.has(o.id));
      const notice: EventNotice = {
        event: "connector.down",
        subject: `Connector offline: ${c.name} (${c.site_name})`,
        headline: stillOnline
          ? `${c.name} has been offline since ${new Date(c.down_since!).toISOString()}; the site's other connectors carry its sessions.`
          : `${c.name} has been offline since ${new Date(c.down_since!).toISOString()}; no connector of ${c.site_name} is online, so its servers cannot be reached.`,
        fields: [
          { label: "Connector", value: c.name },
          { label: "Site", value: c.site_name },
        ],
        link: { label: "Open Admin › Sites", path: "/#/admin/sites" },
        context: `Connector ${c.id}`,
      };
      // Marked first, in the same batch: an outage is announced once even when two sweeps overlap.
      const rows = planNotifications(notice, { emails }, { ...env, mailRelay: relay });
      statements.push(
        db
          .prepare(
            "SELECT json(CASE WHEN notified_at IS NULL THEN '1' ELSE 'notified' END) FROM connector_outages WHERE connector_id = ?",
          )
          .bind(c.id),
        db.prepare("UPDATE connector_outages SET notified_at = ? WHERE connector_id = ?").bind(now, c.id),
        ...enqueueStatements(db, rows, now),
      );
    }
  }
  if (statements.length > 0) await db.batch(statements);
  return due.length;
}
