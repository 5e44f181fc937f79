// The browser session cookie: a short-lived HS256 JWT with its own typ and aud, naming a server-side
// sign-in (auth_sessions row, `sid`) that every request checks, so logout and password or MFA changes
// revoke at once. A new sid is made at login and after MFA (rotation); the JWT itself is re-issued
// when half its life is gone. HttpOnly, SameSite=Strict, and `__Host-` (Secure, Path=/, no Domain).
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { jwtVerify, SignJWT } from "jose";
import { EDGE_ISSUER, type Role, SESSION_COOKIE, USER_TOKEN_AUD, USER_TOKEN_TYP } from "../../protocol/index.ts";
import type { AppContext, AuthUser, SignIn, SignInRisk } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { insertSignIn, revokeSignInStatement } from "./sign-in-store.ts";

export const COOKIE = SESSION_COOKIE;
/** Cookie (JWT) lifetime: 15 min, renewed while the sign-in is used. */
export const TOKEN_TTL_SECONDS = 15 * 60;
/** A sign-in's absolute life: 12 h. */
export const SIGN_IN_TTL_MS = 12 * 60 * 60 * 1000;
/** A password-only sign-in waiting for its second factor: 10 min. */
export const MFA_PENDING_TTL_MS = 10 * 60 * 1000;

const secretKey = (secret: string) => new TextEncoder().encode(secret);

export type Stage = "mfa" | "full";

async function setToken(c: Context<AppContext>, userId: string, sid: string, stage: Stage): Promise<void> {
  const token = await new SignJWT({ sid, stg: stage })
    .setProtectedHeader({ alg: "HS256", typ: USER_TOKEN_TYP })
    .setIssuer(EDGE_ISSUER)
    .setAudience(USER_TOKEN_AUD)
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(`${TOKEN_TTL_SECONDS}s`)
    .sign(secretKey(c.env.USER_TOKEN_SECRET));
  setCookie(c, COOKIE, token, {
    httpOnly: true,
    sameSite: "Strict",
    secure: true,
    path: "/",
    maxAge: TOKEN_TTL_SECONDS,
  });
}

/**
 * Starts a new sign-in (a new sid) and sets its cookie; the sign-in the request carried, if any, is
 * revoked: this is the rotation at login and after MFA.
 */
export async function startSignIn(
  c: Context<AppContext>,
  userId: string,
  opts: { stage: Stage; amr: string[]; mfaAt: number | null; deviceHash: string | null; risk: SignInRisk },
): Promise<string> {
  const now = Date.now();
  const sid = crypto.randomUUID();
  const previous = await tokenClaims(c);
  const cf = (c.req.raw as { cf?: { country?: string; asn?: number } }).cf;
  const stmts = [
    insertSignIn(c.env.DB, {
      id: sid,
      userId,
      stage: opts.stage,
      amr: opts.amr,
      createdAt: now,
      expiresAt: now + (opts.stage === "full" ? SIGN_IN_TTL_MS : MFA_PENDING_TTL_MS),
      mfaAt: opts.mfaAt,
      ip: c.req.header("CF-Connecting-IP") ?? null,
      country: cf?.country ?? null,
      asn: cf?.asn === undefined ? null : String(cf.asn),
      deviceHash: opts.deviceHash,
      risk: opts.risk,
    }),
  ];
  if (previous?.sid) stmts.push(revokeSignInStatement(c.env.DB, previous.sid, now));
  await c.env.DB.batch(stmts);
  await setToken(c, userId, sid, opts.stage);
  return sid;
}

// The sign-in rows are written by their owner, sign-in-store.ts; callers revoke through here as before.
export { revokeSignIn, revokeSignIns } from "./sign-in-store.ts";

export function clearUserCookie(c: Context<AppContext>): void {
  deleteCookie(c, COOKIE, { path: "/", secure: true });
}

type Claims = { sub: string; sid: string; stg: Stage; exp: number };

