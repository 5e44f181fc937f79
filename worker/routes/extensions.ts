// More time on a live session: the user asks from the terminal page; policy grants it at once or sends
// it to the approver group; a granted extension moves the checkout's end and the session's deadline,
// reaches the room, and reaches the connector as a fresh signed grant.
import { z } from "zod";
import {
  ExtensionDecision,
  ExtensionRequest,
  ExtensionResult,
  type Policy,
  PendingExtension,
  type SessionSummary,
} from "../../protocol/index.ts";
import {
  type DecisionOutcome,
  decideExtension,
  type ExtensionError,
  type ExtensionPolicy,
  requestExtension,
} from "../access/extension.ts";
import { approversOf, personOf } from "../access/checkouts.ts";
import { extendWindow } from "../access/checkout-store.ts";
import {
  decideStoredExtension,
  denyForOverlap,
  extensionHistory,
  insertExtension,
  loadExtension,
} from "../access/extension-store.ts";
import { personIdOf } from "../access/user-store.ts";
import { DEFAULT_POLICY } from "../access/policy.ts";
import { actorOf, record } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import type { Env } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { grantForSession } from "../grants.ts";
import { moveSessionDeadline } from "../../edge-shared/session-store.ts";
import { extensionNotice } from "../notify/push-notices.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { enqueuePush } from "../push-devices.ts";

export const extensions = newApi();
const tags = ["sessions"];
const middleware = [requireUser];

type SessionRow = {
  id: string;
  user_id: string;
  server_id: string;
  checkout_id: string | null;
  status: string;
  deadline: number;
  policy: string | null;
  person_id: string;
  server_name: string;
  credential_name: string;
  requester: string;
};

async function loadSession(env: Env, id: string): Promise<SessionRow | null> {
  return env.DB.prepare(
    `SELECT se.id, se.user_id, se.server_id, se.checkout_id, se.status, se.deadline, ch.policy,
       COALESCE(u.person_id, u.id) AS person_id, sv.name AS server_name, cr.name AS credential_name, u.username AS requester
     FROM sessions se JOIN users u ON u.id = se.user_id JOIN servers sv ON sv.id = se.server_id
     JOIN credentials cr ON cr.id = se.credential_id LEFT JOIN checkouts ch ON ch.id = se.checkout_id WHERE se.id = ?`,
  )
    .bind(id)
    .first<SessionRow>();
}

/** The policy the session's checkout was granted under (fields added later take their defaults). */
function policyOf(row: { policy: string | null }): Policy {
  return { ...DEFAULT_POLICY, ...(row.policy ? (JSON.parse(row.policy) as Partial<Policy>) : {}) };
}

function extensionPolicy(p: Policy): ExtensionPolicy {
  return {
    extensionMinutes: p.extensionMinutes,
    maxExtensions: p.maxExtensions,
    extensionApprovalRequired: p.extensionApprovalRequired,
  };
}

/** What the terminal page may offer; null when extensions are off for this session. */
export async function extensionOffer(
  env: Env,
  sessionId: string,
  checkoutId: string | null,
): Promise<SessionSummary["extension"]> {
  const row = checkoutId
    ? await env.DB.prepare("SELECT policy FROM checkouts WHERE id = ?").bind(checkoutId).first<{ policy: string }>()
    : null;
  const policy = policyOf({ policy: row?.policy ?? null });
  if (policy.extensionMinutes === null || policy.maxExtensions < 1) return null;
  const { granted, pending } = await extensionHistory(env.DB, sessionId);
  return {
    minutes: policy.extensionMinutes,
    remaining: Math.max(0, policy.maxExtensions - granted),
    approval: policy.extensionApprovalRequired,
    pending,
  };
}

/**
 * Moves the checkout's end, then the session's deadline, then tells the room (and so the connector). The
 * checkout grows only as a new checkout would be let in (extendWindow): it may not run into another open
 * checkout of the credential where either is exclusive. Then the extension row `extensionId` is marked denied
 * and the caller gets a conflict; nothing else moved.
 */
