// Typed calls to the edge's HTTP API (same origin, cookie auth). Every response is checked against protocol/.
import { z } from "zod";
import { masterPasswordVerifier } from "../../protocol/master-password.ts";
import {
  CommandReviewList,
  AccessGrant,
  ApiErrorBody,
  AuditSink,
  type AuditSinkInput,
  ApprovalItem,
  HostKeyProbeResult,
  type AuditQuery,
  AuditListEntry,
  CommandsPage,
  type CommandsQuery,
  FilterName,
  type FilterNamesQuery,
  AuditVerifyResult,
  Created,
  DuoFinished,
  DuoSettings,
  type DuoSettingsUpdate,
  MailRelaySettings,
  type MailRelayUpdate,
  NotifyPreferences,
  type NotifyPreferencesUpdate,
  type KeyboardLayout,
  KeyboardLayoutSetting,
  OutboxRow,
  DuoStarted,
  SessionCreated,
  CartResult,
  CatalogEntry,
  CheckoutSummary,
  ConnectorInfo,
  DiscoveredServer,
  DiscoveryLifecycleSettings,
  EnrollmentToken,
  ErrorCode,
  Group,
  ImportServersResponse,
  IntegrityReport,
  InvitationAccepted,
  InvitationToMe,
  type InviteRequest,
  RecordingSummary,
  LiveSession,
  ModerationSession,
  LoginResult,
  Me,
  MfaStatus,
  OidcConfig,
  PushPending,
  PushStarted,
  PushState,
  RecoveryCodes,
  SocketTicket,
  StepUpDecision,
  TotpEnrolment,
  WebAuthnOptions,
  Policy,
  AdminServer,
  CredentialRotationInfo,
  type CredentialRotationSettings,
  SessionSummary,
  SessionInvitation,
  SessionSharing,
  type ExtensionRequest,
  ExtensionResult,
  PendingExtension,
  KillResult,
  SealKeyInfo,
  Site,
  UserMatch,
  UserSummary,
  Zone,
  type CreateAccessGrantRequest,
  type CreateCredentialRequest,
  type CreatePolicyRequest,
  type CreateServerRequest,
  type CreateSessionRequest,
  type CreateUserRequest,
  type CreateZoneRequest,
  type ImportServersRequest,
  type LoginRequest,
  type SubmitCartRequest,
  type UpdatePolicyRequest,
  type UpdateUserRequest,
  type UpdateZoneRequest,
  ZoneAllowedPolicies,
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

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

async function call<S extends z.ZodType>(
  method: Method,
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

/** `?a=1&b=2` from the defined, non-empty values; "" when there are none. */
function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const at = (path: string, id: string, rest = "") => `${path}/${encodeURIComponent(id)}${rest}`;

const Anything = z.unknown();

type Body<T extends z.ZodType> = z.input<T>;
export type AuditFilter = Partial<Omit<AuditQuery, "limit">> & { limit?: number };
export type CommandsFilter = Partial<Omit<CommandsQuery, "limit">> & { limit?: number };

export const api = {
  login: (body: Body<typeof LoginRequest>) => call("POST", "/api/login", LoginResult, body, false),
  logout: () => call("POST", "/api/logout", Anything, {}, false),
  /** Resolves to null when nobody is signed in. */
  me: () =>
    call("GET", "/api/me", Me, undefined, false).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 401) return null;
      throw error;
    }),

  // ---- second factors and the account (no redirect on 401: the sign-in page handles it) ----
  oidcConfig: () => call("GET", "/api/oidc/config", OidcConfig, undefined, false),
  mfaStatus: () => call("GET", "/api/mfa", MfaStatus),
  totpEnrol: () => call("POST", "/api/mfa/totp/enrol", TotpEnrolment, {}),
  totpConfirm: (code: string) => call("POST", "/api/mfa/totp/confirm", RecoveryCodes, { code }),
  totpRemove: () => call("DELETE", "/api/mfa/totp", Anything),
  totpVerify: (code: string) => call("POST", "/api/mfa/totp/verify", Anything, { code }, false),
  recovery: (code: string) => call("POST", "/api/mfa/recovery", Anything, { code }, false),
  regenerateRecovery: () => call("POST", "/api/mfa/recovery/regenerate", RecoveryCodes, {}),
  keyRegisterOptions: () => call("POST", "/api/mfa/webauthn/register/options", WebAuthnOptions, {}),
  keyRegister: (name: string, response: unknown) =>
    call("POST", "/api/mfa/webauthn/register", Anything, { name, response }),
  keyAuthOptions: () => call("POST", "/api/mfa/webauthn/authenticate/options", WebAuthnOptions, {}, false),
  keyAuthenticate: (response: unknown) => call("POST", "/api/mfa/webauthn/authenticate", Anything, { response }, false),
  keyRemove: (id: string) => call("DELETE", at("/api/mfa/webauthn", id), Anything),
  changePassword: (current: string, next: string) => call("POST", "/api/me/password", Anything, { current, next }),
  /** Only the password's PBKDF2 verifier leaves the browser (protocol/master-password.ts). */
  setMasterPassword: async (password: string) =>
    call("POST", "/api/me/master-password", Anything, { verifier: await masterPasswordVerifier(password) }),
  pushStart: () => call("POST", "/api/mfa/push", PushStarted, {}, false),
  /** Duo's prompt: where to go (or, failing open while Duo is down, done); returnTo is the page to come back to. */
  duoStart: (returnTo?: string) => call("POST", "/api/mfa/duo/start", DuoStarted, returnTo ? { returnTo } : {}, false),
  duoFinish: (state: string, code: string) => call("POST", "/api/mfa/duo/finish", DuoFinished, { state, code }, false),
  duoSettings: () => call("GET", "/api/admin/duo", DuoSettings),
  saveDuoSettings: (body: DuoSettingsUpdate) => call("PUT", "/api/admin/duo", DuoSettings, body),
  mailRelay: () => call("GET", "/api/admin/mail-relay", MailRelaySettings),
  saveMailRelay: (body: Body<typeof MailRelayUpdate>) => call("PUT", "/api/admin/mail-relay", MailRelaySettings, body),
  outbox: (state: "failed" | "dead" | "all") =>
    call("GET", `/api/admin/notifications${query({ state })}`, z.array(OutboxRow)),
  retryNotification: (id: string) => call("POST", at("/api/admin/notifications", id, "/retry"), Anything, {}),
  notifyPreferences: () => call("GET", "/api/me/notifications", NotifyPreferences),
  saveNotifyPreferences: (body: Body<typeof NotifyPreferencesUpdate>) =>
    call("PUT", "/api/me/notifications", NotifyPreferences, body),
  keyboardLayout: () => call("GET", "/api/me/keyboard-layout", KeyboardLayoutSetting),
  saveKeyboardLayout: (keyboardLayout: KeyboardLayout) =>
    call("PUT", "/api/me/keyboard-layout", KeyboardLayoutSetting, { keyboardLayout }),
  pushState: (id: string) => call("POST", at("/api/mfa/push", id, "/complete"), PushState, {}, false),
  pushPending: () => call("GET", "/api/mfa/push/pending", z.array(PushPending)),
  pushAnswer: (id: string, number: number) => call("POST", at("/api/mfa/push", id, "/approve"), PushState, { number }),
  pushDeny: (id: string) => call("POST", at("/api/mfa/push", id, "/deny"), PushState, {}),
  stepUp: (checkoutId: string) => call("GET", at("/api/checkouts", checkoutId, "/step-up"), StepUpDecision),
  socketTicket: (sessionId: string, socket: "ws" | "watch" | "join") =>
    call("POST", at("/api/sessions", sessionId, "/ticket"), SocketTicket, { socket }),

  // ---- requester -------------------------------------------------------------------------
  catalog: (filter: { q?: string; zoneId?: string; tag?: string } = {}) =>
    call("GET", `/api/catalog${query(filter)}`, z.array(CatalogEntry)),
  submitCart: (body: Body<typeof SubmitCartRequest>) => call("POST", "/api/checkouts", CartResult, body),
  checkouts: () => call("GET", "/api/checkouts", z.array(CheckoutSummary)),
  withdraw: (id: string) => call("POST", at("/api/checkouts", id, "/withdraw"), CheckoutSummary, {}),
  checkIn: (id: string) => call("POST", at("/api/checkouts", id, "/check-in"), CheckoutSummary, {}),
  createSession: (body: Body<typeof CreateSessionRequest>) => call("POST", "/api/sessions", SessionCreated, body),
  session: (id: string) => call("GET", at("/api/sessions", id), SessionSummary),
  extendSession: (id: string, body: Body<typeof ExtensionRequest>) =>
    call("POST", at("/api/sessions", id, "/extensions"), ExtensionResult, body),

  // ---- shared sessions (docs/governance.md): the session's user invites; the invitee joins -----------------------
  sessionSharing: (sessionId: string) => call("GET", at("/api/sessions", sessionId, "/invitations"), SessionSharing),
  invite: (sessionId: string, body: Body<typeof InviteRequest>) =>
    call("POST", at("/api/sessions", sessionId, "/invitations"), SessionInvitation, body),
  /** Takes an invitation back: a person who joined is disconnected. */
  takeBackInvitation: (sessionId: string, invitationId: string) =>
    call(
      "DELETE",
      `${at("/api/sessions", sessionId, "/invitations")}/${encodeURIComponent(invitationId)}`,
      z.object({ revoked: z.literal(true) }),
    ),
  invitations: () => call("GET", "/api/invitations", z.array(InvitationToMe)),
  invitationStepUp: (id: string) => call("GET", at("/api/invitations", id, "/step-up"), StepUpDecision),
  acceptInvitation: (id: string) => call("POST", at("/api/invitations", id, "/accept"), InvitationAccepted, {}),

  // ---- approver --------------------------------------------------------------------------
  approvals: () => call("GET", "/api/approvals", z.array(ApprovalItem)),
  decide: (id: string, verdict: "approve" | "deny", comment: string) =>
    call("POST", at("/api/checkouts", id, `/${verdict}`), CheckoutSummary, { comment }),
  pendingExtensions: () => call("GET", "/api/extensions", z.array(PendingExtension)),
  decideExtension: (id: string, approve: boolean, comment: string) =>
    call("POST", at("/api/extensions", id, "/decision"), ExtensionResult, { approve, comment }),
  adminCheckouts: (filter: { state: string; q: string; id?: string }) =>
    call("GET", `/api/admin/checkouts${query(filter)}`, z.array(CheckoutSummary)),
  revoke: (id: string, reason: string) =>
    call("POST", at("/api/checkouts", id, "/revoke"), CheckoutSummary, { reason }),

  // ---- admin and zone admin --------------------------------------------------------------
  sites: () => call("GET", "/api/sites", z.array(Site)),
  createSite: (name: string) => call("POST", "/api/sites", Site, { name }),
  createEnrollmentToken: (siteId: string) =>
    call("POST", at("/api/sites", siteId, "/enrollment-tokens"), EnrollmentToken, {}),
  sealKey: (siteId: string) => call("GET", at("/api/sites", siteId, "/seal-key"), SealKeyInfo),
  rotateSealKey: (siteId: string) =>
    call("POST", at("/api/sites", siteId, "/seal-key/rotate"), z.object({ rotationId: z.string() }), {}),
  siteConnectors: (siteId: string) => call("GET", at("/api/sites", siteId, "/connectors"), z.array(ConnectorInfo)),
  rotateConnectorKey: (siteId: string, connectorId: string) =>
    call(
      "POST",
      `${at("/api/sites", siteId, "/connectors")}/${encodeURIComponent(connectorId)}/rotate-key`,
      Anything,
      {},
    ),
  revokeConnector: (siteId: string, connectorId: string) =>
    call("POST", `${at("/api/sites", siteId, "/connectors")}/${encodeURIComponent(connectorId)}/revoke`, Anything, {}),
  discovered: (siteId: string) => call("GET", at("/api/sites", siteId, "/discovered"), z.array(DiscoveredServer)),
  enableDiscovered: (id: string, body: { zoneId: string; name?: string; protocol: "ssh" | "rdp"; hostKey: string }) =>
    call("POST", at("/api/discovered", id, "/enable"), DiscoveredServer, body),
  discoveryLifecycle: (siteId: string) =>
    call("GET", at("/api/sites", siteId, "/discovery-lifecycle"), DiscoveryLifecycleSettings),
  setDiscoveryLifecycle: (siteId: string, body: DiscoveryLifecycleSettings) =>
    call("PUT", at("/api/sites", siteId, "/discovery-lifecycle"), DiscoveryLifecycleSettings, body),
  zones: () => call("GET", "/api/zones", z.array(Zone)),
  createZone: (body: Body<typeof CreateZoneRequest>) => call("POST", "/api/zones", Zone, body),
  updateZone: (id: string, body: Body<typeof UpdateZoneRequest>) => call("PATCH", at("/api/zones", id), Zone, body),
  allowedPolicies: (zoneId: string) => call("GET", at("/api/zones", zoneId, "/allowed-policies"), ZoneAllowedPolicies),
  setAllowedPolicies: (zoneId: string, policyIds: string[]) =>
    call("PUT", at("/api/zones", zoneId, "/allowed-policies"), ZoneAllowedPolicies, { policyIds }),
  policies: () => call("GET", "/api/policies", z.array(Policy)),
  createPolicy: (body: Body<typeof CreatePolicyRequest>) => call("POST", "/api/policies", Policy, body),
  updatePolicy: (id: string, body: Body<typeof UpdatePolicyRequest>) =>
    call("PATCH", at("/api/policies", id), Policy, body),
  groups: () => call("GET", "/api/groups", z.array(Group)),
  createGroup: (name: string) => call("POST", "/api/groups", Group, { name }),
  setGroupMembers: (id: string, userIds: string[]) =>
    call("PUT", at("/api/groups", id, "/members"), Group, { userIds }),
  users: () => call("GET", "/api/users", z.array(UserSummary)),
  /** Users whose username or email contains `q` (any case), at most `limit`. */
  searchUsers: (q: string, limit = 10) => call("GET", `/api/users/search${query({ q, limit })}`, z.array(UserMatch)),
  createUser: (body: Body<typeof CreateUserRequest>) => call("POST", "/api/users", Anything, body),
  updateUser: (id: string, body: Body<typeof UpdateUserRequest>) =>
    call("PATCH", at("/api/users", id), UserSummary, body),
  resetMfa: (id: string, masterPassword: boolean) =>
    call("POST", at("/api/users", id, "/reset-mfa"), Anything, { masterPassword }),
  grants: () => call("GET", "/api/grants", z.array(AccessGrant)),
  createGrant: (body: Body<typeof CreateAccessGrantRequest>) => call("POST", "/api/grants", AccessGrant, body),
  deleteGrant: (id: string) => call("DELETE", at("/api/grants", id), Anything),
  servers: () => call("GET", "/api/servers", z.array(AdminServer)),
  repinServer: (id: string, hostKey: string) => call("PUT", at("/api/servers", id, "/host-key"), Anything, { hostKey }),
  replaceSecret: (id: string, sealed: string) =>
    call("PUT", at("/api/credentials", id, "/secret"), Anything, { sealed }),
  setServerEnabled: (id: string, enabled: boolean) => call("PATCH", at("/api/servers", id), Anything, { enabled }),
  updateServer: (id: string, change: { name?: string; host?: string; port?: number; tags?: string[] }) =>
    call("PATCH", at("/api/servers", id), Anything, change),
  deleteServer: (id: string) => call("DELETE", at("/api/servers", id), Anything),
  probeHostKey: (id: string) => call("POST", at("/api/servers", id, "/host-key/probe"), HostKeyProbeResult),
  renameCredential: (id: string, name: string) => call("PATCH", at("/api/credentials", id), Anything, { name }),
  deleteCredential: (id: string) => call("DELETE", at("/api/credentials", id), Anything),
  setCredentialEnabled: (id: string, enabled: boolean) =>
    call("PATCH", at("/api/credentials", id), Anything, { enabled }),
  /** "Rotate now" or "Verify": a job for the credential's site connector (protocol/rotation.ts). */
  rotationJob: (id: string, op: "rotate" | "verify") =>
    call("POST", at("/api/credentials", id, `/${op}`), Anything, {}),
  rotation: (id: string) => call("GET", at("/api/credentials", id, "/rotation"), CredentialRotationInfo),
  setRotation: (id: string, body: Body<typeof CredentialRotationSettings>) =>
    call("PUT", at("/api/credentials", id, "/rotation"), Anything, body),
  createServer: (body: Body<typeof CreateServerRequest>) => call("POST", "/api/servers", Created, body),
  importServers: (body: Body<typeof ImportServersRequest>) =>
    call("POST", "/api/servers/import", ImportServersResponse, body),
  createCredential: (body: Body<typeof CreateCredentialRequest>) => call("POST", "/api/credentials", Created, body),
  /** Running and starting sessions (admins, zone admins for their zones, auditors read-only). */
  liveSessions: () => call("GET", "/api/sessions/live", z.array(LiveSession)),
  /** Live moderated sessions the signed-in user may moderate (docs/governance.md). */
  moderation: () => call("GET", "/api/moderation", z.array(ModerationSession)),
  /** Held commands the signed-in user may allow or refuse (command review, docs/governance.md). */
  commandReviews: () => call("GET", "/api/command-reviews", CommandReviewList),
  decideCommandReview: (sessionId: string, id: string, allow: boolean) =>
    call("POST", at("/api/command-reviews", sessionId, `/${encodeURIComponent(id)}`), Anything, { allow }),
  /** Ends a session with a reason its user sees; 409 when it already ended. */
  killSession: (id: string, body: { reason: string; revokeCheckout: boolean; lockUser: boolean }) =>
    call("POST", at("/api/sessions", id, "/kill"), KillResult, body),

  // ---- auditor ---------------------------------------------------------------------------
  audit: (filter: AuditFilter) => call("GET", `/api/audit${query(filter)}`, z.array(AuditListEntry)),
  /** Names for the audit filter's pickers (part of a name, any case). */
  auditNames: (kind: FilterNamesQuery["kind"], q: string) =>
    call("GET", `/api/audit/names${query({ kind, q })}`, z.array(FilterName)),
  verifyAudit: () => call("GET", "/api/audit/verify", AuditVerifyResult),
  /** The audit stream's sinks (admins): how far each is; an HEC token is never returned, only `tokenSet`. */
  auditSinks: () => call("GET", "/api/audit/sinks", z.array(AuditSink)),
  createAuditSink: (body: AuditSinkInput) => call("POST", "/api/audit/sinks", AuditSink, body),
  /** A replace: an HEC token left out keeps the stored one. */
  updateAuditSink: (id: string, body: AuditSinkInput) => call("PUT", at("/api/audit/sinks", id), AuditSink, body),
  deleteAuditSink: (id: string) => call("DELETE", at("/api/audit/sinks", id), Anything),
  /** The commands timeline: command lines run in sessions, newest first (auditors and admins). */
  commands: (filter: CommandsFilter) => call("GET", `/api/commands${query(filter)}`, CommandsPage),

  // ---- recordings (auditors, admins of the zone, the session's user where the zone allows) ----
  recordings: (filter: { user?: string; server?: string; zone?: string; from?: number; to?: number }) =>
    call("GET", `/api/recordings${query(filter)}`, z.array(RecordingSummary)),
  /** Names for the recordings filter's pickers: only from recordings the caller may see. */
  recordingNames: (kind: FilterNamesQuery["kind"], q: string) =>
    call("GET", `/api/recordings/names${query({ kind, q })}`, z.array(FilterName)),
  recording: (id: string) => call("GET", at("/api/recordings", id), RecordingSummary),
  verifyRecording: (id: string) => call("POST", at("/api/recordings", id, "/verify"), IntegrityReport, {}),
  /** The .cast text (asciicast v2). */
  recordingCast: async (id: string): Promise<string> => {
    const res = await fetch(at("/api/recordings", id, "/cast"), { credentials: "same-origin" });
    if (!res.ok) {
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, codeFor(res.status, await res.json().catch(() => undefined)));
    }
    return res.text();
  },
};

export const recordingCastUrl = (id: string) => at("/api/recordings", id, "/cast");
export const recordingManifestUrl = (id: string) => at("/api/recordings", id, "/manifest");

/** The NDJSON export: a plain link, so the browser streams it to a file. */
export const AUDIT_EXPORT_URL = "/api/audit/export";
/** The export of what this filter selects (the whole log without one). */
export const auditExportUrl = (filter: Omit<AuditFilter, "before" | "limit">) => `${AUDIT_EXPORT_URL}${query(filter)}`;