/** The cookie's claims when its signature, alg, typ, aud, iss and expiry are right; null otherwise. */
export async function tokenClaims(c: Context<AppContext>): Promise<Claims | null> {
  const token = getCookie(c, COOKIE);
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, secretKey(c.env.USER_TOKEN_SECRET), {
      algorithms: ["HS256"],
      typ: USER_TOKEN_TYP,
      audience: USER_TOKEN_AUD,
      issuer: EDGE_ISSUER,
      requiredClaims: ["sub", "exp", "iat"],
    });
    const { sub, sid, stg, exp } = payload as Partial<Claims>;
    if (
      typeof sub !== "string" ||
      typeof sid !== "string" ||
      (stg !== "mfa" && stg !== "full") ||
      typeof exp !== "number"
    )
      return null;
    return { sub, sid, stg, exp };
  } catch {
    return null;
  }
}

type SignInRow = {
  id: string;
  user_id: string;
  stage: Stage;
  amr: string;
  created_at: number;
  expires_at: number;
  mfa_at: number | null;
  mfa_failures: number;
  risk: string;
  revoked_at: number | null;
  username: string;
  roles: string;
  disabled: number;
};

/** Resolves the cookie to a live sign-in and its user (roles and status read fresh), or null. */
async function readSignIn(c: Context<AppContext>): Promise<{ user: AuthUser; signIn: SignIn; claims: Claims } | null> {
  const claims = await tokenClaims(c);
  if (!claims) return null;
  const row = await c.env.DB.prepare(
    `SELECT s.id, s.user_id, s.stage, s.amr, s.created_at, s.expires_at, s.mfa_at, s.mfa_failures, s.risk, s.revoked_at, u.username, u.roles, u.disabled
     FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`,
  )
    .bind(claims.sid)
    .first<SignInRow>();
  // The row must match the token in every respect: user, stage, live, not disabled.
  if (!row || row.user_id !== claims.sub || row.stage !== claims.stg || row.revoked_at !== null) return null;
  if (row.expires_at <= Date.now() || row.disabled) return null;
  return {
    user: { id: row.user_id, username: row.username, roles: JSON.parse(row.roles) as string[] },
    signIn: {
      id: row.id,
      stage: row.stage,
      amr: JSON.parse(row.amr) as string[],
      createdAt: row.created_at,
      mfaAt: row.mfa_at,
      mfaFailures: row.mfa_failures,
      risk: JSON.parse(row.risk) as SignInRisk,
    },
    claims,
  };
}

async function authenticate(c: Context<AppContext>, stage: Stage | "any"): Promise<void> {
  const found = await readSignIn(c);
  if (!found) throw new ApiFailure("unauthorized");
  if (stage !== "any" && found.signIn.stage !== stage)
    throw new ApiFailure("unauthorized", `sign-in ${found.signIn.id} is at stage ${found.signIn.stage}`);
  c.set("user", found.user);
  c.set("signIn", found.signIn);
  // Sliding renewal: a fresh JWT for the same sid once half of the old one's life is gone.
  if (found.claims.exp * 1000 - Date.now() < (TOKEN_TTL_SECONDS * 1000) / 2)
    await setToken(c, found.user.id, found.signIn.id, found.signIn.stage);
}

/** A fully signed-in user (second factor done where one is enrolled). */
export const requireUser: MiddlewareHandler<AppContext> = async (c, next) => {
  await authenticate(c, "full");
  await next();
};

/** A user between password and second factor: only the MFA routes accept this. */
export const requireMfaPending: MiddlewareHandler<AppContext> = async (c, next) => {
  await authenticate(c, "mfa");
  await next();
};

/** Either stage: the MFA verification routes serve sign-in and step-up alike. */
export const requireAnySignIn: MiddlewareHandler<AppContext> = async (c, next) => {
  await authenticate(c, "any");
  await next();
};

export function requireRole(role: Role): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    if (!c.get("user").roles.includes(role)) throw new ApiFailure("forbidden", `needs role ${role}`);
    await next();
  };
}
