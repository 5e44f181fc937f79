// Duo Universal Prompt client (Duo Web SDK v4, Duo's OIDC auth API), built on jose: the HS512 client
// assertion and request JWTs signed with the client secret, the health check, the authorization URL and
// the code exchange whose id_token is checked here (signature, iss, aud, exp/iat, username, nonce, result).
// Shapes follow Duo's own clients (duo_universal_python client.py, duo_universal_nodejs client.ts/http.ts)
// and https://duo.com/docs/oauthapi; see docs/auth.md "Duo". No secret or token is ever logged: failures
// carry a reason word and Duo's error code only.
import { jwtVerify, SignJWT } from "jose";
import { z } from "zod";

export type DuoClient = {
  /** Duo's "API hostname" (host[:port]); always reached over https. */
  apiHost: string;
  clientId: string;
  clientSecret: string;
  /** Our callback, as entered in Duo's Admin Panel. */
  redirectUri: string;
};

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Lifetime of the JWTs we sign (Duo's clients use five minutes), s. */
export const DUO_JWT_LIFETIME_S = 300;
/** Clock skew allowed on Duo's id_token (Duo's clients allow a minute), s. */
export const DUO_LEEWAY_S = 60;
/** How long we wait for Duo on one request, ms: a Duo that hangs is a Duo that is down. */
export const DUO_TIMEOUT_MS = 10_000;

export const duoBase = (apiHost: string) => `https://${apiHost}`;
export const duoEndpoints = (apiHost: string) => ({
  health: `${duoBase(apiHost)}/oauth/v1/health_check`,
  authorize: `${duoBase(apiHost)}/oauth/v1/authorize`,
  token: `${duoBase(apiHost)}/oauth/v1/token`,
});

const secretKey = (secret: string) => new TextEncoder().encode(secret);
const nowS = () => Math.floor(Date.now() / 1000);
/** Random alphanumeric (hex), `bytes` random bytes: jti (Duo's is 36 characters), state, nonce. */
export const randomHex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

/** The client assertion for one endpoint: iss = sub = client id, aud = the endpoint URL, exp, iat, jti. */
export function clientAssertion(client: DuoClient, audience: string, now = nowS()): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS512", typ: "JWT" })
    .setIssuer(client.clientId)
    .setSubject(client.clientId)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + DUO_JWT_LIFETIME_S)
    .setJti(randomHex(18))
    .sign(secretKey(client.clientSecret));
}

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
  body: new URLSearchParams(fields).toString(),
  signal: AbortSignal.timeout(DUO_TIMEOUT_MS),
});

export type DuoHealth = "ok" | "unhealthy" | "unreachable";
/** `refused`: Duo answered, and refused our client id or assertion (4xx): the settings are wrong, not Duo. */
export type HealthResult = { health: DuoHealth; refused: boolean; detail: string };

const HealthBody = z.object({
  stat: z.string(),
  code: z.number().optional(),
  message: z.string().optional(),
});

/** POST /oauth/v1/health_check with client_id and a client assertion; Duo answers { stat: "OK" }. */
export async function duoHealthCheck(client: DuoClient): Promise<HealthResult> {
  const url = duoEndpoints(client.apiHost).health;
  let res: Response;
  try {
    res = await fetch(url, form({ client_id: client.clientId, client_assertion: await clientAssertion(client, url) }));
  } catch (err) {
    return { health: "unreachable", refused: false, detail: `health check: ${(err as Error).name}` };
  }
  const body = HealthBody.safeParse(await res.json().catch(() => null));
  if (res.ok && body.success && body.data.stat === "OK") return { health: "ok", refused: false, detail: "ok" };
  const code = body.success ? (body.data.code ?? "none") : "unparsable";
  return {
    health: "unhealthy",
    refused: res.status >= 400 && res.status < 500,
    detail: `health check: HTTP ${res.status}, code ${code}`,
  };
}

