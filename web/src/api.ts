// Typed calls to the edge's HTTP API (same origin, cookie auth). Every response is checked against protocol/.
import { z } from "zod";
import {
  EnrollmentToken,
  ErrorCode,
  Me,
  ServerSummary,
  SessionSummary,
  Site,
  type CreateCredentialRequest,
  type CreateServerRequest,
  type CreateSessionRequest,
  type LoginRequest,
} from "../../protocol/index.ts";

/** An API failure as the page sees it: HTTP status plus the edge's stable error code. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
  ) {
    super(code);
  }
}

/** Default sentence for each error code; pages override the ones they know more about. */
const ERROR_TEXT: Record<ErrorCode, string> = {
  bad_request: "The request was not accepted. Check the fields and try again.",
  unauthorized: "Your sign-in has expired. Sign in again.",
  forbidden: "You do not have permission to do that.",
  not_found: "That item no longer exists. Reload the page.",
  conflict: "That conflicts with something that already exists (for example, a duplicate name).",
  rate_limited: "Too many attempts. Wait a minute and try again.",
  connector_unavailable: "No connector is online for this server's site. Ask an admin to check the site's connector.",
  protocol_error: "The server sent an unexpected response. Reload the page; if it persists, tell an admin.",
  internal: "Something went wrong on the server. Try again in a moment.",
};

/** A human sentence for any error thrown by an API call (network failures included). */
export function errorText(error: unknown, overrides: Partial<Record<ErrorCode, string>> = {}): string {
  if (error instanceof ApiError) return overrides[error.code] ?? ERROR_TEXT[error.code];
  return "Could not reach the server. Check your connection and try again.";
}

/** Called on a 401 from any call except login and the initial /api/me probe. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

const ErrorBody = z.object({ error: z.object({ code: z.string() }) });

function codeFor(status: number, body: unknown): ErrorCode {
  const parsed = ErrorBody.safeParse(body);
  const code = ErrorCode.safeParse(parsed.success ? parsed.data.error.code : undefined);
  if (code.success) return code.data;
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 429) return "rate_limited";
  if (status === 503) return "connector_unavailable";
  return status >= 500 ? "internal" : "bad_request";
}

async function call<S extends z.ZodType>(
  method: "GET" | "POST",
  path: string,
  schema: S,
  body?: unknown,
  redirectOn401 = true,
): Promise<z.infer<S>> {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers:
      body === undefined
        ? { accept: "application/json" }
        : { accept: "application/json", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const code = codeFor(response.status, data);
    if (response.status === 401 && redirectOn401) onUnauthorized();
    throw new ApiError(response.status, code);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ApiError(response.status, "protocol_error");
  return parsed.data;
}

const Created = z.object({ id: z.string() });
const SessionCreated = z.object({ id: z.string(), deadline: z.number() });
const Anything = z.unknown();

type Body<T extends z.ZodType> = z.input<T>;

export const api = {
  login: (body: Body<typeof LoginRequest>) => call("POST", "/api/login", Me, body, false),
  logout: () => call("POST", "/api/logout", Anything, {}, false),
  /** Resolves to null when nobody is signed in. */
  me: () =>
    call("GET", "/api/me", Me, undefined, false).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }),
  servers: () => call("GET", "/api/servers", z.array(ServerSummary)),
  createSession: (body: Body<typeof CreateSessionRequest>) => call("POST", "/api/sessions", SessionCreated, body),
  session: (id: string) => call("GET", `/api/sessions/${encodeURIComponent(id)}`, SessionSummary),
  sites: () => call("GET", "/api/sites", z.array(Site)),
  createSite: (name: string) => call("POST", "/api/sites", Site, { name }),
  createEnrollmentToken: (siteId: string) =>
    call("POST", `/api/sites/${encodeURIComponent(siteId)}/enrollment-tokens`, EnrollmentToken, {}),
  createServer: (body: Body<typeof CreateServerRequest>) => call("POST", "/api/servers", Created, body),
  createCredential: (body: Body<typeof CreateCredentialRequest>) => call("POST", "/api/credentials", Created, body),
};
