// Opening a session on an active checkout (grant + dispatch), its status, and the browser's socket.
import { z } from "zod";
import type { Context } from "hono";
import {
  CreateSessionRequest,
  KillRequest,
  KillResult,
  LiveSession,
  ModerationSession,
  recordingMode,
  SessionCreated,
  SessionSummary,
} from "../../protocol/index.ts";
import { adminScope, inScope, requireAnyAdmin, requireZone } from "../access/scope.ts";
import { advance, loadRow, revoke } from "../access/checkouts.ts";
import { enforceAccess, requireStanding } from "../access/revocation.ts";
import { credentialHandedOut } from "../access/rotations.ts";
import { rowPolicy } from "../access/checkout-store.ts";
import { lockUnlessAdmin } from "../access/user-store.ts";
import { moderatable } from "../access/moderation.ts";
import { actorOf, adminChange, record } from "../audit.ts";
import { passConnectGate, reserveMasterPasswordGuess } from "../auth/connect-gate.ts";
import { requireSocketUser } from "../auth/socket-ticket.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AppContext, AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { grantForSession } from "../grants.ts";
import { insertRecording } from "../../edge-shared/recording-index.ts";
import { insertSession } from "../../edge-shared/session-store.ts";
import { extensionOffer } from "./extensions.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { forwardSocket, requireSameOrigin, requireUpgrade } from "../sockets.ts";

export const sessions = newApi();

const tags = ["sessions"];
const middleware = [requireUser];