async function applyExtension(env: Env, session: SessionRow, deadline: number, extensionId: string): Promise<void> {
  if (session.checkout_id && !(await extendWindow(env.DB, session.checkout_id, deadline))) {
    await denyForOverlap(env.DB, extensionId, session.deadline);
    throw new ApiFailure("conflict", `extension ${extensionId} of ${session.id}: exclusive_overlap`);
  }
  await moveSessionDeadline(env.DB, session.id, deadline);
  const grant = await grantForSession(env, session.id, deadline);
  const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(session.id));
  await room.extend(deadline, grant);
}

const ERROR_CODES: Record<ExtensionError, "forbidden" | "conflict" | "bad_request"> = {
  extensions_off: "forbidden",
  too_long: "bad_request",
  limit_reached: "conflict",
  already_pending: "conflict",
  session_ended: "conflict",
  no_eligible_approver: "conflict",
  self_approval: "forbidden",
  not_an_approver: "forbidden",
  not_pending: "conflict",
};

function refuse(error: ExtensionError, id: string): never {
  throw new ApiFailure(ERROR_CODES[error], `extension on ${id}: ${error}`);
}

extensions.openapi(
  route({
    method: "post",
    path: "/sessions/{id}/extensions",
    summary: "Ask for more time on one's own live session",
    tags,
    middleware,
    params: IdParam,
    body: ExtensionRequest,
    response: ExtensionResult,
    status: 201,
  }),
  async (c) => {
    const user = c.get("user");
    const now = Date.now();
    const session = await loadSession(c.env, c.req.valid("param").id);
    // Someone else's session is indistinguishable from a missing one.
    if (!session || session.user_id !== user.id) throw new ApiFailure("not_found");
    const { minutes, reason } = c.req.valid("json");
    const policy = policyOf(session);
    const requester = await personOf(c.env.DB, user);
    const approvers = await approversOf(c.env.DB, policy.approverGroupId);
    const outcome = requestExtension(
      extensionPolicy(policy),
      {
        deadline: session.deadline,
        ended: session.status === "ended",
        ...(await extensionHistory(c.env.DB, session.id)),
      },
      { minutes, at: now, requester, approvers },
    );
    if (!outcome.ok) refuse(outcome.error, session.id);
    const id = crypto.randomUUID();
    const deadline = outcome.status === "granted" ? outcome.deadline : session.deadline;
    // Guarded in the INSERT too: of two requests racing, at most one is stored while one is pending.
    const stored = await insertExtension(c.env.DB, {
      id,
      sessionId: session.id,
      userId: user.id,
      personId: requester.personId,
      minutes,
      reason,
      status: outcome.status,
      requestedAt: now,
      deadline,
    });
    if (!stored) refuse("already_pending", session.id);
    const refs = { userId: user.id, serverId: session.server_id, sessionId: session.id };
    const target = { type: "session", id: session.id, name: `${session.credential_name}@${session.server_name}` };
    if (outcome.status === "granted") {
      await applyExtension(c.env, session, deadline, id);
      await record(c.env, {
        actor: actorOf(user),
        action: "session.extended",
        target,
        refs,
        data: { minutes, reason, deadline, approval: "policy" },
      });
    } else {
      await record(c.env, {
        actor: actorOf(user),
        action: "session.extension_requested",
        target,
        refs,
        data: { minutes, reason },
      });
      // Approvers' task: their notified devices (Web Push) hear of it.
      await enqueuePush(
        c.env,
        "session.extension_requested",
        approvers.map((a) => a.userId).filter((a) => a !== user.id),
        extensionNotice({ extensionId: id, requester: user.username, target: target.name, minutes }),
      );
    }
    return c.json({ id, status: outcome.status, deadline }, 201);
  },
);

