// Login, logout, the current user, and the one-time bootstrap of the first admin.
import { Hono } from "hono";
import { BootstrapRequest, LoginRequest } from "../../protocol/index.ts";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../auth/password.ts";
import { clearUserCookie, issueUserCookie, requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure, readBody } from "../errors.ts";

export const auth = new Hono<AppContext>();

auth.post("/login", async (c) => {
  const { username, password } = await readBody(c, LoginRequest);
  const row = await c.env.DB.prepare(
    "SELECT id, username, password_hash, roles, disabled FROM users WHERE username = ?",
  )
    .bind(username)
    .first<{ id: string; username: string; password_hash: string; roles: string; disabled: number }>();
  const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
  if (!row || !ok || row.disabled) throw new ApiFailure("unauthorized", `login failed for ${username}`);
  const user = { id: row.id, username: row.username, roles: JSON.parse(row.roles) as string[] };
  await issueUserCookie(c, user);
  return c.json(user);
});

auth.post("/logout", (c) => {
  clearUserCookie(c);
  return c.json({ ok: true });
});

auth.get("/me", requireUser, (c) => c.json(c.get("user")));

/** Creates the first admin. Works once, only with the BOOTSTRAP_TOKEN secret, only while no user exists. */
auth.post("/bootstrap", async (c) => {
  const { token, username, password } = await readBody(c, BootstrapRequest);
  const expected = c.env.BOOTSTRAP_TOKEN;
  if (!expected || token !== expected) throw new ApiFailure("forbidden", "bad bootstrap token");
  const id = crypto.randomUUID();
  const hash = await hashPassword(password);
  // Insert only if the table is empty, atomically: two racing bootstraps cannot both win.
  const result = await c.env.DB.prepare(
    `INSERT INTO users (id, username, password_hash, roles, created_at)
     SELECT ?, ?, ?, '["admin","requester","auditor","approver"]', ? WHERE NOT EXISTS (SELECT 1 FROM users)`,
  )
    .bind(id, username, hash, Date.now())
    .run();
  if (!result.meta.changes) throw new ApiFailure("conflict", "bootstrap after users exist");
  return c.json({ id, username }, 201);
});
