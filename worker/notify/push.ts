// Web Push channel of the outbox: one row per (notice, subscription), encrypted per RFC 8291 (aes128gcm) and
// signed with VAPID (RFC 8292) by @block65/webcrypto-web-push at delivery time, POSTed to the subscription's
// push service. A 404/410 means the subscription is gone: it is removed and the row is dead at once; a 429 or
// 5xx is retried by the outbox like any failed delivery. A row holds the subscription's id, never its endpoint
// or keys, and the notice holds no secret (see protocol/web-push.ts).
import { buildPushPayload, type VapidKeys } from "@block65/webcrypto-web-push";
import type { PushNotice } from "../../protocol/web-push.ts";
import { type DeliveryResult, scrubError } from "./delivery.ts";
import type { NotificationRow } from "./outbox.ts";
import { dropSubscription, loadSubscription, markDelivered, subscriptionIdsOf } from "./push-subscriptions.ts";

export const PUSH_TIMEOUT_MS = 10_000;
/** Sign-in requests live 60 s (routes/push.ts); approvers' tasks are worth a day at most on a phone that was off. */
const TASK_TTL_MS = 24 * 3_600_000;

export type PushEnv = { DB: D1Database; PUSH_VAPID_KEY?: string; PUSH_VAPID_SUBJECT?: string; APP_URL?: string };

/** What a push row's body holds: the notice, and when it stops being worth showing (ms since the epoch). */
type PushRowBody = { notice: PushNotice; expiresAt: number; urgency: "normal" | "high" };

type PrivateEcJwk = { kty: "EC"; crv: "P-256"; x: string; y: string; d: string };

function parseVapidJwk(secret: string): PrivateEcJwk {
  const jwk = JSON.parse(secret) as Partial<PrivateEcJwk>;
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || !jwk.x || !jwk.y || !jwk.d) {
    throw new Error("PUSH_VAPID_KEY must be a private P-256 JWK");
  }
  return jwk as PrivateEcJwk;
}

const b64urlToBytes = (s: string) =>
  Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const bytesToB64url = (b: Uint8Array) =>
  btoa(String.fromCharCode(...b))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/** The VAPID public key browsers subscribe with (base64url uncompressed point), or null when push is off. */
export function vapidPublicKey(env: Pick<PushEnv, "PUSH_VAPID_KEY">): string | null {
  if (!env.PUSH_VAPID_KEY) return null;
  const jwk = parseVapidJwk(env.PUSH_VAPID_KEY);
  return bytesToB64url(new Uint8Array([4, ...b64urlToBytes(jwk.x), ...b64urlToBytes(jwk.y)]));
}

/** The VAPID `sub`: PUSH_VAPID_SUBJECT, else the app's https origin; push services want a way to reach us. */
function vapidKeys(env: PushEnv): VapidKeys | null {
  if (!env.PUSH_VAPID_KEY) return null;
  const subject = env.PUSH_VAPID_SUBJECT ?? env.APP_URL?.replace(/\/+$/, "");
  if (!subject || !/^(mailto:|https:\/\/)/.test(subject)) return null;
  return {
    subject,
    publicKey: vapidPublicKey(env)!,
    privateKey: parseVapidJwk(env.PUSH_VAPID_KEY).d,
  };
}

/**
 * The outbox rows for `notice`: one per subscription of `userIds` (a user without one gets nothing), to be written
 * with enqueueStatements in the same batch as the change they announce. Rows name subscriptions by id: a device
 * removed before delivery makes its row dead, not misdirected. `onlyDevice` narrows it to one subscription.
 */
export async function planPush(
  db: D1Database,
  event: string,
  userIds: string[],
  notice: PushNotice,
  now: number,
  opts: { ttlMs?: number; onlyDevice?: string } = {},
): Promise<NotificationRow[]> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return [];
  const subscriptions = await subscriptionIdsOf(db, ids, opts.onlyDevice ?? null);
  const body: PushRowBody = {
    notice,
    expiresAt: now + (opts.ttlMs ?? TASK_TTL_MS),
    urgency: notice.kind === "sign_in" ? "high" : "normal",
  };
  return subscriptions.map((subscriptionId) => ({
    id: crypto.randomUUID(),
    channel: "push",
    target: subscriptionId,
    event,
    subject: notice.title,
    body: JSON.stringify(body),
  }));
}

/** Encrypts and sends one push row; see the file header for what each answer of the push service means. */
export async function deliverPush(
  fetchFn: typeof fetch,
  env: PushEnv,
  row: { id: string; target: string; body: string },
  now: number,
  timeoutMs = PUSH_TIMEOUT_MS,
): Promise<DeliveryResult> {
  const sub = await loadSubscription(env.DB, row.target);
  if (!sub) return { ok: false, error: "push subscription removed", final: true };
  const body = JSON.parse(row.body) as PushRowBody;
  const leftMs = body.expiresAt - now;
  if (leftMs <= 0) return { ok: false, error: "push notice expired before delivery", final: true };
  const vapid = vapidKeys(env);
  if (!vapid) return { ok: false, error: "push not configured (PUSH_VAPID_KEY, PUSH_VAPID_SUBJECT or APP_URL)" };
  // The endpoint is a capability URL: it never appears in an error, a log or a row.
  const secrets = [sub.endpoint, new URL(sub.endpoint).pathname];
  let res: Response;
  try {
    const payload = await buildPushPayload(
      // TTL: the push service keeps it for an offline device only as long as it is worth showing.
      { data: body.notice, options: { ttl: Math.max(1, Math.floor(leftMs / 1000)), urgency: body.urgency } },
      { endpoint: sub.endpoint, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } },
      vapid,
    );
    res = await fetchFn(sub.endpoint, {
      method: "POST",
      headers: payload.headers,
      body: payload.body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const name = err instanceof Error ? err.name : "";
    const what =
      name === "TimeoutError" || name === "AbortError" ? `timeout after ${timeoutMs} ms` : `${name || "error"}`;
    return { ok: false, error: scrubError(`push ${what}`, secrets) };
  }
  await res.body?.cancel().catch(() => {});
  if (res.status >= 200 && res.status < 300) {
    await markDelivered(env.DB, sub.id, now);
    return { ok: true };
  }
  if (res.status === 404 || res.status === 410) {
    // RFC 8030 §7.3: the subscription expired or was unsubscribed; it will never work again.
    await dropSubscription(env.DB, sub.id);
    return { ok: false, error: `push subscription gone (http ${res.status}), removed`, final: true };
  }
  if (res.status === 429 || res.status >= 500) return { ok: false, error: `push service http ${res.status}` };
  // 400 (malformed), 401/403 (VAPID refused), 413 (too big): the same request will not succeed later.
  return { ok: false, error: `push refused (http ${res.status})`, final: true };
}
