// Typed calls to the edge's HTTP API (same origin, cookie auth). Every response is checked against protocol/.
import type { z } from "zod";
import { masterPasswordVerifier } from "../../../protocol/master-password.ts";
import { routes } from "./api-routes.ts";
import {
  ApiErrorBody,
  type AuditQuery,
  type CommandsQuery,
  type FilterNamesQuery,
  type KeyboardLayout,
  ErrorCode,
  WebAuthnAssertion,
  WebAuthnRegistration,
} from "../../../protocol/index.ts";

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
  step_up_required: "Confirm it is you (second factor or master password) before connecting.",
  connector_unavailable: "No connector is online for this server's site. Ask an admin to check the site's connector.",
  recording_unavailable: "Recording is required for this server and cannot be stored right now. Try again later.",
  protocol_error: "The server sent an unexpected response. Reload the page; if it persists, tell an admin.",
  too_large: "That is more than the server takes in one request. Send less at a time.",
  internal: "Something went wrong on the server. Try again in a moment.",
  unknown_policy: "That policy no longer exists. Reload the page and choose another.",
  policy_not_allowed:
    "That policy is not allowed in this zone. Ask a global admin to allow it, or leave the zone's policy.",
  policy_weaker_than_zone:
    "That policy is weaker than the zone's own policy (approval, recording, live view, MFA or limits).",
  credential_rotating:
    "This credential's password or key is being changed after its last use. Try again in a few minutes.",
  seal_key_changed:
    "The site's seal key was rotated since this page loaded. Reload the page and enter the secret again.",
  second_factor_needed:
    "Changing your master password needs a second factor. Set one up on this page first, or ask an admin to reset your master password.",
  code_not_accepted:
    "That code was not accepted. Check it and try again; after several wrong answers you must sign in again.",
  still_enabled: "Turn it off first (that ends its open checkouts and sessions), then delete it.",
  duo_unavailable: "Duo cannot be reached right now. Try again later, or use another second factor.",
  duo_refused: "Duo did not accept these settings. Check the API hostname, client ID and client secret.",
  command_rule_refused:
    "A command rule cannot be used: its pattern is unsafe (nested repetition, back-references, lookaround) or too long, or there are too many rules.",
  policy_inconsistent:
    "The policy's limits contradict each other (for example, an extension longer than the longest session).",
  sharing_off: "This session's policy does not allow inviting anyone to it.",
  not_eligible:
    "That person cannot join this session: they must be entitled to this credential or be a helper named by the policy, and not you.",
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

function codeFor(status: number, body: unknown): ErrorCode {
  const parsed = ApiErrorBody.safeParse(body);
  const code = ErrorCode.safeParse(parsed.success ? parsed.data.error.code : undefined);
  if (code.success) return code.data;
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "too_large";
  if (status === 429) return "rate_limited";
  if (status === 503) return "connector_unavailable";
  return status >= 500 ? "internal" : "bad_request";
}

type Routes = typeof routes;
/** A route of the edge, "METHOD /api/path/{param}", as its own definitions name it (api-routes.ts, generated). */
export type RouteKey = keyof Routes & string;
type PathOf<K> = K extends `${string} ${infer P}` ? P : never;
type ParamNames<P> = P extends `${string}{${infer N}}${infer Rest}` ? N | ParamNames<Rest> : never;
type Schema<K extends RouteKey, F extends string> = Routes[K] extends { [f in F]: infer S extends z.ZodType }
  ? S
  : undefined;
/** What a call to route K takes: its path's parameters, its query and its body, typed by the route's schemas. */
type Args<K extends RouteKey> = ([ParamNames<PathOf<K>>] extends [never]
  ? { params?: undefined }
  : { params: Record<ParamNames<PathOf<K>>, string> }) &
  (Schema<K, "query"> extends z.ZodType ? { query?: Partial<z.input<Schema<K, "query">>> } : { query?: undefined }) &
  (Schema<K, "body"> extends z.ZodType ? { body: z.input<Schema<K, "body">> } : { body?: undefined });
