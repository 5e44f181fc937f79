// Login (throttled, the same work for every kind of account, then a second factor where one is enrolled),
// logout, the current user, password change (revokes every other sign-in), and the one-time bootstrap of
// the first admin.
import {
  BootstrapRequest,
  FirstAdmin,
  LoginRequest,
  LoginResult,
  MAX_SIGN_IN_BODY,
  Me,
  Ok,
  PasswordChange,
} from "../../protocol/index.ts";
import { insertFirstAdmin, setPasswordHash } from "../access/user-store.ts";
import { record } from "../audit.ts";
import { deviceHash, isKnownDevice } from "../auth/device.ts";
import type { FailureAction } from "../auth/failure-tally.ts";
import { tallyFailure } from "../auth/failure-tally-store.ts";
import { checkSignInPassword, hashPassword, verifyPassword } from "../auth/password.ts";
import { afterFirstFactor, factorsChanged } from "../auth/sign-in.ts";
import { clientIp, clientNet, enforce, signInKeys, throttleRelease, throttleReserve } from "../auth/throttle-store.ts";
import { clearUserCookie, requireUser, revokeSignIn, tokenClaims } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const auth = newApi();
const tags = ["auth"];

auth.openapi(
  route({
    method: "post",
    path: "/login",
    summary: "Sign in",
    tags,
    body: LoginRequest,
    bodyLimit: MAX_SIGN_IN_BODY,
    response: LoginResult,
  }),
  async (c) => {
    const { username, password } = c.req.valid("json");
    const now = Date.now();
    const row = await c.env.DB.prepare(
      "SELECT id, username, password_hash, roles, disabled FROM users WHERE username = ?",
    )
      .bind(username)
      .first<{ id: string; username: string; password_hash: string; roles: string; disabled: number }>();
    const ip = clientIp(c);
    // Every kind of account does the same work from here: the same queries (an unknown name is looked up
    // and throttled under `name:<username>`), one PBKDF2 verification, one tally row on failure.
    const account = row ? row.id : `name:${username.toLowerCase()}`;
    const known = await isKnownDevice(c.env.DB, account, await deviceHash(c));
    const keys = signInKeys(clientNet(c), account, known);
    // Failed and throttled logins are counted per minute, account and address, not audited one by one.
    const tally = (action: FailureAction, reason: string) =>
      tallyFailure(c.env, {
        action,
        via: "password",
        account,
        userId: row?.id ?? null,
        name: username,
        address: ip,
        reason,
      });
    // The attempt is counted before the password is checked: parallel guesses each see the ones before.
    const attempt = await throttleReserve(c.env.DB, keys, now);
    if (!attempt.allowed) {
      await tally("auth.locked_out", attempt.locked ? "locked" : "delayed");
      enforce(c, attempt, `login ${username} from ${ip}`);
    }
    const outcome = await checkSignInPassword(row, password);
    if (!row || outcome !== "ok") {
      await tally("auth.login_failed", outcome);
      throw new ApiFailure("unauthorized", `login failed for ${username} from ${ip}: ${outcome}`);
    }
    // Not a failure after all: this attempt's reservation is given back; earlier failures stay counted.
    await throttleRelease(c.env.DB, attempt);
    const user = { id: row.id, username: row.username, roles: JSON.parse(row.roles) as Me["roles"] };
    return c.json(await afterFirstFactor(c, user, "pwd"), 200);
  },
);

auth.openapi(route({ method: "post", path: "/logout", summary: "Sign out", tags, response: Ok }), async (c) => {
  const claims = await tokenClaims(c);
  if (claims) {
    await revokeSignIn(c.env.DB, claims.sid);
    // Named like every other entry's actor (the token carries only the id).
    const name =
      (await c.env.DB.prepare("SELECT username FROM users WHERE id = ?").bind(claims.sub).first<{ username: string }>())
        ?.username ?? claims.sub;
    await record(c.env, {
      actor: { id: claims.sub, name },
      action: "auth.logout",
      target: { type: "user", id: claims.sub, name },
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
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const { current, next } = c.req.valid("json");
    const attempt = await throttleReserve(c.env.DB, signInKeys(clientNet(c), user.id, true), Date.now());
    enforce(c, attempt, `password change ${user.id}`);
    const row = await c.env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(user.id)
      .first<{ password_hash: string }>();
    if (!row || !(await verifyPassword(current, row.password_hash)))
      throw new ApiFailure("forbidden", `wrong current password for ${user.id}`);
    await throttleRelease(c.env.DB, attempt);
    await setPasswordHash(c.env.DB, user.id, await hashPassword(next));
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
    bodyLimit: MAX_SIGN_IN_BODY,
    response: FirstAdmin,
    status: 201,
  }),
  async (c) => {
    const { token, username, password } = c.req.valid("json");
    const expected = c.env.BOOTSTRAP_TOKEN;
    if (!expected || token !== expected) throw new ApiFailure("forbidden", "bad bootstrap token");
    const id = crypto.randomUUID();
    const hash = await hashPassword(password);
    // Inserted only if the table is empty, atomically: two racing bootstraps cannot both win.
    if (!(await insertFirstAdmin(c.env.DB, { id, username, passwordHash: hash })))
      throw new ApiFailure("conflict", "bootstrap after users exist");
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
