// Break-glass for admins: reset a user's second factors (lost phone and recovery codes) and, when asked,
// their master password. Every sign-in of the user ends; the change is audited with before and after.
import type { MiddlewareHandler } from "hono";
import { Ok, ResetMfaRequest } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { removeAllFactors } from "../auth/factor-store.ts";
import { factorsOf } from "../auth/sign-in.ts";
import { requireUser, revokeSignIns } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { enforceAccess } from "../access/revocation.ts";
import { clearMasterPasswordVerifier } from "../access/user-store.ts";

export const adminAuth = newApi();
const adminOnly: MiddlewareHandler<AppContext> = async (c, next) => {
  requireAdmin(c.get("user"));
  await next();
};

adminAuth.openapi(
  route({
    method: "post",
    path: "/users/{id}/reset-mfa",
    summary: "Remove a user's second factors (and optionally their master password); ends their sign-ins",
    tags: ["directory"],
    middleware: [requireUser, adminOnly],
    params: IdParam,
    body: ResetMfaRequest,
    response: Ok,
  }),
  async (c) => {
    const id = c.req.valid("param").id;
    const { masterPassword } = c.req.valid("json");
    const user = await c.env.DB.prepare("SELECT username, master_password_hash FROM users WHERE id = ?")
      .bind(id)
      .first<{ username: string; master_password_hash: string | null }>();
    if (!user) throw new ApiFailure("not_found");
    const before = await factorsOf(c.env.DB, id);
    await c.env.DB.batch([
      ...removeAllFactors(c.env.DB, id),
      ...(masterPassword ? [clearMasterPasswordVerifier(c.env.DB, id)] : []),
    ]);
    await revokeSignIns(c.env.DB, id);
    await enforceAccess(c.env, { kind: "sign_ins", userId: id }, "sign-ins revoked (MFA reset)", c.get("user"));
    await adminChange(c, {
      target: { type: "user", id, name: user.username },
      refs: { userId: id },
      data: {
        before: { ...before, masterPasswordSet: !!user.master_password_hash },
        after: {
          totp: false,
          webauthn: 0,
          recovery: 0,
          masterPasswordSet: masterPassword ? false : !!user.master_password_hash,
        },
      },
    });
    return c.json({ ok: true }, 200);
  },
);
