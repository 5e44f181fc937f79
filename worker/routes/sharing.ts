// Shared sessions (issue 19, docs/governance.md "Shared sessions"): the session's user invites another person to
// join with input; the invitee accepts after their own step-up and opens the `join` socket, a viewer socket whose
// input reaches the target (the room attributes it: durable/room/sharing.ts). Who may join is one SQL definition
// (worker/access/sharing.ts). A session or invitation the caller has no part in is "not found".
import { z } from "zod";
import {
  InvitationAccepted,
  InvitationToMe,
  InviteRequest,
  MAX_INVITATIONS_PER_SESSION,
  SessionInvitation,
  SessionSharing,
  StepUpDecision,
  InvitationRevoked,
} from "../../protocol/index.ts";
import type { Context } from "hono";
import { loadRow } from "../access/checkouts.ts";
import {
  acceptInvitation,
  eligibility,
  invitation,
  invitationsOf,
  invitationsTo,
  invite,
  openInvitations,
  revokeInvitation,
  sharingOf,
} from "../access/sharing.ts";
import { actorOf, record } from "../audit.ts";
import { auditStepUp, stepUpDecision } from "../auth/connect-gate.ts";
import { requireSocketUser } from "../auth/socket-ticket.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { planPush } from "../notify/push.ts";
import { invitationNotice } from "../notify/push-notices.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { sendNow } from "../push-devices.ts";
import { forwardSocket, requireSameOrigin, requireUpgrade } from "../sockets.ts";

export const sharing = newApi();
const tags = ["sessions"];
const middleware = [requireUser];

/** The session, when the caller is its user (else "not found": nobody learns of another's session here). */
async function ownSession(c: Context<AppContext>, sessionId: string) {
  const session = await sharingOf(c.env.DB, sessionId);
  if (!session || session.owner !== c.get("user").id) throw new ApiFailure("not_found");
  return session;
}

/** Audits an invitation event on the session (its user and server in the refs, as the room's entries have). */
async function audit(
  c: Context<AppContext>,
  session: { id: string; userId: string; serverId: string },
  action: "session.invited" | "session.invitation_revoked" | "session.invitation_accepted",
  data: Record<string, unknown>,
) {
  await record(c.env, {
    actor: actorOf(c.get("user")),
    action,
    target: { type: "session", id: session.id },
    refs: { userId: session.userId, serverId: session.serverId, sessionId: session.id },
    data,
  });
}

sharing.openapi(
  route({
    method: "get",
    path: "/sessions/{id}/invitations",
    summary: "The session's sharing: whether its user may invite, and the invitations made",
    tags,
    middleware,
    params: IdParam,
    response: SessionSharing,
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const session = await ownSession(c, id);
    return c.json({ allowed: session.allowed, invitations: await invitationsOf(c.env.DB, id, Date.now()) }, 200);
  },
);

sharing.openapi(
  route({
    method: "post",
    path: "/sessions/{id}/invitations",
    summary: "Invite a person to join the session with input",
    tags,
    middleware,
    params: IdParam,
    body: InviteRequest,
    response: SessionInvitation,
    status: 201,
  }),
  async (c) => {
    const user = c.get("user");
    const { id } = c.req.valid("param");
    const { username, minutes } = c.req.valid("json");
    const session = await ownSession(c, id);
    if (!session.live) throw new ApiFailure("conflict", `session ${id} has ended`);
    if (!session.allowed) throw new ApiFailure("sharing_off", `session ${id}'s policy does not allow sharing`);
    // One answer for an unknown name, a disabled account, the user themselves and anyone not entitled: the form
    // does not tell the user which accounts exist.
    const invitee = await eligibility(c.env.DB, id, username);
    if (!invitee) throw new ApiFailure("not_eligible", `${username} may not join session ${id}`);
    const now = Date.now();
    if ((await openInvitations(c.env.DB, id, invitee.id, now)) >= MAX_INVITATIONS_PER_SESSION)
      throw new ApiFailure("conflict", `session ${id} has ${MAX_INVITATIONS_PER_SESSION} open invitations`);
    const made = await invite(c.env.DB, {
      sessionId: id,
      inviterId: user.id,
      inviteeId: invitee.id,
      basis: invitee.basis,
      now,
      minutes,
    });
    await audit(c, { id, userId: session.owner, serverId: session.serverId }, "session.invited", {
      invitee: invitee.username,
      inviteeId: invitee.id,
      basis: invitee.basis,
      expiresAt: made.expiresAt,
    });
    // A joined person's socket is not dropped by a renewal: the new invitation must be accepted again to rejoin.
    const notice = invitationNotice({ invitationId: made.id, user: user.username, server: session.server });
    await sendNow(
      c,
      await planPush(c.env.DB, "session.invited", [invitee.id], notice, now, { ttlMs: minutes * 60_000 }),
    );
    return c.json(
      {
        id: made.id,
        invitee: invitee.username,
        basis: invitee.basis,
        state: "pending" as const,
        createdAt: now,
        expiresAt: made.expiresAt,
        acceptedAt: null,
      },
      201,
    );
  },
);

sharing.openapi(
  route({
    method: "delete",
    path: "/sessions/{id}/invitations/{invitationId}",
    summary: "Take an invitation back: a person who joined is disconnected",
    tags,
    middleware,
    params: IdParam.extend({ invitationId: z.string().min(1).max(64) }),
    response: InvitationRevoked,
  }),
  async (c) => {
    const { id, invitationId } = c.req.valid("param");
    const session = await ownSession(c, id);
    const row = await invitation(c.env.DB, id, invitationId);
    if (!row) throw new ApiFailure("not_found");
    if (!(await revokeInvitation(c.env.DB, row.id, Date.now())))
      throw new ApiFailure("conflict", `invitation ${row.id} was taken back already`);
    const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(id));
    const dropped = await room.dropViewer(row.invitee_id, true);
    await audit(c, { id, userId: session.owner, serverId: session.serverId }, "session.invitation_revoked", {
      invitee: row.invitee,
      inviteeId: row.invitee_id,
      dropped,
    });
    return c.json({ revoked: true as const }, 200);
  },
);

