// Notifications that reach people (docs/notifications.md): the admin's SMTP relay (which site's connectors carry
// the organisation's mail; the relay password sealed to that site in the browser, never readable here), the
// outbox rows that failed for admins to see and retry, and each user's preferences (Account page).
import { z } from "zod";
import {
  MailRelaySettings,
  MailRelayUpdate,
  NotifyPreferences,
  NotifyPreferencesUpdate,
  OutboxRow,
  Ok,
  OutboxQuery,
} from "../../protocol/index.ts";
import { currentSealKey, requireSealedToCurrent } from "../access/seal-keys.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { isEmailAddress } from "../notify/email.ts";
import { loadPreferences, savePreferences } from "../notify/people.ts";
import { retryNotification } from "../notify/outbox.ts";
import { loadRelay, type MailRelayRow, saveRelay } from "../notify/relay.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const notifications = newApi();
const tags = ["notifications"];
/** Failed and dead outbox rows listed, newest first, at most. */
const OUTBOX_LIST_MAX = 200;

function view(row: MailRelayRow | null): MailRelaySettings {
  return {
    configured: !!row,
    enabled: !!row?.enabled,
    siteId: row?.site_id ?? null,
    host: row?.host ?? null,
    port: row?.port ?? null,
    tls: row?.tls ?? "required",
    user: row?.username ?? null,
    passwordSet: !!row?.password_sealed,
    from: row?.from_address ?? null,
  };
}

/** What the ledger keeps of the relay settings: never the sealed password, only whether there is one. */
const shown = (s: MailRelaySettings) => ({
  enabled: s.enabled,
  siteId: s.siteId,
  host: s.host,
  port: s.port,
  tls: s.tls,
  user: s.user,
  passwordSet: s.passwordSet,
  from: s.from,
});

notifications.openapi(
  route({
    method: "get",
    path: "/admin/mail-relay",
    summary: "The SMTP relay the organisation's mail goes through, and the site whose connectors carry it",
    tags,
    middleware: [requireUser],
    response: MailRelaySettings,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    return c.json(view(await loadRelay(c.env.DB)), 200);
  },
);

notifications.openapi(
  route({
    method: "put",
    path: "/admin/mail-relay",
    summary: "Set the SMTP relay: site, host, port, STARTTLS, user and password (sealed to the site, write-only)",
    tags,
    middleware: [requireUser],
    body: MailRelayUpdate,
    response: MailRelaySettings,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const body = c.req.valid("json");
    if (!isEmailAddress(body.from)) throw new ApiFailure("bad_request", "mail relay: from is not a bare address");
    const key = await currentSealKey(c.env.DB, body.siteId);
    if (!key) throw new ApiFailure("bad_request", `mail relay: site ${body.siteId} has no seal key (no connector yet)`);
    const before = await loadRelay(c.env.DB);
    // A password belongs to its site's key: moving the relay to another site needs the password sealed again.
    if (body.password === undefined && before?.password_sealed && before.site_id !== body.siteId)
      throw new ApiFailure("bad_request", "mail relay: a new site needs the password sealed to it");
    // And to the relay it was given for: kept for another host or port (or without STARTTLS), the connector would
    // log in with it wherever an admin points it, and the write-only password be read back there.
    if (
      body.password === undefined &&
      before?.password_sealed &&
      (before.host !== body.host || before.port !== body.port || before.tls !== body.tls)
    )
      throw new ApiFailure("bad_request", "mail relay: a new host, port or TLS mode needs the password again");
    if (body.password) await requireSealedToCurrent(key.json, body.password);
    const password = body.password === undefined ? (before?.password_sealed ?? null) : body.password;
    if (body.user && !password && body.enabled)
      throw new ApiFailure("bad_request", "mail relay: a user needs its password");
    await saveRelay(c.env.DB, {
      enabled: body.enabled,
      siteId: body.siteId,
      host: body.host,
      port: body.port,
      tls: body.tls,
      user: body.user,
      passwordSealed: password,
      from: body.from,
    });
    const after = view(await loadRelay(c.env.DB));
    await adminChange(c, {
      target: { type: "setting", id: "mail_relay", name: "SMTP relay" },
      data: {
        before: before ? shown(view(before)) : null,
        after: shown(after),
        passwordChanged: body.password !== undefined,
      },
    });
    return c.json(after, 200);
  },
);

notifications.openapi(
  route({
    method: "get",
    path: "/admin/notifications",
    summary: "Outbox rows that failed (will be retried) or failed for good (dead), newest first",
    tags,
    middleware: [requireUser],
    query: OutboxQuery,
    response: z.array(OutboxRow),
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { state } = c.req.valid("query");
    const { results } = await c.env.DB.prepare(
      `SELECT id, channel, target, event, subject, attempts, created_at, delivered_at, dead_at, last_error
       FROM notifications
       WHERE delivered_at IS NULL AND last_error IS NOT NULL
         AND (? = 'all' OR (? = 'dead') = (dead_at IS NOT NULL))
       ORDER BY created_at DESC LIMIT ?`,
    )
      .bind(state, state, OUTBOX_LIST_MAX)
      .all<{
        id: string;
        channel: OutboxRow["channel"];
        target: string;
        event: string;
        subject: string;
        attempts: number;
        created_at: number;
        delivered_at: number | null;
        dead_at: number | null;
        last_error: string | null;
      }>();
    return c.json(
      results.map((r) => ({
        id: r.id,
        channel: r.channel,
        // A webhook URL can carry a token (Slack's do): admins see the channel, not the URL.
        target: r.channel === "email" ? r.target : r.channel,
        event: r.event,
        subject: r.subject,
        attempts: r.attempts,
        createdAt: r.created_at,
        state: r.dead_at !== null ? ("dead" as const) : ("failed" as const),
        lastError: r.last_error,
      })),
      200,
    );
  },
);

notifications.openapi(
  route({
    method: "post",
    path: "/admin/notifications/{id}/retry",
    summary: "Try a failed or dead outbox row again at the next sweep",
    tags,
    middleware: [requireUser],
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { id } = c.req.valid("param");
    if (!(await retryNotification(c.env.DB, id, Date.now())))
      throw new ApiFailure("not_found", `notification ${id}: none waiting or dead`);
    await adminChange(c, {
      target: { type: "notification", id, name: "outbox row" },
      data: { before: null, after: { retry: true } },
    });
    return c.json({ ok: true as const }, 200);
  },
);

notifications.openapi(
  route({
    method: "get",
    path: "/me/notifications",
    summary: "My notification preferences: which events reach me, by which channel",
    tags,
    middleware: [requireUser],
    response: NotifyPreferences,
  }),
  async (c) => c.json(await loadPreferences(c.env.DB, c.get("user").id), 200),
);

notifications.openapi(
  route({
    method: "put",
    path: "/me/notifications",
    summary: "Change my notification preferences (topics left out stay as they are)",
    tags,
    middleware: [requireUser],
    body: NotifyPreferencesUpdate,
    response: NotifyPreferences,
  }),
  async (c) => {
    const user = c.get("user");
    await savePreferences(c.env.DB, user.id, c.req.valid("json").topics, Date.now());
    return c.json(await loadPreferences(c.env.DB, user.id), 200);
  },
);
