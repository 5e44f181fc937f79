// OAuth 2.0 client credentials (RFC 6749 §4.4) for the connector's calls to EmpowerID: one cached
// access token, refreshed shortly before it expires or at once when the API answers 401.
import { z } from "zod";

const TokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === "bearer", "token_type must be Bearer"),
  /** Seconds; absent means the server did not say (then 5 min is assumed). */
  expires_in: z.coerce.number().positive().optional(),
});

/** Largest token answer read: 64 KiB (a JWT access token is a few KiB); a longer one is cut off and malformed. */
const MAX_TOKEN_ANSWER_BYTES = 64 * 1024;

/** Tokens are renewed this long before they expire: 30 s. */
const EARLY_REFRESH_MS = 30_000;
const DEFAULT_LIFETIME_MS = 5 * 60_000;

export class OAuthError extends Error {
  override name = "OAuthError";
}

export class ClientCredentials {
  private token?: { value: string; expiresAt: number };
  private inflight?: Promise<string>;

  constructor(
    private readonly opts: {
      tokenUrl: string;
      clientId: string;
      clientSecret?: string;
      scope?: string;
      timeoutMs: number;
      headers?: Record<string, string>;
      /**
       * How the client authenticates: HTTP Basic (default), client_id/client_secret in the body, or its TLS
       * client certificate (`tls`, RFC 8705: client_id in the body, no secret; `fetch` must present the cert).
       */
      clientAuth?: "basic" | "post" | "tls";
      /** The fetch to use (mutual TLS: one bound to the client certificate). */
      fetch?: typeof fetch;
      now?: () => number;
    },
  ) {}

  /** A valid access token, fetched once for concurrent callers. */
  async accessToken(): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    if (this.token && this.token.expiresAt - EARLY_REFRESH_MS > now) return this.token.value;
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** The API refused the token (revoked or expired early): forget it so the next call fetches one. */
  invalidate(): void {
    this.token = undefined;
  }

  private async fetchToken(): Promise<string> {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (this.opts.scope) body.set("scope", this.opts.scope);
    const secret = this.opts.clientSecret ?? "";
    const basic = Buffer.from(`${encodeURIComponent(this.opts.clientId)}:${encodeURIComponent(secret)}`).toString(
      "base64",
    );
    const auth = this.opts.clientAuth ?? "basic";
    if (auth !== "basic") body.set("client_id", this.opts.clientId);
    if (auth === "post") body.set("client_secret", secret);
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(this.opts.tokenUrl, {
        method: "POST",
        headers: {
          ...this.opts.headers,
          ...(auth === "basic" ? { authorization: `Basic ${basic}` } : {}),
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body,
        // A redirect is an answer, not an order: following a 307 would send the form (client_secret with `post`)
        // to wherever it points.
        redirect: "manual",
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      throw new OAuthError(`token endpoint unreachable: ${(err as Error).name}`);
    }
    // The token endpoint's error text may echo request data: only the status is kept.
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new OAuthError(`token endpoint answered HTTP ${res.status}`);
    }
    const text = await readCapped(res, MAX_TOKEN_ANSWER_BYTES).catch(() => undefined);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const parsed = TokenAnswer.safeParse(json);
    if (!parsed.success) throw new OAuthError("token endpoint answer is malformed");
    const lifetime = parsed.data.expires_in ? parsed.data.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    this.token = { value: parsed.data.access_token, expiresAt: (this.opts.now ?? Date.now)() + lifetime };
    return this.token.value;
  }
}

/**
 * A response body as text, read only up to `maxBytes`: a longer one is cancelled where it crosses the bound
 * (undefined), so a hostile server's endless answer costs at most `maxBytes` of memory, not all it sends.
 * Rejects when the body fails mid-read (the timeout, a reset).
 */
export async function readCapped(res: Response, maxBytes: number): Promise<string | undefined> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
