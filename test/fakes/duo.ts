// A fake Duo for tests: the Universal Prompt's OIDC auth API as Duo publishes it (https://duo.com/docs/oauthapi,
// and the shapes Duo's own clients send and read: duo_universal_python client.py, duo_universal_nodejs
// client.ts/http.ts). It checks what Duo checks: the HS512 client assertion (iss = sub = client id, aud = the
// endpoint, exp, a jti used once) at health_check and token, the HS512 request JWT at authorize (iss, aud = the
// API host URL, exp, client_id, response_type, scope, redirect_uri, state length, duo_uname), one use per code;
// and it answers as Duo does: { stat: "OK" }, a redirect with duo_code and state, and an HS512 id_token (iss = the
// token endpoint, aud = client id, preferred_username, nonce, auth_result). Duo cannot run here.
// Runtime-neutral (jose and fetch's Request/Response): workerd tests route the Worker's fetch to handle().
import { decodeJwt, jwtVerify, SignJWT } from "jose";

export type DuoOutcome = "allow" | "deny";
/** What the fake Duo does wrong or differently on purpose, for the refusal tests. */
export type IdTokenTamper =
  | "none"
  | "wrong_aud"
  | "wrong_iss"
  | "wrong_nonce"
  | "wrong_user"
  | "wrong_key"
  | "expired"
  | "no_auth_result";

type IssuedCode = {
  username: string;
  nonce: string | undefined;
  redirectUri: string;
  outcome: DuoOutcome;
  expiresAt: number;
  used: boolean;
};

const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Duo's codes are short-lived; the fake gives a minute, s. */
const CODE_TTL_S = 60;
const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const oauthError = (error: string, description: string, status = 400) =>
  json({ error, error_description: description }, status);

export class FakeDuo {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Health: "ok", or "down" (Duo answers its health check with a failure). */
  health: "ok" | "down" = "ok";
  /** What the user does in the prompt for the next authorize. */
  outcome: DuoOutcome = "allow";
  /** Answer the token request with an OAuth error instead of an id_token (e.g. access_denied). */
  tokenError: string | null = null;
  tamper: IdTokenTamper = "none";
  readonly redirectUris = new Set<string>();
  /** Counters and the last request JWT's claims, for assertions. */
  readonly seen = { health: 0, authorize: 0, token: 0, lastRequest: null as Record<string, unknown> | null };
  private readonly codes = new Map<string, IssuedCode>();
  private readonly jtis = new Set<string>();

  constructor(
    readonly apiHost: string,
    opts: { clientId?: string; clientSecret?: string } = {},
  ) {
    // Duo's client ids are 20 characters and secrets 40 (its clients refuse others).
    this.clientId = opts.clientId ?? `DI${hex(9)}`.toUpperCase();
    this.clientSecret = opts.clientSecret ?? hex(20);
  }

  get base(): string {
    return `https://${this.apiHost}`;
  }
  endpoint(name: "health_check" | "authorize" | "token"): string {
    return `${this.base}/oauth/v1/${name}`;
  }

  private key(secret = this.clientSecret): Uint8Array {
    return new TextEncoder().encode(secret);
  }

  /** Every request the Worker sends to Duo's API host. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.host !== this.apiHost) return new Response("not this host", { status: 421 });
    if (request.method === "POST" && url.pathname === "/oauth/v1/health_check") return this.healthCheck(request);
    if (request.method === "POST" && url.pathname === "/oauth/v1/token") return this.token(request);
    if (request.method === "GET" && url.pathname === "/oauth/v1/authorize") {
      const answer = await this.authorize(url.toString());
      return answer.ok
        ? new Response(null, { status: 302, headers: { location: answer.location } })
        : new Response(answer.error, { status: 400 });
    }
    return json({ stat: "FAIL", code: 40400, message: "Not found" }, 404);
  }

  /** The client assertion as Duo checks it: HS512 with the secret, iss = sub = client id, aud = this endpoint. */
  private async checkAssertion(assertion: string | null, audience: string): Promise<string | null> {
    if (!assertion) return "missing client_assertion";
    try {
      const { payload } = await jwtVerify(assertion, this.key(), {
        algorithms: ["HS512"],
        issuer: this.clientId,
        subject: this.clientId,
        audience,
        requiredClaims: ["exp", "jti"],
      });
      if (this.jtis.has(String(payload.jti))) return "jti used before";
      this.jtis.add(String(payload.jti));
      return null;
    } catch (err) {
      return `client_assertion: ${(err as { code?: string }).code ?? (err as Error).name}`;
    }
  }

