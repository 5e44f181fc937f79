// Login, logout, the current user, and the one-time bootstrap of the first admin.
import { BootstrapRequest, LoginRequest, Me } from "../../protocol/index.ts";
import { actorOf, record } from "../audit.ts";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../auth/password.ts";
import { clearUserCookie, issueUserCookie, requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const auth = newApi();
const tags = ["auth"];

auth.openapi(
  route({ method: "post", path: "/login", summary: "Sign in", tags, body: LoginRequest, response: Me }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const row = await c.env.DB.prepare(
      "SELECT id, username, password_hash, roles, disabled FROM users WHERE username = ?",
    )
      .bind(username)
      .first<{ id: string; username: string; password_hash: string; roles: string; disabled: number }>();
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok || row.disabled) {
      await record(c.env, {
        actor: null,
        action: "auth.login_failed",
        target: { type: "user", id: row?.id ?? "unknown", name: username },
        refs: row ? { userId: row.id } : {},
      });
      throw new ApiFailure("unauthorized", `login failed for ${username}`);
    }
    const user = { id: row.id, username: row.username, roles: JSON.parse(row.roles) as Me["roles"] };
    await issueUserCookie(c, user);
    await record(c.env, {
      actor: actorOf(user),
      action: "auth.login",
      target: { type: "user", id: user.id, name: user.username },
      refs: { userId: user.id },
    });
    return c.json(user, 200);
  },
);

auth.openapi(route({ method: "post", path: "/logout", summary: "Sign out", tags }), (c) => {
  clearUserCookie(c);
  return c.json({ ok: true }, 200);
});

auth.openapi(
  route({ method: "get", path: "/me", summary: "The signed-in user", tags, middleware: [requireUser], response: Me }),
  (c) => c.json(c.get("user") as Me, 200),
);

/** Creates the first admin. Works once, only with the BOOTSTRAP_TOKEN secret, only while no user exists. */
auth.openapi(
  route({
    method: "post",
    path: "/bootstrap",
    summary: "Create the first admin",
    tags,
    body: BootstrapRequest,
    status: 201,
  }),
  async (c) => {
    const { token, username, password } = c.req.valid("json");
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
    await record(c.env, {
      actor: null,
      action: "admin.change",
      target: { type: "user", id, name: username },
      refs: { userId: id },
      data: { after: { bootstrap: true } },
    });
    return c.json({ id, username }, 201);
  },
);