extensions.openapi(
  route({
    method: "get",
    path: "/extensions",
    summary: "Pending extensions the caller may decide",
    tags,
    middleware,
    response: z.array(PendingExtension),
  }),
  async (c) => {
    const user = c.get("user");
    const me = await personOf(c.env.DB, user);
    const { results } = await c.env.DB.prepare(
      `SELECT ex.id, ex.session_id, u.username AS requester, sv.name AS server, cr.name AS credential, ex.minutes, ex.reason,
         ex.requested_at, se.deadline
       FROM session_extensions ex JOIN sessions se ON se.id = ex.session_id JOIN users u ON u.id = ex.user_id
       JOIN servers sv ON sv.id = se.server_id JOIN credentials cr ON cr.id = se.credential_id
       JOIN checkouts ch ON ch.id = se.checkout_id
       JOIN group_members gm ON gm.group_id = json_extract(ch.policy, '$.approverGroupId') AND gm.user_id = ?
       WHERE ex.status = 'pending' AND se.status != 'ended' AND ex.person_id != ? ORDER BY ex.requested_at`,
    )
      .bind(user.id, me.personId)
      .all<{
        id: string;
        session_id: string;
        requester: string;
        server: string;
        credential: string;
        minutes: number;
        reason: string;
        requested_at: number;
        deadline: number;
      }>();
    return c.json(
      results.map((r) => ({
        id: r.id,
        sessionId: r.session_id,
        requester: r.requester,
        server: r.server,
        credential: r.credential,
        minutes: r.minutes,
        reason: r.reason,
        requestedAt: r.requested_at,
        deadline: r.deadline,
      })),
      200,
    );
  },
);

extensions.openapi(
  route({
    method: "post",
    path: "/extensions/{id}/decision",
    summary: "Approve or deny a pending extension",
    tags,
    middleware,
    params: IdParam,
    body: ExtensionDecision,
    response: ExtensionResult,
  }),
  async (c) => {
    const user = c.get("user");
    const now = Date.now();
    const id = c.req.valid("param").id;
    const request = await loadExtension(c.env.DB, id);
    const session = request ? await loadSession(c.env, request.session_id) : null;
    if (!request || !session) throw new ApiFailure("not_found");
    const policy = policyOf(session);
    const approvers = await approversOf(c.env.DB, policy.approverGroupId);
    // Only approvers learn that the request exists.
    if (!approvers.some((a) => a.userId === user.id)) throw new ApiFailure("not_found");
    const { approve, comment } = c.req.valid("json");
    const by = await personOf(c.env.DB, user);
    // The requester's person now, as well as when they asked: a link made since (SSO sign-in) counts too.
    if (by.personId === (await personIdOf(c.env.DB, request.user_id))) refuse("self_approval", session.id);
    const outcome: DecisionOutcome = decideExtension(
      {
        status: request.status,
        minutes: request.minutes,
        requester: { userId: request.user_id, personId: request.person_id },
      },
      { deadline: session.deadline, ended: session.status === "ended", granted: 0, pending: true },
      { approve, by, approvers, at: now },
    );
    if (!outcome.ok) refuse(outcome.error, session.id);
    const deadline = outcome.status === "granted" ? outcome.deadline : session.deadline;
    const saved = await decideStoredExtension(c.env.DB, id, {
      status: outcome.status,
      by: user.id,
      at: now,
      comment,
      deadline,
    });
    if (!saved) throw new ApiFailure("conflict", `extension ${id} decided meanwhile`);
    if (outcome.status === "granted") await applyExtension(c.env, session, deadline, id);
    if (outcome.status !== "lapsed")
      await record(c.env, {
        actor: actorOf(user),
        action: outcome.status === "granted" ? "session.extended" : "session.extension_denied",
        target: { type: "session", id: session.id, name: `${session.credential_name}@${session.server_name}` },
        refs: { userId: session.user_id, serverId: session.server_id, sessionId: session.id },
        data: { minutes: request.minutes, reason: request.reason, comment, deadline, approval: "approver" },
      });
    return c.json({ id, status: outcome.status, deadline }, 200);
  },
);