sessions.openapi(
  route({
    method: "post",
    path: "/sessions",
    summary: "Open a session on an active checkout",
    tags,
    middleware,
    body: CreateSessionRequest,
    response: SessionCreated,
    status: 201,
  }),
  async (c) => {
    const user = c.get("user");
    const now = Date.now();
    const body = c.req.valid("json");
    const row = await loadRow(c.env.DB, body.checkoutId);
    if (!row || row.user_id !== user.id) throw new ApiFailure("not_found");
    // Adaptive step-up and the master password (worker/auth/connect-gate.ts), before anything is
    // created; the checkout's time (checked here, not only by the scheduler: an expired checkout
    // opens nothing) and the server are read meanwhile.
    const [masterPassword, checkout, target] = await Promise.all([
      passConnectGate(c, row, body.masterPasswordSealed),
      advance(c.env, row, now),
      c.env.DB.prepare("SELECT site_id, enabled, protocol FROM servers WHERE id = ?")
        .bind(row.server_id)
        .first<{ site_id: string; enabled: number; protocol: "ssh" | "rdp" }>(),
    ]);
    if (checkout.status !== "active") throw new ApiFailure("conflict", `checkout ${row.id} is ${checkout.status}`);
    if (!target?.enabled) throw new ApiFailure("not_found", "server disabled or gone");
    // Holding the checkout is not enough: the right it was granted on must still stand.
    await requireStanding(c.env, row.id, "session start");
    // A rotation running or failed: the vaulted secret is about to change or may already have.
    if (!(await credentialHandedOut(c.env.DB, row.credential_id)))
      throw new ApiFailure("credential_rotating", `credential ${row.credential_id} is rotating`);

    // Every check passed: the guess counts from now on (given back by the room unless the connector refuses it).
    if (masterPassword) await reserveMasterPasswordGuess(c);
    const policy = rowPolicy(row);
    const deadline = Math.min(row.ends_at, now + policy.maxSessionMinutes * 60_000);
    const sessionId = crypto.randomUUID();
    await insertSession(c.env.DB, {
      id: sessionId,
      userId: user.id,
      serverId: row.server_id,
      credentialId: row.credential_id,
      siteId: target.site_id,
      checkoutId: row.id,
      authSessionId: c.get("signIn").id,
      createdAt: now,
      deadline,
      // Set by Cloudflare (the client cannot forge it there), as for sign-ins (worker/auth/throttle-store.ts).
      sourceIp: c.req.header("CF-Connecting-IP")?.trim() || null,
    });
    // The recording the connector makes at the source; the room witnesses it and seals its manifest. A policy
    // that turned recording off makes none: the grant names no recording and the room witnesses nothing.
    const recorded = recordingMode(policy) !== "off";
    const recordingId = crypto.randomUUID();
    if (recorded)
      await insertRecording(c.env.DB, {
        id: recordingId,
        sessionId,
        userId: user.id,
        serverId: row.server_id,
        zoneId: row.zone_id,
        siteId: target.site_id,
        startedAt: now,
        format: target.protocol === "rdp" ? "guacamole" : "asciicast-v2",
      });
    const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(sessionId));
    // Independent steps run together: the start's time is mostly the connector's SSH login after dispatch.
    const roomReady = room.init({
      sessionId,
      userId: user.id,
      siteId: target.site_id,
      deadline,
      serverId: row.server_id,
      checkoutId: row.id,
      username: user.username,
      idleMs: policy.idleTimeoutMinutes ? policy.idleTimeoutMinutes * 60_000 : null,
      liveView: policy.liveViewAllowed,
      notifyWatched: policy.notifyWatched,
      disconnectGraceMs: policy.disconnectGraceMinutes ? policy.disconnectGraceMinutes * 60_000 : null,
      protocol: target.protocol,
      startedAt: now,
      ...(policy.moderatorsRequired > 0 ? { moderation: { required: policy.moderatorsRequired } } : {}),
      ...(masterPassword ? { masterPassword: true as const } : {}),
      // What the SSH grant's `ft` allows (worker/grants.ts); policies snapshotted before issue 19 have none.
      ...(target.protocol === "ssh" && (policy.fileTransfer?.upload || policy.fileTransfer?.download)
        ? {
            fileTransfer: {
              upload: policy.fileTransfer.upload,
              download: policy.fileTransfer.download,
              maxBytes: policy.fileTransfer.maxBytes,
              roots: policy.fileTransfer.allowPaths,
            },
          }
        : {}),
      ...(recorded
        ? {
            recording: {
              recordingId,
              required: policy.recordingRequired,
              keystrokes: policy.recordKeystrokes,
              zoneId: row.zone_id,
            },
          }
        : {}),
    });
    // The master password travels sealed, unopened, into the grant; the connector checks it (docs/auth.md).
    // A required recording fails closed at the connector, which knows whether its spool can take it.
    const [, grant] = await Promise.all([
      roomReady,
      grantForSession(c.env, sessionId, deadline, masterPassword ?? undefined),
    ]);
    const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(target.site_id));
    const [sent, audited] = await Promise.allSettled([
      hub.dispatch(sessionId, grant),
      record(c.env, {
        actor: actorOf(user),
        action: "session.started",
        target: { type: "session", id: sessionId, name: `${row.account_username}@${row.server_name}` },
        refs: { userId: user.id, serverId: row.server_id, sessionId, checkoutId: row.id },
        data: { deadline },
      }),
    ]);
    // Fail closed: a session whose start is not in the ledger does not run (the room tells the connector).
    if (audited.status === "rejected") {
      await room.end("internal_error");
      throw new ApiFailure("internal", `session ${sessionId}: session.started not audited: ${audited.reason}`);
    }
    if (sent.status === "rejected") throw sent.reason;
    const dispatched = sent.value;
    if (!dispatched) {
      await room.end("connector_unavailable");
      throw new ApiFailure("connector_unavailable", `no live connector at site ${target.site_id}`);
    }
    return c.json({ id: sessionId, deadline }, 201);
  },
);

sessions.openapi(
  route({
    method: "get",
    path: "/sessions/live",
    summary: "Live sessions in the caller's zones",
    tags,
    middleware,
    response: z.array(LiveSession),
  }),
  async (c) => {
    const user = c.get("user");
    if (!user.roles.includes("auditor")) requireAnyAdmin(user);
    const scope = user.roles.includes("auditor") ? ({ all: true } as const) : await adminScope(c.env.DB, user);
    const { results } = await c.env.DB.prepare(
      `SELECT se.id, u.username, sv.name AS server, cr.name AS credential, sv.zone_id, z.name AS zone, co.justification,
         se.source_ip, sv.protocol, se.status, se.created_at, se.deadline
       FROM sessions se JOIN users u ON u.id = se.user_id JOIN servers sv ON sv.id = se.server_id
         JOIN credentials cr ON cr.id = se.credential_id JOIN zones z ON z.id = sv.zone_id
         LEFT JOIN checkouts co ON co.id = se.checkout_id
       WHERE se.status != 'ended' ORDER BY se.created_at DESC LIMIT 500`,
    ).all<{
      id: string;
      username: string;
      server: string;
      credential: string;
      zone_id: string;
      zone: string;
      justification: string | null;
      source_ip: string | null;
      protocol: "ssh" | "rdp";
      status: "pending" | "active";
      created_at: number;
      deadline: number;
    }>();
    const visible = results.filter((r) => inScope(scope, r.zone_id));
    const live = await Promise.all(
      visible.map(async (r) => {
        const presence = await c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(r.id)).presence();
        return {
          id: r.id,
          user: r.username,
          server: r.server,
          credential: r.credential,
          zoneId: r.zone_id,
          zone: r.zone,
          justification: r.justification,
          sourceIp: r.source_ip,
          status: r.status,
          startedAt: r.created_at,
          deadline: r.deadline,
          browserAttached: presence.user,
          viewers: presence.viewers,
          watchers: presence.watchers,
          lastInputAt: presence.lastInputAt,
          recording: presence.recording,
          protocol: r.protocol,
        } satisfies LiveSession;
      }),
    );
    return c.json(live, 200);
  },
);

