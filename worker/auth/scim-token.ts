// The SCIM bearer token (`psm-scim+…`): what an identity provider presents on /scim/v2, and nowhere else.
// A global admin makes one (shown once; the edge keeps its SHA-256) and can revoke it. The /scim routes
// read only this header: a browser cookie or a connector's proof-of-key token is never looked at there, and
// the /api and /connector routes never read a SCIM token (cookies and `psm-connector+jwt` only).
// The one owner of `scim_tokens` (AGENTS.md, "One owner per table"); routes/scim-tokens.ts decides and audits.
import type { MiddlewareHandler } from "hono";
import { SCIM_TOKEN_PREFIX, ScimBearer, type ScimTokenSummary } from "../../protocol/index.ts";
import type { AppContext, AuthUser } from "../env.ts";
import { randomToken, sha256Hex } from "./hash.ts";

/** A fresh token and the hash stored for it. */
export async function newScimToken(): Promise<{ token: string; hash: string }> {
  const token = `${SCIM_TOKEN_PREFIX}${randomToken(32)}`;
  return { token, hash: await sha256Hex(token) };
}

type Row = {
  id: string;
  name: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  revoked_at: number | null;
};
const summary = (r: Row): ScimTokenSummary => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  createdBy: r.created_by,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});
const COLUMNS = "t.id, t.name, t.created_at, u.username AS created_by, t.last_used_at, t.revoked_at";
const FROM = "FROM scim_tokens t JOIN users u ON u.id = t.created_by";

/** Every token, newest first (never a value: only its hash is kept). */
export async function listScimTokens(db: D1Database): Promise<ScimTokenSummary[]> {
  const { results } = await db.prepare(`SELECT ${COLUMNS} ${FROM} ORDER BY t.created_at DESC`).all<Row>();
  return results.map(summary);
}

export async function loadScimToken(db: D1Database, id: string): Promise<ScimTokenSummary | null> {
  const row = await db.prepare(`SELECT ${COLUMNS} ${FROM} WHERE t.id = ?`).bind(id).first<Row>();
  return row ? summary(row) : null;
}

/** Keeps a new token by its hash (`newScimToken`), made by `createdBy` (a user id). */
export async function insertScimToken(
  db: D1Database,
  t: { id: string; name: string; hash: string; createdBy: string; createdAt: number },
): Promise<void> {
  await db
    .prepare("INSERT INTO scim_tokens (id, name, token_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(t.id, t.name, t.hash, t.createdBy, t.createdAt)
    .run();
}

/** Revokes a live token; one revoked already keeps its time. */
export async function revokeScimToken(db: D1Database, id: string, now: number): Promise<void> {
  await db.prepare("UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now, id).run();
}

/** The actor SCIM changes are audited under: the token, by id and name (never a user of ours). */
export const scimActor = (tokenId: string, name: string): AuthUser => ({
  id: `scim:${tokenId}`,
  username: `SCIM (${name})`.slice(0, 128),
  roles: [],
});

/** Raised for a missing, malformed, unknown or revoked token; /scim answers it as a SCIM 401. */
export class ScimUnauthorized extends Error {}

/** A live SCIM token's actor from the Authorization header, or ScimUnauthorized. Marks the token used. */
export async function scimCaller(db: D1Database, authorization: string | undefined): Promise<AuthUser> {
  const match = /^Bearer (\S+)$/i.exec(authorization ?? "");
  const presented = match?.[1];
  if (!presented || !ScimBearer.safeParse(presented).success) throw new ScimUnauthorized("no SCIM token");
  const row = await db
    .prepare("SELECT id, name FROM scim_tokens WHERE token_hash = ? AND revoked_at IS NULL")
    .bind(await sha256Hex(presented))
    .first<{ id: string; name: string }>();
  if (!row) throw new ScimUnauthorized("unknown or revoked SCIM token");
  await db.prepare("UPDATE scim_tokens SET last_used_at = ? WHERE id = ?").bind(Date.now(), row.id).run();
  return scimActor(row.id, row.name);
}

/** /scim/v2 middleware: the caller is a SCIM token; its actor is the request's `user` for the audit. */
export const requireScim: MiddlewareHandler<AppContext> = async (c, next) => {
  c.set("user", await scimCaller(c.env.DB, c.req.header("Authorization")));
  await next();
};