sharing.openapi(
  route({
    method: "get",
    path: "/invitations",
    summary: "Invitations to the caller to join a live session with input",
    tags,
    middleware,
    response: z.array(InvitationToMe),
  }),
  async (c) => {
    const rows = await invitationsTo(c.env.DB, c.get("user").id, Date.now());
    return c.json(
      rows.map((r) => ({
        id: r.id,
        sessionId: r.session_id,
        from: r.owner,
        server: r.server,
        state: r.accepted_at === null ? ("pending" as const) : ("joined" as const),
        expiresAt: r.expires_at,
        deadline: r.deadline,
      })),
      200,
    );
  },
);

/** The caller's open invitation `id` and the session's checkout (whose policy and zone the step-up reads). */
async function openInvitation(c: Context<AppContext>, id: string) {
  const [row] = await invitationsTo(c.env.DB, c.get("user").id, Date.now(), { id });
  if (!row) throw new ApiFailure("not_found", `no open invitation ${id} for ${c.get("user").username}`);
  const checkout = await loadRow(c.env.DB, row.checkout_id);
  if (!checkout) throw new ApiFailure("not_found", `session ${row.session_id} has no checkout`);
  return { row, checkout };
}

sharing.openapi(
  route({
    method: "get",
    path: "/invitations/{id}/step-up",
    summary: "What joining at this invitation will ask for, and why",
    tags,
    middleware,
    params: IdParam,
    response: StepUpDecision,
  }),
  async (c) => {
    const { checkout } = await openInvitation(c, c.req.valid("param").id);
    const decision = await stepUpDecision(c, checkout, true);
    await auditStepUp(c, checkout, decision, "asked");
    return c.json(decision, 200);
  },
);

sharing.openapi(
  route({
    method: "post",
    path: "/invitations/{id}/accept",
    summary: "Accept an invitation (after the joiner's own step-up); then open the session's join socket",
    tags,
    middleware,
    params: IdParam,
    response: InvitationAccepted,
  }),
  async (c) => {
    const { row, checkout } = await openInvitation(c, c.req.valid("param").id);
    const decision = await stepUpDecision(c, checkout, true);
    await auditStepUp(c, checkout, decision, "join");
    if (decision.decision === "deny")
      throw new ApiFailure("forbidden", `step-up refused: ${decision.reasons.map((r) => r.code).join(",")}`);
    if (decision.mfa)
      throw new ApiFailure(
        "step_up_required",
        `second factor needed: ${decision.reasons.map((r) => r.code).join(",")}`,
      );
    if (!(await acceptInvitation(c.env.DB, row.id, c.get("signIn").id, Date.now())))
      throw new ApiFailure("not_found", `invitation ${row.id} closed meanwhile`);
    await audit(
      c,
      { id: row.session_id, userId: checkout.user_id, serverId: checkout.server_id },
      "session.invitation_accepted",
      { invitationId: row.id },
    );
    return c.json({ sessionId: row.session_id }, 200);
  },
);

/**
 * The invitee's input socket: a viewer socket marked writer. Only on an accepted invitation, under the sign-in that
 * accepted it (the one that passed the joiner's step-up), while the session is live and they may still join.
 */
sharing.get("/sessions/:id/join", requireUpgrade, requireSameOrigin, requireSocketUser("join"), async (c) => {
  const user = c.get("user");
  const id = c.req.param("id");
  const [row] = await invitationsTo(c.env.DB, user.id, Date.now(), { sessionId: id });
  if (!row || row.accepted_at === null || row.accepted_sign_in !== c.get("signIn").id)
    throw new ApiFailure("forbidden", `${user.username} has no accepted invitation to ${id} under this sign-in`);
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(id));
  const res = await forwardSocket(room, c.req.raw, {
    role: "viewer",
    userId: user.id,
    username: user.username,
    writer: true,
  });
  // Taken back (or the right lost) while the socket was being attached: that revocation's drop may have run before
  // the socket existed, so ask again now that it does.
  const [still] = await invitationsTo(c.env.DB, user.id, Date.now(), { sessionId: id });
  if (res.status === 101 && (!still || still.accepted_sign_in !== c.get("signIn").id))
    await room.dropViewer(user.id, true);
  return res;
});