async function ownSession(c: { env: AppContext["Bindings"] }, user: AuthUser, sessionId: string) {
  const row = await c.env.DB.prepare(
    `SELECT se.id, se.user_id, se.checkout_id, se.server_id, sv.name AS server_name, sv.protocol, cr.name AS credential_name, se.status, se.created_at, se.deadline, se.end_reason,
       EXISTS (SELECT 1 FROM recordings r WHERE r.session_id = se.id) AS recorded
     FROM sessions se JOIN servers sv ON sv.id = se.server_id JOIN credentials cr ON cr.id = se.credential_id WHERE se.id = ?`,
  )
    .bind(sessionId)
    .first<{
      id: string;
      user_id: string;
      checkout_id: string | null;
      server_id: string;
      server_name: string;
      protocol: "ssh" | "rdp";
      credential_name: string;
      status: SessionSummary["status"];
      created_at: number;
      deadline: number;
      end_reason: string | null;
      recorded: number;
    }>();
  // Someone else's session is indistinguishable from a missing one.
  if (!row || row.user_id !== user.id) throw new ApiFailure("not_found");
  return row;
}

sessions.openapi(
  route({
    method: "get",
    path: "/sessions/{id}",
    summary: "A session's status",
    tags,
    middleware,
    params: IdParam,
    response: SessionSummary,
  }),
  async (c) => {
    const row = await ownSession(c, c.get("user"), c.req.valid("param").id);
    return c.json(
      {
        id: row.id,
        checkoutId: row.checkout_id,
        serverId: row.server_id,
        serverName: row.server_name,
        credentialName: row.credential_name,
        protocol: row.protocol,
        status: row.status,
        createdAt: row.created_at,
        deadline: row.deadline,
        endReason: row.end_reason,
        recorded: row.recorded === 1,
        extension: row.status === "ended" ? null : await extensionOffer(c.env, row.id, row.checkout_id),
      } satisfies SessionSummary,
      200,
    );
  },
);

sessions.get("/sessions/:id/ws", requireUpgrade, requireSameOrigin, requireSocketUser("ws"), async (c) => {
  const user = c.get("user");
  const row = await ownSession(c, user, c.req.param("id"));
  // Every upgrade, reconnects included, asks again whether the right still stands.
  if (row.checkout_id && row.status !== "ended") await requireStanding(c.env, row.checkout_id, "session socket");
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(row.id));
  return forwardSocket(room, c.req.raw, { role: "user", userId: user.id, username: user.username });
});

sessions.openapi(
  route({
    method: "post",
    path: "/sessions/{id}/kill",
    summary: "End a live session now, with a reason; optionally revoke its checkout and lock its user",
    tags,
    middleware,
    params: IdParam,
    body: KillRequest,
    response: KillResult,
  }),
  async (c) => {
    const user = c.get("user");
    const id = c.req.valid("param").id;
    const body = c.req.valid("json");
    const row = await c.env.DB.prepare(
      "SELECT se.id, se.user_id, se.checkout_id, sv.zone_id FROM sessions se JOIN servers sv ON sv.id = se.server_id WHERE se.id = ?",
    )
      .bind(id)
      .first<{ id: string; user_id: string; checkout_id: string | null; zone_id: string }>();
    if (!row) throw new ApiFailure("not_found");
    requireZone(await adminScope(c.env.DB, user), row.zone_id);
    // Locking an account is a directory change: a zone admin may end the session, not lock the person.
    if (body.lockUser && !user.roles.includes("admin"))
      throw new ApiFailure("forbidden", `zone admin ${user.id} asked to lock a user`);
    const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(id));
    const ended = await room.end("killed", { note: body.reason, actor: { id: user.id, name: user.username } });
    if (!ended) throw new ApiFailure("conflict", `session ${id} already ended`);
    const now = Date.now();
    let checkoutRevoked = false;
    const checkout = body.revokeCheckout && row.checkout_id ? await loadRow(c.env.DB, row.checkout_id) : null;
    if (checkout && (checkout.status === "active" || checkout.status === "approved")) {
      const after = await revoke(c.env, user, checkout, `session killed: ${body.reason}`, now);
      checkoutRevoked = after.status === "revoked";
    }
    const userLocked = body.lockUser ? await lockUser(c, row.user_id, body.reason) : false;
    return c.json({ checkoutRevoked, userLocked } satisfies KillResult, 200);
  },
);