/** The body route K reads, as the caller writes it. */
export type BodyOf<K extends RouteKey> = z.input<NonNullable<Schema<K, "body">>>;
/** The query route K reads, every field optional. */
export type QueryOf<K extends RouteKey> = Partial<z.input<NonNullable<Schema<K, "query">>>>;
/** What route K answers, checked against its response schema; a route that declares none answers `unknown`. */
type Answer<K extends RouteKey> = Schema<K, "response"> extends z.ZodType ? z.output<Schema<K, "response">> : unknown;

/** The URL of route K: its path parameters encoded, its query's defined values appended. */
export const routeUrl = <K extends RouteKey>(key: K, args: Pick<Args<K>, "params" | "query">): string =>
  urlOf(key, args);

function urlOf(key: string, args: { params?: unknown; query?: unknown }): string {
  const params = (args.params ?? {}) as Record<string, string>;
  const path = key
    .slice(key.indexOf(" ") + 1)
    .replace(/\{(\w+)\}/g, (_m: string, name: string) => encodeURIComponent(params[name] ?? ""));
  return `${path}${query((args.query ?? {}) as Record<string, string | number | undefined>)}`;
}

/**
 * Calls route K: the body as JSON (a POST without one sends `{}`), the answer checked against the route's response
 * schema (a mismatch is a protocol_error), a failure thrown as ApiError with the edge's stable code.
 */