/** Where the browser goes: /oauth/v1/authorize with the request JWT (HS512) naming the user, state and nonce. */
export async function duoAuthorizeUrl(
  client: DuoClient,
  args: { username: string; state: string; nonce: string },
  now = nowS(),
): Promise<string> {
  const request = await new SignJWT({
    response_type: "code",
    scope: "openid",
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: args.state,
    duo_uname: args.username,
    nonce: args.nonce,
    use_duo_code_attribute: true,
  })
    .setProtectedHeader({ alg: "HS512", typ: "JWT" })
    .setIssuer(client.clientId)
    .setAudience(duoBase(client.apiHost))
    .setExpirationTime(now + DUO_JWT_LIFETIME_S)
    .sign(secretKey(client.clientSecret));
  const url = new URL(duoEndpoints(client.apiHost).authorize);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", client.clientId);
  url.searchParams.set("request", request);
  url.searchParams.set("redirect_uri", client.redirectUri);
  url.searchParams.set("scope", "openid");
  return url.toString();
}

const TokenBody = z.object({
  id_token: z.string().max(16_384),
  access_token: z.string(),
  expires_in: z.union([z.number(), z.string()]),
  token_type: z.literal("Bearer"),
});
const ErrorBody = z.object({ error: z.string().max(64) });
const IdClaims = z.object({
  preferred_username: z.string().optional(),
  nonce: z.string().optional(),
  auth_result: z.object({ result: z.string(), status: z.string().optional() }).optional(),
});

/** Why a Duo answer is not a pass: reason words for the log and the audit, never Duo's own text. */
export type DuoRefusal =
  | "unreachable"
  | "token_refused"
  | "malformed"
  | "bad_token"
  | "wrong_user"
  | "wrong_nonce"
  | "denied";
export type ExchangeResult = { ok: true; authTime: number | null } | { ok: false; reason: DuoRefusal; detail: string };

/**
 * POST /oauth/v1/token (authorization_code, with a client assertion), then the id_token: HS512 with the
 * client secret, iss = the token endpoint, aud = our client id, exp and iat present, preferred_username =
 * the user we sent, the nonce we sent, and Duo's verdict auth_result.result = "allow".
 */
export async function duoExchange(
  client: DuoClient,
  args: { code: string; username: string; nonce: string },
): Promise<ExchangeResult> {
  const tokenUrl = duoEndpoints(client.apiHost).token;
  let res: Response;
  try {
    res = await fetch(
      tokenUrl,
      form({
        grant_type: "authorization_code",
        code: args.code,
        redirect_uri: client.redirectUri,
        client_id: client.clientId,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await clientAssertion(client, tokenUrl),
      }),
    );
  } catch (err) {
    return { ok: false, reason: "unreachable", detail: `token: ${(err as Error).name}` };
  }
  const json: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = ErrorBody.safeParse(json);
    if (res.status >= 500) return { ok: false, reason: "unreachable", detail: `token: HTTP ${res.status}` };
    return {
      ok: false,
      reason: error.success && error.data.error === "access_denied" ? "denied" : "token_refused",
      detail: `token: HTTP ${res.status} ${error.success ? error.data.error : "unparsable"}`,
    };
  }
  const body = TokenBody.safeParse(json);
  if (!body.success) return { ok: false, reason: "malformed", detail: "token: response not in Duo's shape" };
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(body.data.id_token, secretKey(client.clientSecret), {
      algorithms: ["HS512"],
      issuer: tokenUrl,
      audience: client.clientId,
      clockTolerance: DUO_LEEWAY_S,
      requiredClaims: ["exp", "iat"],
    }));
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).name;
    return { ok: false, reason: "bad_token", detail: `id_token: ${code}` };
  }
  const claims = IdClaims.safeParse(payload);
  if (!claims.success) return { ok: false, reason: "malformed", detail: "id_token: claims not in Duo's shape" };
  if (claims.data.preferred_username !== args.username)
    return { ok: false, reason: "wrong_user", detail: "id_token: preferred_username is not the user" };
  if (claims.data.nonce !== args.nonce) return { ok: false, reason: "wrong_nonce", detail: "id_token: nonce" };
  const result = claims.data.auth_result;
  // Duo's verdict is result; a status of deny or fraud with it is refused too (an allow with status "bypass" is
  // Duo's own bypass policy for that user, decided in Duo's Admin Panel).
  if (result?.result !== "allow" || result.status === "deny" || result.status === "fraud")
    return { ok: false, reason: "denied", detail: `auth_result ${result?.result ?? "missing"}` };
  return { ok: true, authTime: typeof payload.auth_time === "number" ? payload.auth_time : null };
}
