// Notified devices (Web Push): the Account page registers this browser's push subscription after the person
// clicked "Notify this device", lists their devices (label and dates only: an endpoint is a capability URL and
// the keys are the browser's), removes one, and sends a test. At most PUSH_DEVICES_MAX per user. Also the
// helper that sends a sign-in request's notice at once (the cron sweep would be too late for a 60 s request).
import type { Context } from "hono";
import { z } from "zod";
import {
  PUSH_DEVICES_MAX,
  PushConfig,
  PushDevice,
  PushDeviceSaved,
  type PushNotice,
  PushSubscriptionInput,
} from "../protocol/web-push.ts";
import { Ok } from "../protocol/api.ts";
import { actorOf, record } from "./audit.ts";
import { requireUser } from "./auth/user-token.ts";
import type { AppContext, Env } from "./env.ts";
import { ApiFailure } from "./errors.ts";
import { deliverNow, enqueueStatements } from "./notify/outbox.ts";
import { planPush, vapidPublicKey } from "./notify/push.ts";
import { devicesOf, endpointOwner, removeDevice, saveSubscription } from "./notify/push-subscriptions.ts";
import { testNotice } from "./notify/push-notices.ts";
import { IdParam, newApi, route } from "./openapi.ts";

export const pushDevices = newApi();
const tags = ["push"];
const middleware = [requireUser];

async function devicesChanged(c: Context<AppContext>, change: "added" | "removed", label: string) {
  const user = c.get("user");
  await record(c.env, {
    actor: actorOf(user),
    action: "auth.credentials_changed",
    target: { type: "user", id: user.id, name: user.username },
    refs: { userId: user.id },
    data: { what: "notified devices", change, device: label },
  });
}

pushDevices.openapi(
  route({
    method: "get",
    path: "/push/config",
    summary: "The VAPID public key to subscribe with (null: push is not configured)",
    tags,
    middleware,
    response: PushConfig,
  }),
  (c) => c.json({ publicKey: vapidPublicKey(c.env) }, 200),
);

pushDevices.openapi(
  route({
    method: "get",
    path: "/push/devices",
    summary: "One's notified devices",
    tags,
    middleware,
    response: z.array(PushDevice),
  }),
  async (c) => {
    return c.json(await devicesOf(c.env.DB, c.get("user").id), 200);
  },
);

pushDevices.openapi(
  route({
    method: "post",
    path: "/push/devices",
    summary: "Notify this browser (its push subscription); the same browser again updates its keys",
    tags,
    middleware,
    body: PushSubscriptionInput,
    response: PushDeviceSaved,
  }),
  async (c) => {
    if (!vapidPublicKey(c.env)) throw new ApiFailure("conflict", "push is not configured (PUSH_VAPID_KEY)");
    const user = c.get("user");
    const { endpoint, keys, label } = c.req.valid("json");
    const before = await endpointOwner(c.env.DB, endpoint);
    const saved = await saveSubscription(
      c.env.DB,
      { userId: user.id, endpoint, p256dh: keys.p256dh, auth: keys.auth, label },
      PUSH_DEVICES_MAX,
    );
    if (!saved) throw new ApiFailure("conflict", `at most ${PUSH_DEVICES_MAX} notified devices`);
    // A browser that moves to this user (a shared machine) is new to this user; a key refresh is not an event.
    if (before !== user.id) await devicesChanged(c, "added", label);
    return c.json({ id: saved }, 200);
  },
);

pushDevices.openapi(
  route({
    method: "delete",
    path: "/push/devices/{id}",
    summary: "Stop notifying one of one's devices",
    tags,
    middleware,
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    const label = await removeDevice(c.env.DB, c.req.valid("param").id, c.get("user").id);
    // Idempotent: another user's device, or one already gone, changes nothing.
    if (label !== null) await devicesChanged(c, "removed", label);
    return c.json({ ok: true as const }, 200);
  },
);

pushDevices.openapi(
  route({
    method: "post",
    path: "/push/devices/{id}/test",
    summary: "Send a test notification to one of one's devices",
    tags,
    middleware,
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const id = c.req.valid("param").id;
    const pending = await c.env.DB.prepare(
      `SELECT 1 AS n FROM notifications WHERE channel = 'push' AND target = ? AND event = 'push.test'
       AND delivered_at IS NULL AND dead_at IS NULL`,
    )
      .bind(id)
      .first();
    // One test at a time per device: the button cannot fill the outbox.
    if (pending) throw new ApiFailure("rate_limited", "a test is still on its way");
    const rows = await planPush(c.env.DB, "push.test", [user.id], testNotice(id), Date.now(), {
      ttlMs: 10 * 60_000,
      onlyDevice: id,
    });
    if (rows.length === 0) throw new ApiFailure("not_found");
    await sendNow(c, rows);
    return c.json({ ok: true as const }, 200);
  },
);

/**
 * Writes push rows and delivers them at once in the background (waitUntil), through the outbox: a failure there
 * is retried by the cron sweep like any notification.
 */
export async function sendNow(c: Context<AppContext>, rows: Awaited<ReturnType<typeof planPush>>): Promise<void> {
  if (rows.length === 0) return;
  await c.env.DB.batch(enqueueStatements(c.env.DB, rows, Date.now()));
  const delivering = deliverNow(
    c.env,
    rows.map((r) => r.id),
    { fetch: (input, init) => fetch(input, init) },
  ).catch((err: unknown) => console.warn(`push deliverNow failed: ${err instanceof Error ? err.name : "error"}`));
  c.executionCtx.waitUntil(delivering);
}

/** Pushes `notice` to every notified device of `userIds` via the outbox, for callers that hold only the env. */
export async function enqueuePush(env: Env, event: string, userIds: string[], notice: PushNotice): Promise<void> {
  const now = Date.now();
  const rows = await planPush(env.DB, event, userIds, notice, now);
  if (rows.length) await env.DB.batch(enqueueStatements(env.DB, rows, now));
}
