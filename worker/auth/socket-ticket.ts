// One-time websocket tickets: a signed-in page asks for one (POST /api/sessions/{id}/ticket) and opens
// the socket with ?ticket=...; the ticket names one socket of one session, lives 30 s, works once, and
// only while the sign-in that asked for it is live. Stored as a SHA-256 hash. A socket without a
// ticket falls back to the session cookie (same checks as any request).
// The one owner of `socket_tickets` (AGENTS.md, "One owner per table"): every write on them is a function here.
import type { Context, MiddlewareHandler } from "hono";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { randomToken, sha256Hex } from "./hash.ts";
import { requireUser } from "./user-token.ts";

/** A ticket's life: long enough to open a socket, ms. */
export const TICKET_TTL_MS = 30_000;

export type TicketTarget = `ws:${string}` | `watch:${string}` | `join:${string}`;

export async function issueTicket(
  c: Context<AppContext>,
  target: TicketTarget,
): Promise<{ ticket: string; expiresAt: number }> {
  const ticket = randomToken(32);
  const expiresAt = Date.now() + TICKET_TTL_MS;
  await c.env.DB.prepare(
    "INSERT INTO socket_tickets (ticket_hash, user_id, auth_session_id, target, expires_at) VALUES (?, ?, ?, ?, ?)",
  )
    .bind(await sha256Hex(`ticket:${ticket}`), c.get("user").id, c.get("signIn").id, target, expiresAt)
    .run();
  return { ticket, expiresAt };
}

/** Access changed (a user disabled, their sign-ins revoked): their unused tickets stop working. */
export async function dropUnusedTickets(db: D1Database, userId: string): Promise<void> {
  await db.prepare("DELETE FROM socket_tickets WHERE user_id = ? AND used_at IS NULL").bind(userId).run();
}

/** The purge sweep's statement: tickets that expired before `before`, used or not. */
export function purgeTickets(db: D1Database, before: number): D1PreparedStatement {
  return db.prepare("DELETE FROM socket_tickets WHERE expires_at < ?").bind(before);
}

/** Upgrade middleware: a ticket for exactly this socket (consumed), or else the session cookie. */
export function requireSocketUser(kind: "ws" | "watch" | "join"): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    const ticket = c.req.query("ticket");
    if (ticket === undefined) return requireUser(c, next);
    const target = `${kind}:${c.req.param("id")}`;
    const now = Date.now();
    // Consume first, atomically: a second use finds used_at set and gets nothing.
    const row = await c.env.DB.prepare(
      `UPDATE socket_tickets SET used_at = ?1 WHERE ticket_hash = ?2 AND used_at IS NULL AND expires_at > ?1 AND target = ?3
       RETURNING user_id, auth_session_id`,
    )
      .bind(now, await sha256Hex(`ticket:${ticket}`), target)
      .first<{ user_id: string; auth_session_id: string }>();
    if (!row) throw new ApiFailure("unauthorized", `socket ticket refused for ${target}`);
    const user = await c.env.DB.prepare(
      `SELECT u.id, u.username, u.roles, s.stage, s.amr, s.created_at, s.mfa_at, s.mfa_failures, s.risk FROM auth_sessions s JOIN users u ON u.id = s.user_id
       WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.stage = 'full' AND u.disabled = 0`,
    )
      .bind(row.auth_session_id, row.user_id, now)
      .first<{
        id: string;
        username: string;
        roles: string;
        stage: "full";
        amr: string;
        created_at: number;
        mfa_at: number | null;
        mfa_failures: number;
        risk: string;
      }>();
    if (!user) throw new ApiFailure("unauthorized", "socket ticket's sign-in is over");
    c.set("user", { id: user.id, username: user.username, roles: JSON.parse(user.roles) as string[] });
    c.set("signIn", {
      id: row.auth_session_id,
      stage: user.stage,
      amr: JSON.parse(user.amr) as string[],
      createdAt: user.created_at,
      mfaAt: user.mfa_at,
      mfaFailures: user.mfa_failures,
      risk: JSON.parse(user.risk),
    });
    await next();
  };
}
