// The browser session cookie: a short-lived HS256 JWT with its own typ and aud, HttpOnly and
// SameSite=Strict (Secure over https). Middleware here resolves it to the current user.
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { jwtVerify, SignJWT } from "jose";
import { EDGE_ISSUER, type Role, USER_TOKEN_AUD, USER_TOKEN_TYP } from "../../protocol/index.ts";
import type { AppContext, AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";

export const COOKIE = "psm_session";
/** Session cookie lifetime: 8 h. */
const TTL_SECONDS = 8 * 60 * 60;

const secretKey = (secret: string) => new TextEncoder().encode(secret);

export async function issueUserCookie(c: Context<AppContext>, user: AuthUser): Promise<void> {
  const token = await new SignJWT({ name: user.username, roles: user.roles })
    .setProtectedHeader({ alg: "HS256", typ: USER_TOKEN_TYP })
    .setIssuer(EDGE_ISSUER)
    .setAudience(USER_TOKEN_AUD)
    .setSubject(user.id)
    .setIssuedAt()
    .setExpirationTime(`${TTL_SECONDS}s`)
    .sign(secretKey(c.env.USER_TOKEN_SECRET));
  setCookie(c, COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    secure: new URL(c.req.url).protocol === "https:",
    path: "/",
    maxAge: TTL_SECONDS,
  });
}

export function clearUserCookie(c: Context<AppContext>): void {
  deleteCookie(c, COOKIE, { path: "/" });
}

async function readUser(c: Context<AppContext>): Promise<AuthUser | null> {
  const token = getCookie(c, COOKIE);
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, secretKey(c.env.USER_TOKEN_SECRET), {
      algorithms: ["HS256"],
      typ: USER_TOKEN_TYP,
      audience: USER_TOKEN_AUD,
      issuer: EDGE_ISSUER,
    });
    if (!payload.sub) return null;
    // The cookie proves identity; roles and status are read fresh so revocation is immediate.
    const row = await c.env.DB.prepare("SELECT id, username, roles, disabled FROM users WHERE id = ?")
      .bind(payload.sub)
      .first<{ id: string; username: string; roles: string; disabled: number }>();
    if (!row || row.disabled) return null;
    return { id: row.id, username: row.username, roles: JSON.parse(row.roles) as string[] };
  } catch {
    return null;
  }
}

export const requireUser: MiddlewareHandler<AppContext> = async (c, next) => {
  const user = await readUser(c);
  if (!user) throw new ApiFailure("unauthorized");
  c.set("user", user);
  await next();
};

export function requireRole(role: Role): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    if (!c.get("user").roles.includes(role)) throw new ApiFailure("forbidden", `needs role ${role}`);
    await next();
  };
}
