// Login (throttled, then a second factor where one is enrolled), logout, the current user, password
// change (revokes every other sign-in), and the one-time bootstrap of the first admin.
import { BootstrapRequest, LoginRequest, LoginResult, Me, PasswordChange } from "../../protocol/index.ts";
import { record } from "../audit.ts";
import { deviceHash, isKnownDevice } from "../auth/device.ts";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../auth/password.ts";
import { afterFirstFactor, factorsChanged } from "../auth/sign-in.ts";
import { clientIp, enforce, signInKeys, throttleCheck, throttleClear, throttleFail } from "../auth/throttle-store.ts";
import { clearUserCookie, requireUser, revokeSignIn, tokenClaims } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const auth = newApi();
const tags = ["auth"];

auth.openapi(
  route({ method: "post", path: "/login", summary: "Sign in", tags, body: LoginRequest, response: LoginResult }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const now = Date.now();
    const row = await c.env.DB.prepare(
      "SELECT id, username, password_hash, roles, disabled FROM users WHERE username = ?",
    )
      .bind(username)
      .first<{ id: string; username: string; password_hash: string; roles: string; disabled: number }>();
    const ip = clientIp(c);
    const device = await deviceHash(c);
    const known = row ? await isKnownDevice(c.env.DB, row.id, device) : false;
    const keys = signInKeys(ip, row ? row.id : `name:${username.toLowerCase()}`, known);
    const target = { type: "user", id: row?.id ?? "unknown", name: username };
    const refs = row ? { userId: row.id } : {};
    const before = await throttleCheck(c.env.DB, keys, now);
    if (!before.allowed) {
      await record(c.env, {
        actor: null,
        action: "auth.locked_out",
        target,
        refs,
        data: { ip, locked: before.locked },
      });
      enforce(c, before, `login ${username} from ${ip}`);
    }
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok || row.disabled) {
      const after = await throttleFail(c.env.DB, keys, now);
      await record(c.env, {
        actor: null,
        action: "auth.login_failed",
        target,
        refs,
        data: { ip, knownDevice: known, ...(after.allowed ? {} : { throttled: true, locked: after.locked }) },
      });
      throw new ApiFailure("unauthorized", `login failed for ${username} from ${ip}`);
    }
    await throttleClear(c.env.DB, keys);
    const user = { id: row.id, username: row.username, roles: JSON.parse(row.roles) as Me["roles"] };
    return c.json(await afterFirstFactor(c, user, "pwd"), 200);
  },
);

auth.openapi(route({ method: "post", path: "/logout", summary: "Sign out", tags }), async (c) => {
  const claims = await tokenClaims(c);
  if (claims) {
    await revokeSignIn(c.env.DB, claims.sid);
    await record(c.env, {
      actor: { id: claims.sub, name: claims.sub },
      action: "auth.logout",
      target: { type: "user", id: claims.sub },
      refs: { userId: claims.sub },
    });
  }
  clearUserCookie(c);
  return c.json({ ok: true }, 200);
});

auth.openapi(
  route({ method: "get", path: "/me", summary: "The signed-in user", tags, middleware: [requireUser], response: Me }),
  (c) => c.json(c.get("user") as Me, 200),
);

auth.openapi(
  route({
    method: "post",
    path: "/me/password",
    summary: "Change one's own password (signs out every other sign-in)",
    tags,
    middleware: [requireUser],
    body: PasswordChange,
  }),
  async (c) => {
    const user = c.get("user");
    const { current, next } = c.req.valid("json");
    const keys = signInKeys(clientIp(c), user.id, true);
    enforce(c, await throttleCheck(c.env.DB, keys, Date.now()), `password change ${user.id}`);
    const row = await c.env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(user.id)
      .first<{ password_hash: string }>();
    if (!row || !(await verifyPassword(current, row.password_hash))) {
      await throttleFail(c.env.DB, keys, Date.now());
      throw new ApiFailure("forbidden", `wrong current password for ${user.id}`);
    }
    await c.env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?")
      .bind(await hashPassword(next), user.id)
      .run();
    await factorsChanged(c, "password");
    return c.json({ ok: true }, 200);
  },
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
