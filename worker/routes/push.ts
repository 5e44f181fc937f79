// Approve-by-push with number matching: a device waiting for its second factor shows a two-digit
// number; another device where the same user is fully signed in lists the request (address, country,
// no numbers) and the user types the number shown. A wrong number denies the request (no approving by
// habit, no one-in-three guess). 60 s to answer. New requests are rate-limited per account, and three
// denials (by the user or by a wrong number) lock push for 30 minutes, audited.
import type { Context } from "hono";
import { z } from "zod";
import { PushAnswer, PushPending, PushStarted, PushState } from "../../protocol/index.ts";
import { actorOf, record } from "../audit.ts";
import { answerPush, collectPush, denyPendingPushes, denyPush, startPush } from "../auth/challenge-store.ts";
import { networkOf } from "../auth/device.ts";
import { afterSecondFactor, factorsOf } from "../auth/sign-in.ts";
import { RULES } from "../auth/throttle.ts";
import {
  clientIp,
  enforce,
  type ThrottleKey,
  throttleCheck,
  throttleCount,
  throttleReserve,
} from "../auth/throttle-store.ts";
import { requireAnySignIn, requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { planPush } from "../notify/push.ts";
import { browserOf } from "../../protocol/user-agent.ts";
import { signInNotice } from "../notify/push-notices.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { pushDevices, sendNow } from "../push-devices.ts";

export const push = newApi();
// The devices a user is notified on (Web Push): /push/config, /push/devices.
push.route("/", pushDevices);
const tags = ["mfa"];
/** How long a push request waits for an answer, ms. */
export const PUSH_TTL_MS = 60_000;

const twoDigit = () => 10 + (crypto.getRandomValues(new Uint32Array(1))[0]! % 90);

const pushKeys = (userId: string): ThrottleKey[] => [{ scope: "push", key: `push:${userId}` }];
const denialKeys = (userId: string): ThrottleKey[] => [{ scope: "push_denial", key: `push-deny:${userId}` }];

/**
 * A request was denied: counted; the denial that reaches the limit locks push (pending requests of the
 * user are denied too) and is audited as a lockout.
 */
async function pushDenied(c: Context<AppContext>, user: { id: string; username?: string }, now: number) {
  const after = await throttleCount(c.env.DB, denialKeys(user.id), now);
  const denials = after.states.get(`push-deny:${user.id}`)?.failures ?? 0;
  if (denials !== RULES.push_denial.lockAfter) return;
  await denyPendingPushes(c.env.DB, user.id);
  await record(c.env, {
    actor: null,
    action: "auth.locked_out",
    target: { type: "user", id: user.id, ...(user.username ? { name: user.username } : {}) },
    refs: { userId: user.id },
    data: { what: "push", denials, lockedForMs: RULES.push_denial.lockMs },
  });
}

type PushRow = {
  id: string;
  user_id: string;
  session_id: string;
  challenge: string;
  data: string;
  status: string;
  expires_at: number;
};

async function loadPush(c: Context<AppContext>, id: string): Promise<PushRow> {
  const row = await c.env.DB.prepare(
    "SELECT id, user_id, session_id, challenge, data, status, expires_at FROM auth_challenges WHERE id = ? AND kind = 'push'",
  )
    .bind(id)
    .first<PushRow>();
  // Another user's request is indistinguishable from a missing one.
  if (!row || row.user_id !== c.get("user").id) throw new ApiFailure("not_found");
  return row;
}

const stateOf = (row: PushRow, now: number) =>
  (row.status === "pending" && row.expires_at <= now
    ? "expired"
    : row.status === "used"
      ? "approved"
      : row.status) as z.infer<typeof PushState>["status"];

push.openapi(
  route({
    method: "post",
    path: "/mfa/push",
    summary: "Ask another signed-in device to approve",
    tags,
    middleware: [requireAnySignIn],
    response: PushStarted,
  }),
  async (c) => {
    const user = c.get("user");
    const f = await factorsOf(c.env.DB, user.id);
    if (!f.totp && !f.webauthn) throw new ApiFailure("conflict", "push needs an enrolled second factor");
    const now = Date.now();
    // Locked after repeated denials (audited when it locked), then rate-limited: every request counts.
    enforce(c, await throttleCheck(c.env.DB, denialKeys(user.id), now), `push ${user.id} locked`);
    enforce(c, await throttleReserve(c.env.DB, pushKeys(user.id), now), `push ${user.id} rate`);
    const number = twoDigit();
    const id = crypto.randomUUID();
    const net = networkOf(c);
    // One request per sign-in at a time: startPush denies the sign-in's pending one.
    await c.env.DB.batch(
      startPush(c.env.DB, {
        id,
        userId: user.id,
        sessionId: c.get("signIn").id,
        number,
        data: JSON.stringify({ ip: clientIp(c), country: net.country }),
        createdAt: now,
        expiresAt: now + PUSH_TTL_MS,
      }),
    );
    // The user's notified devices hear of it at once (no number in the notice: it is typed on the Account page).
    const ip = clientIp(c);
    const from = {
      browser: browserOf(c.req.header("user-agent")),
      ip: ip === "unknown" ? null : ip,
      country: net.country,
    };
    const notice = signInNotice(id, from);
    await sendNow(c, await planPush(c.env.DB, "auth.push_requested", [user.id], notice, now, { ttlMs: PUSH_TTL_MS }));
    return c.json({ id, number, expiresAt: now + PUSH_TTL_MS }, 200);
  },
);

push.openapi(
  route({
    method: "get",
    path: "/mfa/push/pending",
    summary: "Sign-in requests waiting for this user's approval",
    tags,
    middleware: [requireUser],
    response: z.array(PushPending),
  }),
  async (c) => {
    const { results } = await c.env.DB.prepare(
      "SELECT id, data, expires_at FROM auth_challenges WHERE user_id = ? AND kind = 'push' AND status = 'pending' AND expires_at > ? AND session_id != ? ORDER BY created_at DESC LIMIT 5",
    )
      .bind(c.get("user").id, Date.now(), c.get("signIn").id)
      .all<{ id: string; data: string; expires_at: number }>();
    return c.json(
      results.map((r) => {
        // The number is not sent: the user types what the waiting device shows.
        const data = JSON.parse(r.data) as { ip: string | null; country: string | null };
        return { id: r.id, ip: data.ip, country: data.country, expiresAt: r.expires_at };
      }),
      200,
    );
  },
);

push.openapi(
  route({
    method: "post",
    path: "/mfa/push/{id}/approve",
    summary: "Approve by typing the number the other device shows",
    tags,
    middleware: [requireUser],
    params: IdParam,
    body: PushAnswer,
    response: PushState,
  }),
  async (c) => {
    const user = c.get("user");
    const row = await loadPush(c, c.req.valid("param").id);
    if (row.session_id === c.get("signIn").id) throw new ApiFailure("forbidden", "a sign-in cannot approve itself");
    const match = Number(row.challenge) === c.req.valid("json").number;
    if (!(await answerPush(c.env.DB, row.id, match, Date.now())))
      return c.json({ status: stateOf(row, Date.now()) }, 200);
    await record(c.env, {
      actor: actorOf(user),
      action: match ? "auth.mfa" : "auth.mfa_failed",
      target: { type: "user", id: user.id, name: user.username },
      refs: { userId: user.id },
      data: { method: "push", approved: match, ...(match ? {} : { reason: "wrong number" }) },
    });
    if (!match) await pushDenied(c, user, Date.now());
    return c.json({ status: match ? "approved" : "denied" }, 200);
  },
);

push.openapi(
  route({
    method: "post",
    path: "/mfa/push/{id}/deny",
    summary: "Refuse a sign-in request",
    tags,
    middleware: [requireUser],
    params: IdParam,
    response: PushState,
  }),
  async (c) => {
    const row = await loadPush(c, c.req.valid("param").id);
    // Only a request that was still pending counts as a denial (a second click changes nothing).
    if (!(await denyPush(c.env.DB, row.id))) return c.json({ status: stateOf(row, Date.now()) }, 200);
    await record(c.env, {
      actor: actorOf(c.get("user")),
      action: "auth.mfa_failed",
      target: { type: "user", id: row.user_id },
      refs: { userId: row.user_id },
      data: { method: "push", reason: "denied by user" },
    });
    await pushDenied(c, c.get("user"), Date.now());
    return c.json({ status: "denied" }, 200);
  },
);

push.openapi(
  route({
    method: "post",
    path: "/mfa/push/{id}/complete",
    summary: "The waiting device collects the answer",
    tags,
    middleware: [requireAnySignIn],
    params: IdParam,
    response: PushState,
  }),
  async (c) => {
    const row = await loadPush(c, c.req.valid("param").id);
    // Only the sign-in that asked may collect the approval.
    if (row.session_id !== c.get("signIn").id) throw new ApiFailure("not_found", "push of another sign-in");
    const now = Date.now();
    if (row.status !== "approved") return c.json({ status: stateOf(row, now) }, 200);
    if (!(await collectPush(c.env.DB, row.id))) return c.json({ status: "expired" }, 200);
    await afterSecondFactor(c, "push");
    return c.json({ status: "approved" }, 200);
  },
);