/**
 * Disables the account whose session an admin killed: everything it holds ends (worker/access/revocation.ts).
 * False for an account that is already disabled or is an admin's (an admin account is changed in Admin › Users,
 * where the last admin is protected).
 */
async function lockUser(c: Context<AppContext>, userId: string, reason: string): Promise<boolean> {
  const locked = await lockUnlessAdmin(c.env.DB, userId);
  if (locked === null) return false;
  await adminChange(c, {
    target: { type: "user", id: userId, name: locked },
    refs: { userId },
    data: { before: { disabled: false }, after: { disabled: true }, why: `session killed: ${reason}` },
  });
  await enforceAccess(c.env, { kind: "user", userId }, "account locked at a kill", c.get("user"));
  return true;
}

/** An admin's (or auditor's) read-only live view. Policy decides whether the session may be watched. */
sessions.get("/sessions/:id/watch", requireUpgrade, requireSameOrigin, requireSocketUser("watch"), async (c) => {
  const user = c.get("user");
  const row = await c.env.DB.prepare(
    "SELECT se.id, sv.zone_id, se.status FROM sessions se JOIN servers sv ON sv.id = se.server_id WHERE se.id = ?",
  )
    .bind(c.req.param("id"))
    .first<{ id: string; zone_id: string }>();
  if (!row) throw new ApiFailure("not_found");
  if (!user.roles.includes("auditor")) requireZone(await adminScope(c.env.DB, user), row.zone_id);
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(row.id));
  return forwardSocket(room, c.req.raw, { role: "viewer", userId: user.id, username: user.username });
});

/**
 * The live moderated sessions the caller may moderate (docs/governance.md): the caller is in the moderator group
 * named by the policy snapshotted into the session's checkout, and is not its requester (counted by person, as the
 * moderator socket counts them). Any signed-in user may ask; the list is empty for everyone else.
 */
sessions.openapi(
  route({
    method: "get",
    path: "/moderation",
    summary: "Live moderated sessions the caller may moderate",
    tags,
    middleware,
    response: z.array(ModerationSession),
  }),
  async (c) => {
    const results = await moderatable(c.env.DB, c.get("user").id);
    return c.json(
      results.map((r) => ({
        id: r.id,
        user: r.user,
        server: r.server,
        startedAt: r.created_at,
        deadline: r.deadline,
        required: Math.min(5, r.required),
      })),
      200,
    );
  },
);

/**
 * A moderator's live view of a moderated session (docs/governance.md): a member of the session's policy's
 * moderator group (as snapshotted into its checkout), never the requester (counted by person, as approvals are).
 * Being named moderator gives the right to watch this session and to act on it (lock input, end it), nothing
 * more: no other session, no admin page.
 */
sessions.get("/sessions/:id/moderate", requireUpgrade, requireSameOrigin, requireSocketUser("watch"), async (c) => {
  const user = c.get("user");
  const id = c.req.param("id");
  const live = await c.env.DB.prepare("SELECT id FROM sessions WHERE id = ? AND status IN ('pending', 'active')")
    .bind(id)
    .first<{ id: string }>();
  if (!live) throw new ApiFailure("not_found");
  const [row] = await moderatable(c.env.DB, user.id, id);
  if (!row) throw new ApiFailure("forbidden", `${user.username} may not moderate session ${id}`);
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(row.id));
  return forwardSocket(room, c.req.raw, {
    role: "viewer",
    userId: user.id,
    username: user.username,
    moderator: true,
    personId: row.person,
  });
});
