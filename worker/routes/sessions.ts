// The catalog a user may connect to, session creation (grant + dispatch), and the browser's session socket.
import { Hono } from "hono";
import { CreateSessionRequest, type ServerSummary, type SessionSummary } from "../../protocol/index.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AppContext, AuthUser } from "../env.ts";
import { ApiFailure, readBody } from "../errors.ts";
import { signGrant } from "../grants.ts";
import { forwardSocket, requireSameOrigin, requireUpgrade } from "../sockets.ts";

export const sessions = new Hono<AppContext>();

type ServerRow = {
  id: string;
  name: string;
  host: string;
  port: number;
  protocol: "ssh";
  site_id: string;
  tags: string;
};
type CredentialRow = {
  id: string;
  name: string;
  username: string;
  kind: "password" | "private_key";
  server_id: string;
};

/**
 * The servers a user may open. Until the access model lands every signed-in user is entitled to
 * every enabled server; this is the one place that decision is made.
 */
async function entitledServers(db: D1Database, _user: AuthUser): Promise<ServerSummary[]> {
  const [servers, credentials] = await db.batch([
    db.prepare("SELECT id, name, host, port, protocol, site_id, tags FROM servers WHERE enabled = 1 ORDER BY name"),
    db.prepare(
      "SELECT c.id, c.name, c.username, c.kind, sc.server_id FROM credentials c JOIN server_credentials sc ON sc.credential_id = c.id ORDER BY c.name",
    ),
  ]);
  const byServer = new Map<string, ServerSummary["credentials"]>();
  for (const cred of (credentials?.results ?? []) as CredentialRow[]) {
    const list = byServer.get(cred.server_id) ?? [];
    list.push({ id: cred.id, name: cred.name, username: cred.username, kind: cred.kind });
    byServer.set(cred.server_id, list);
  }
  return ((servers?.results ?? []) as ServerRow[]).map((s) => ({
    id: s.id,
    name: s.name,
    host: s.host,
    port: s.port,
    protocol: s.protocol,
    siteId: s.site_id,
    tags: JSON.parse(s.tags) as string[],
    credentials: byServer.get(s.id) ?? [],
  }));
}

sessions.get("/servers", requireUser, async (c) => c.json(await entitledServers(c.env.DB, c.get("user"))));

sessions.post("/sessions", requireUser, async (c) => {
  const body = await readBody(c, CreateSessionRequest);
  const user = c.get("user");
  const server = (await entitledServers(c.env.DB, user)).find((s) => s.id === body.serverId);
  if (!server?.credentials.some((cred) => cred.id === body.credentialId)) throw new ApiFailure("not_found");
  const target = await c.env.DB.prepare(
    `SELECT s.host, s.port, s.host_key, s.site_id, c.username, c.kind, c.sealed
     FROM servers s JOIN server_credentials sc ON sc.server_id = s.id JOIN credentials c ON c.id = sc.credential_id
     WHERE s.id = ? AND c.id = ?`,
  )
    .bind(body.serverId, body.credentialId)
    .first<{
      host: string;
      port: number;
      host_key: string;
      site_id: string;
      username: string;
      kind: "password" | "private_key";
      sealed: string;
    }>();
  if (!target) throw new ApiFailure("not_found");

  const maxMinutes = Number(c.env.MAX_SESSION_MINUTES) || 60;
  const minutes = Math.min(body.minutes ?? maxMinutes, maxMinutes);
  const now = Date.now();
  const deadline = now + minutes * 60_000;
  const sessionId = crypto.randomUUID();
  await c.env.DB.prepare(
    "INSERT INTO sessions (id, user_id, server_id, credential_id, site_id, status, created_at, deadline) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
  )
    .bind(sessionId, user.id, body.serverId, body.credentialId, target.site_id, now, deadline)
    .run();

  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(sessionId));
  await room.init({ sessionId, userId: user.id, siteId: target.site_id, deadline });

  const grant = await signGrant(c.env.EDGE_SIGNING_KEY, {
    sessionId,
    siteId: target.site_id,
    dl: Math.floor(deadline / 1000),
    usr: { id: user.id, name: user.username },
    tgt: { host: target.host, port: target.port, protocol: "ssh", hostKey: target.host_key },
    cred: { id: body.credentialId, username: target.username, kind: target.kind, sealed: target.sealed },
    rec: { required: false, keystrokes: false },
    ch: ["shell"],
  });
  const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(target.site_id));
  const dispatched = await hub.dispatch(sessionId, grant);
  if (!dispatched) {
    await room.end("connector_unavailable");
    throw new ApiFailure("connector_unavailable", `no live connector at site ${target.site_id}`);
  }
  return c.json({ id: sessionId, deadline }, 201);
});

async function ownSession(c: { env: AppContext["Bindings"] }, user: AuthUser, sessionId: string) {
  const row = await c.env.DB.prepare(
    `SELECT se.id, se.user_id, se.server_id, sv.name AS server_name, cr.name AS credential_name, se.status, se.created_at, se.deadline, se.end_reason
     FROM sessions se JOIN servers sv ON sv.id = se.server_id JOIN credentials cr ON cr.id = se.credential_id WHERE se.id = ?`,
  )
    .bind(sessionId)
    .first<{
      id: string;
      user_id: string;
      server_id: string;
      server_name: string;
      credential_name: string;
      status: SessionSummary["status"];
      created_at: number;
      deadline: number;
      end_reason: string | null;
    }>();
  // Someone else's session is indistinguishable from a missing one.
  if (!row || row.user_id !== user.id) throw new ApiFailure("not_found");
  return row;
}

sessions.get("/sessions/:id", requireUser, async (c) => {
  const row = await ownSession(c, c.get("user"), c.req.param("id"));
  return c.json({
    id: row.id,
    serverId: row.server_id,
    serverName: row.server_name,
    credentialName: row.credential_name,
    status: row.status,
    createdAt: row.created_at,
    deadline: row.deadline,
    endReason: row.end_reason,
  } satisfies SessionSummary);
});

sessions.get("/sessions/:id/ws", requireUpgrade, requireSameOrigin, requireUser, async (c) => {
  const user = c.get("user");
  const row = await ownSession(c, user, c.req.param("id"));
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(row.id));
  return forwardSocket(room, c.req.raw, { role: "user", userId: user.id, username: user.username });
});