async function request<K extends RouteKey>(key: K, args: Args<K>, redirectOn401 = true): Promise<Answer<K>> {
  const method = key.slice(0, key.indexOf(" "));
  const body = args.body ?? (method === "POST" ? {} : undefined);
  const response = await fetch(urlOf(key, args), {
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
  const schema = (routes[key] as { response?: z.ZodType }).response;
  if (!schema) return data as Answer<K>;
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ApiError(response.status, "protocol_error");
  return parsed.data as Answer<K>;
}

/** `?a=1&b=2` from the defined, non-empty values; "" when there are none. */
function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export type AuditFilter = Partial<Omit<AuditQuery, "limit">> & { limit?: number };
export type CommandsFilter = Partial<Omit<CommandsQuery, "limit">> & { limit?: number };

export const api = {
  login: (body: BodyOf<"POST /api/login">) => request("POST /api/login", { body }, false),
  logout: () => request("POST /api/logout", {}, false),
  /** Resolves to null when nobody is signed in. */
  me: () =>
    request("GET /api/me", {}, false).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }),

  // ---- second factors and the account (no redirect on 401: the sign-in page handles it) ----
  oidcConfig: () => request("GET /api/oidc/config", {}, false),
  mfaStatus: () => request("GET /api/mfa", {}),
  totpEnrol: () => request("POST /api/mfa/totp/enrol", {}),
  totpConfirm: (code: string) => request("POST /api/mfa/totp/confirm", { body: { code } }),
  totpRemove: () => request("DELETE /api/mfa/totp", {}),
  totpVerify: (code: string) => request("POST /api/mfa/totp/verify", { body: { code } }, false),
  recovery: (code: string) => request("POST /api/mfa/recovery", { body: { code } }, false),
  regenerateRecovery: () => request("POST /api/mfa/recovery/regenerate", {}),
  keyRegisterOptions: () => request("POST /api/mfa/webauthn/register/options", {}),
  /** `response`: what the WebAuthn library returned, checked against the shape the route reads before it is sent. */
  keyRegister: (name: string, response: unknown) =>
    request("POST /api/mfa/webauthn/register", {
      body: { name, response: WebAuthnRegistration.shape.response.parse(response) },
    }),
  keyAuthOptions: () => request("POST /api/mfa/webauthn/authenticate/options", {}, false),
  keyAuthenticate: (response: unknown) =>
    request(
      "POST /api/mfa/webauthn/authenticate",
      { body: { response: WebAuthnAssertion.shape.response.parse(response) } },
      false,
    ),
  keyRemove: (id: string) => request("DELETE /api/mfa/webauthn/{id}", { params: { id } }),
  changePassword: (current: string, next: string) => request("POST /api/me/password", { body: { current, next } }),
  /** Only the password's PBKDF2 verifier leaves the browser (protocol/master-password.ts). */
  setMasterPassword: async (password: string) =>
    request("POST /api/me/master-password", { body: { verifier: await masterPasswordVerifier(password) } }),
  // ---- this browser's Web Push subscription (the Account page's notified devices) ----
  pushConfig: () => request("GET /api/push/config", {}),
  pushDevices: () => request("GET /api/push/devices", {}),
  savePushDevice: (body: BodyOf<"POST /api/push/devices">) => request("POST /api/push/devices", { body }),
  removePushDevice: (id: string) => request("DELETE /api/push/devices/{id}", { params: { id } }),
  testPushDevice: (id: string) => request("POST /api/push/devices/{id}/test", { params: { id } }),
  pushStart: () => request("POST /api/mfa/push", {}, false),
  /** Duo's prompt: where to go (or, failing open while Duo is down, done); returnTo is the page to come back to. */
  duoStart: (returnTo?: string) => request("POST /api/mfa/duo/start", { body: returnTo ? { returnTo } : {} }, false),
  duoFinish: (state: string, code: string) => request("POST /api/mfa/duo/finish", { body: { state, code } }, false),
  duoSettings: () => request("GET /api/admin/duo", {}),
  saveDuoSettings: (body: BodyOf<"PUT /api/admin/duo">) => request("PUT /api/admin/duo", { body }),
  mailRelay: () => request("GET /api/admin/mail-relay", {}),
  saveMailRelay: (body: BodyOf<"PUT /api/admin/mail-relay">) => request("PUT /api/admin/mail-relay", { body }),
  outbox: (state: "failed" | "dead" | "all") => request("GET /api/admin/notifications", { query: { state } }),
  retryNotification: (id: string) => request("POST /api/admin/notifications/{id}/retry", { params: { id } }),
  notifyPreferences: () => request("GET /api/me/notifications", {}),
  saveNotifyPreferences: (body: BodyOf<"PUT /api/me/notifications">) => request("PUT /api/me/notifications", { body }),
  keyboardLayout: () => request("GET /api/me/keyboard-layout", {}),
  saveKeyboardLayout: (keyboardLayout: KeyboardLayout) =>
    request("PUT /api/me/keyboard-layout", { body: { keyboardLayout } }),
  pushState: (id: string) => request("POST /api/mfa/push/{id}/complete", { params: { id } }, false),
  pushPending: () => request("GET /api/mfa/push/pending", {}),
  pushAnswer: (id: string, number: number) =>
    request("POST /api/mfa/push/{id}/approve", { params: { id }, body: { number } }),
  pushDeny: (id: string) => request("POST /api/mfa/push/{id}/deny", { params: { id } }),
  stepUp: (checkoutId: string) => request("GET /api/checkouts/{id}/step-up", { params: { id: checkoutId } }),
  socketTicket: (sessionId: string, socket: "ws" | "watch" | "join") =>
    request("POST /api/sessions/{id}/ticket", { params: { id: sessionId }, body: { socket } }),

  // ---- requester -------------------------------------------------------------------------
  catalog: (filter: { q?: string; zoneId?: string; tag?: string } = {}) =>
    request("GET /api/catalog", { query: filter }),
  submitCart: (body: BodyOf<"POST /api/checkouts">) => request("POST /api/checkouts", { body }),
  checkouts: () => request("GET /api/checkouts", {}),
  withdraw: (id: string) => request("POST /api/checkouts/{id}/withdraw", { params: { id } }),
  checkIn: (id: string) => request("POST /api/checkouts/{id}/check-in", { params: { id } }),
  createSession: (body: BodyOf<"POST /api/sessions">) => request("POST /api/sessions", { body }),
  session: (id: string) => request("GET /api/sessions/{id}", { params: { id } }),
  extendSession: (id: string, body: BodyOf<"POST /api/sessions/{id}/extensions">) =>
    request("POST /api/sessions/{id}/extensions", { params: { id }, body }),

  // ---- shared sessions (docs/governance.md): the session's user invites; the invitee joins -----------------------
  sessionSharing: (sessionId: string) => request("GET /api/sessions/{id}/invitations", { params: { id: sessionId } }),
  invite: (sessionId: string, body: BodyOf<"POST /api/sessions/{id}/invitations">) =>
    request("POST /api/sessions/{id}/invitations", { params: { id: sessionId }, body }),
  /** Takes an invitation back: a person who joined is disconnected. */
  takeBackInvitation: (sessionId: string, invitationId: string) =>
    request("DELETE /api/sessions/{id}/invitations/{invitationId}", { params: { id: sessionId, invitationId } }),
  invitations: () => request("GET /api/invitations", {}),
  invitationStepUp: (id: string) => request("GET /api/invitations/{id}/step-up", { params: { id } }),
  acceptInvitation: (id: string) => request("POST /api/invitations/{id}/accept", { params: { id } }),

  // ---- approver --------------------------------------------------------------------------
  approvals: () => request("GET /api/approvals", {}),
  decide: (id: string, verdict: "approve" | "deny", comment: string) =>
    request(`POST /api/checkouts/{id}/${verdict}`, { params: { id }, body: { comment } }),
  pendingExtensions: () => request("GET /api/extensions", {}),
  decideExtension: (id: string, approve: boolean, comment: string) =>
    request("POST /api/extensions/{id}/decision", { params: { id }, body: { approve, comment } }),
  adminCheckouts: (filter: QueryOf<"GET /api/admin/checkouts">) =>
    request("GET /api/admin/checkouts", { query: filter }),
  revoke: (id: string, reason: string) =>
    request("POST /api/checkouts/{id}/revoke", { params: { id }, body: { reason } }),

  // ---- admin and zone admin --------------------------------------------------------------
  sites: () => request("GET /api/sites", {}),
  createSite: (name: string) => request("POST /api/sites", { body: { name } }),
  createEnrollmentToken: (siteId: string) =>
    request("POST /api/sites/{id}/enrollment-tokens", { params: { id: siteId } }),
  sealKey: (siteId: string) => request("GET /api/sites/{id}/seal-key", { params: { id: siteId } }),
  rotateSealKey: (siteId: string) => request("POST /api/sites/{id}/seal-key/rotate", { params: { id: siteId } }),
  siteConnectors: (siteId: string) => request("GET /api/sites/{id}/connectors", { params: { id: siteId } }),
  rotateConnectorKey: (siteId: string, connectorId: string) =>
    request("POST /api/sites/{id}/connectors/{connectorId}/rotate-key", { params: { id: siteId, connectorId } }),
  revokeConnector: (siteId: string, connectorId: string) =>
    request("POST /api/sites/{id}/connectors/{connectorId}/revoke", { params: { id: siteId, connectorId } }),
  discovered: (siteId: string) => request("GET /api/sites/{id}/discovered", { params: { id: siteId } }),
  enableDiscovered: (id: string, body: { zoneId: string; name?: string; protocol: "ssh" | "rdp"; hostKey: string }) =>
    request("POST /api/discovered/{id}/enable", { params: { id }, body }),
  discoveryLifecycle: (siteId: string) =>
    request("GET /api/sites/{id}/discovery-lifecycle", { params: { id: siteId } }),
  setDiscoveryLifecycle: (siteId: string, body: BodyOf<"PUT /api/sites/{id}/discovery-lifecycle">) =>
    request("PUT /api/sites/{id}/discovery-lifecycle", { params: { id: siteId }, body }),
  zones: () => request("GET /api/zones", {}),
  createZone: (body: BodyOf<"POST /api/zones">) => request("POST /api/zones", { body }),
  updateZone: (id: string, body: BodyOf<"PATCH /api/zones/{id}">) =>
    request("PATCH /api/zones/{id}", { params: { id }, body }),
  allowedPolicies: (zoneId: string) => request("GET /api/zones/{id}/allowed-policies", { params: { id: zoneId } }),
  setAllowedPolicies: (zoneId: string, policyIds: string[]) =>
    request("PUT /api/zones/{id}/allowed-policies", { params: { id: zoneId }, body: { policyIds } }),
  policies: () => request("GET /api/policies", {}),
  createPolicy: (body: BodyOf<"POST /api/policies">) => request("POST /api/policies", { body }),
  updatePolicy: (id: string, body: BodyOf<"PATCH /api/policies/{id}">) =>
    request("PATCH /api/policies/{id}", { params: { id }, body }),
  groups: () => request("GET /api/groups", {}),
  createGroup: (name: string) => request("POST /api/groups", { body: { name } }),
  setGroupMembers: (id: string, userIds: string[]) =>
    request("PUT /api/groups/{id}/members", { params: { id }, body: { userIds } }),
  users: () => request("GET /api/users", {}),
  /** Users whose username or email contains `q` (any case), at most `limit`. */
  searchUsers: (q: string, limit = 10) => request("GET /api/users/search", { query: { q, limit } }),
  createUser: (body: BodyOf<"POST /api/users">) => request("POST /api/users", { body }),
  updateUser: (id: string, body: BodyOf<"PATCH /api/users/{id}">) =>
    request("PATCH /api/users/{id}", { params: { id }, body }),
  resetMfa: (id: string, masterPassword: boolean) =>
    request("POST /api/users/{id}/reset-mfa", { params: { id }, body: { masterPassword } }),
  grants: () => request("GET /api/grants", {}),
  createGrant: (body: BodyOf<"POST /api/grants">) => request("POST /api/grants", { body }),
  deleteGrant: (id: string) => request("DELETE /api/grants/{id}", { params: { id } }),
  servers: () => request("GET /api/servers", {}),
  repinServer: (id: string, hostKey: string) =>
    request("PUT /api/servers/{id}/host-key", { params: { id }, body: { hostKey } }),
  replaceSecret: (id: string, sealed: string) =>
    request("PUT /api/credentials/{id}/secret", { params: { id }, body: { sealed } }),
  setServerEnabled: (id: string, enabled: boolean) =>
    request("PATCH /api/servers/{id}", { params: { id }, body: { enabled } }),
  updateServer: (id: string, change: { name?: string; host?: string; port?: number; tags?: string[] }) =>
    request("PATCH /api/servers/{id}", { params: { id }, body: change }),
  deleteServer: (id: string) => request("DELETE /api/servers/{id}", { params: { id } }),
  probeHostKey: (id: string) => request("POST /api/servers/{id}/host-key/probe", { params: { id } }),
  renameCredential: (id: string, name: string) =>
    request("PATCH /api/credentials/{id}", { params: { id }, body: { name } }),
  deleteCredential: (id: string) => request("DELETE /api/credentials/{id}", { params: { id } }),
  setCredentialEnabled: (id: string, enabled: boolean) =>
    request("PATCH /api/credentials/{id}", { params: { id }, body: { enabled } }),
  /** "Rotate now" or "Verify": a job for the credential's site connector (protocol/rotation.ts). */
  rotationJob: (id: string, op: "rotate" | "verify") => request(`POST /api/credentials/{id}/${op}`, { params: { id } }),
  rotation: (id: string) => request("GET /api/credentials/{id}/rotation", { params: { id } }),
  setRotation: (id: string, body: BodyOf<"PUT /api/credentials/{id}/rotation">) =>
    request("PUT /api/credentials/{id}/rotation", { params: { id }, body }),
  createServer: (body: BodyOf<"POST /api/servers">) => request("POST /api/servers", { body }),
  importServers: (body: BodyOf<"POST /api/servers/import">) => request("POST /api/servers/import", { body }),
  createCredential: (body: BodyOf<"POST /api/credentials">) => request("POST /api/credentials", { body }),
  /** Running and starting sessions (admins, zone admins for their zones, auditors read-only). */
  liveSessions: () => request("GET /api/sessions/live", {}),
  /** Live moderated sessions the signed-in user may moderate (docs/governance.md). */
  moderation: () => request("GET /api/moderation", {}),
  /** Held commands the signed-in user may allow or refuse (command review, docs/governance.md). */
  commandReviews: () => request("GET /api/command-reviews", {}),
  decideCommandReview: (sessionId: string, id: string, allow: boolean) =>
    request("POST /api/command-reviews/{sessionId}/{id}", { params: { sessionId, id }, body: { allow } }),
  /** Ends a session with a reason its user sees; 409 when it already ended. */
  killSession: (id: string, body: { reason: string; revokeCheckout: boolean; lockUser: boolean }) =>
    request("POST /api/sessions/{id}/kill", { params: { id }, body }),

  // ---- auditor ---------------------------------------------------------------------------
  audit: (filter: AuditFilter) => request("GET /api/audit", { query: filter }),
  /** Names for the audit filter's pickers (part of a name, any case). */
  auditNames: (kind: FilterNamesQuery["kind"], q: string) => request("GET /api/audit/names", { query: { kind, q } }),
  verifyAudit: () => request("GET /api/audit/verify", {}),
  /** The audit stream's sinks (admins): how far each is; an HEC token is never returned, only `tokenSet`. */
  auditSinks: () => request("GET /api/audit/sinks", {}),
  createAuditSink: (body: BodyOf<"POST /api/audit/sinks">) => request("POST /api/audit/sinks", { body }),
  /** A replace: an HEC token left out keeps the stored one. */
  updateAuditSink: (id: string, body: BodyOf<"PUT /api/audit/sinks/{id}">) =>
    request("PUT /api/audit/sinks/{id}", { params: { id }, body }),
  deleteAuditSink: (id: string) => request("DELETE /api/audit/sinks/{id}", { params: { id } }),
  /** The commands timeline: command lines run in sessions, newest first (auditors and admins). */
  commands: (filter: CommandsFilter) => request("GET /api/commands", { query: filter }),

  // ---- recordings (auditors, admins of the zone, the session's user where the zone allows) ----
  recordings: (filter: { user?: string; server?: string; zone?: string; from?: number; to?: number }) =>
    request("GET /api/recordings", { query: filter }),
  /** Names for the recordings filter's pickers: only from recordings the caller may see. */
  recordingNames: (kind: FilterNamesQuery["kind"], q: string) =>
    request("GET /api/recordings/names", { query: { kind, q } }),
  recording: (id: string) => request("GET /api/recordings/{id}", { params: { id } }),
  verifyRecording: (id: string) => request("POST /api/recordings/{id}/verify", { params: { id } }),
  /** The .cast text (asciicast v2). */
  recordingCast: async (id: string): Promise<string> => {
    const res = await fetch(recordingCastUrl(id), { credentials: "same-origin" });
    if (!res.ok) {
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, codeFor(res.status, await res.json().catch(() => undefined)));
    }
    return res.text();
  },
};

export const recordingCastUrl = (id: string) => routeUrl("GET /api/recordings/{id}/cast", { params: { id } });
export const recordingManifestUrl = (id: string) => routeUrl("GET /api/recordings/{id}/manifest", { params: { id } });

/** The NDJSON export of what this filter selects (the whole log without one): a plain link, so the browser streams it to a file. */
export const auditExportUrl = (filter: Omit<AuditFilter, "before" | "limit">) =>
  routeUrl("GET /api/audit/export", { query: filter });