  private async healthCheck(request: Request): Promise<Response> {
    this.seen.health += 1;
    const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()));
    if (form.get("client_id") !== this.clientId)
      return json(
        { stat: "FAIL", code: 40002, message: "Invalid request parameters", message_detail: "client_id" },
        400,
      );
    const bad = await this.checkAssertion(form.get("client_assertion"), this.endpoint("health_check"));
    if (bad)
      return json({ stat: "FAIL", code: 40002, message: "Invalid request parameters", message_detail: bad }, 400);
    if (this.health === "down")
      return json({ stat: "FAIL", code: 50000, message: "Service unavailable", timestamp: Date.now() }, 503);
    return json({ stat: "OK", response: { timestamp: Math.floor(Date.now() / 1000) } });
  }

  /**
   * The browser arrives at /oauth/v1/authorize: the request JWT is checked as Duo does, the user "answers" with
   * `outcome`, and Duo sends the browser to the redirect URI with duo_code and state.
   */
  async authorize(
    authorizeUrl: string,
  ): Promise<{ ok: true; location: string; claims: Record<string, unknown> } | { ok: false; error: string }> {
    this.seen.authorize += 1;
    const url = new URL(authorizeUrl);
    if (`${url.origin}${url.pathname}` !== this.endpoint("authorize")) return { ok: false, error: "not authorize" };
    if (url.searchParams.get("response_type") !== "code") return { ok: false, error: "response_type" };
    if (url.searchParams.get("client_id") !== this.clientId) return { ok: false, error: "client_id" };
    const request = url.searchParams.get("request");
    if (!request) return { ok: false, error: "no request" };
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(request, this.key(), {
        algorithms: ["HS512"],
        issuer: this.clientId,
        audience: this.base,
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      return { ok: false, error: `request: ${(err as { code?: string }).code ?? (err as Error).name}` };
    }
    this.seen.lastRequest = claims;
    if (claims.response_type !== "code" || claims.scope !== "openid") return { ok: false, error: "request claims" };
    if (claims.client_id !== this.clientId) return { ok: false, error: "request client_id" };
    const redirectUri = String(claims.redirect_uri ?? "");
    if (!this.redirectUris.has(redirectUri)) return { ok: false, error: "redirect_uri not registered" };
    const state = String(claims.state ?? "");
    if (state.length < 22 || state.length > 1024) return { ok: false, error: "state length" };
    if (typeof claims.duo_uname !== "string" || !claims.duo_uname) return { ok: false, error: "duo_uname" };
    const code = hex(16);
    this.codes.set(code, {
      username: claims.duo_uname,
      nonce: typeof claims.nonce === "string" ? claims.nonce : undefined,
      redirectUri,
      outcome: this.outcome,
      expiresAt: Math.floor(Date.now() / 1000) + CODE_TTL_S,
      used: false,
    });
    const back = new URL(redirectUri);
    back.searchParams.set(claims.use_duo_code_attribute === false ? "code" : "duo_code", code);
    back.searchParams.set("state", state);
    return { ok: true, location: back.toString(), claims };
  }

  private async token(request: Request): Promise<Response> {
    this.seen.token += 1;
    const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()));
    if (form.get("grant_type") !== "authorization_code") return oauthError("unsupported_grant_type", "grant_type");
    if (form.get("client_assertion_type") !== CLIENT_ASSERTION_TYPE) return oauthError("invalid_client", "type");
    const bad = await this.checkAssertion(form.get("client_assertion"), this.endpoint("token"));
    if (bad) return oauthError("invalid_client", bad);
    const code = this.codes.get(form.get("code") ?? "");
    if (!code || code.used || code.expiresAt < Math.floor(Date.now() / 1000))
      return oauthError("invalid_grant", "The provided authorization grant is invalid, expired or used");
    code.used = true;
    if (form.get("redirect_uri") !== code.redirectUri) return oauthError("invalid_grant", "redirect_uri");
    if (this.tokenError) return oauthError(this.tokenError, "refused by the fake");
    return json({
      id_token: await this.idToken(code),
      access_token: hex(16),
      expires_in: 3600,
      token_type: "Bearer",
    });
  }

  private idToken(code: IssuedCode): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const t = this.tamper;
    const username = t === "wrong_user" ? `${code.username}-other` : code.username;
    const result = {
      result: code.outcome,
      status: code.outcome,
      status_msg: code.outcome === "allow" ? "Login Successful" : "Login denied",
    };
    return new SignJWT({
      preferred_username: username,
      ...(code.nonce !== undefined ? { nonce: t === "wrong_nonce" ? hex(16) : code.nonce } : {}),
      ...(t === "no_auth_result" ? {} : { auth_result: result }),
      auth_time: now,
      auth_context: {
        txid: crypto.randomUUID(),
        timestamp: now,
        user: { name: username, key: `DU${hex(9)}`, groups: [] },
        factor: "duo_push",
        result: code.outcome === "allow" ? "success" : "denied",
      },
    })
      .setProtectedHeader({ alg: "HS512", typ: "JWT" })
      .setIssuer(t === "wrong_iss" ? `${this.base}/oauth/v1/other` : this.endpoint("token"))
      .setAudience(t === "wrong_aud" ? `DI${hex(9)}`.toUpperCase() : this.clientId)
      .setSubject(username)
      .setIssuedAt(t === "expired" ? now - 3600 : now)
      .setExpirationTime(t === "expired" ? now - 600 : now + 300)
      .sign(this.key(t === "wrong_key" ? hex(20) : this.clientSecret));
  }

  /** The request JWT's claims without checking it (for tests that look at what the Worker sent). */
  static requestClaims(authorizeUrl: string): Record<string, unknown> {
    return decodeJwt(new URL(authorizeUrl).searchParams.get("request") ?? "");
  }
}
