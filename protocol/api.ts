// HTTP request and response bodies of the edge API. The web app and the connector use these
// types; the Worker validates every body against them where it arrives.
import { z } from "zod";
import { RotationError, RotationState } from "./rotation.ts";
import { CredentialKind, HostKeyFingerprint, SealedSecret } from "./tokens.ts";
import { MAX_COLS, MAX_ROWS } from "./limits.ts";
import { type PolicyLimits, policyProblems } from "./policy-rules.ts";
import { CommandRules } from "./command-rules.ts";
import { DEFAULT_FILE_TRANSFER_POLICY, FileTransferPolicy } from "./file-transfer.ts";
import type { ErrorCode } from "./messages.ts";

const name = z.string().trim().min(1).max(128);
const username = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/);
const password = z.string().min(1).max(1024);

export const Role = z.enum(["requester", "approver", "auditor", "admin", "zone_admin"]);
export type Role = z.infer<typeof Role>;

export const LoginRequest = z.strictObject({ username, password });
export const BootstrapRequest = z.strictObject({
  token: z.string().min(16).max(256),
  username,
  password: z.string().min(12).max(1024),
});
export const CreateUserRequest = z.strictObject({
  username,
  password: z.string().min(12).max(1024),
  roles: z.array(Role).min(1),
});

export const Me = z.object({ id: z.string(), username: z.string(), roles: z.array(Role) });
export type Me = z.infer<typeof Me>;
/** POST /api/bootstrap's answer: the first admin it created. */
export const FirstAdmin = Me.pick({ id: true, username: true });

export const CreateSiteRequest = z.strictObject({ name });
export const Site = z.object({
  id: z.string(),
  name: z.string(),
  sealKey: z.record(z.string(), z.unknown()).nullable(),
});
export type Site = z.infer<typeof Site>;

export const EnrollmentToken = z.object({ token: z.string(), siteId: z.string(), expiresAt: z.number() });
export type EnrollmentToken = z.infer<typeof EnrollmentToken>;

/** Public JWKs only: the connector's Ed25519 identity key and, for a site's first connector, its P-256 seal key. */
const PublicJwk = z.record(z.string(), z.unknown()).refine((jwk) => !("d" in jwk), "private key material");

export const EnrollRequest = z.strictObject({
  token: z.string().min(16).max(256),
  name: name,
  identityKey: PublicJwk,
  sealKey: PublicJwk.optional(),
});
export const EnrollResponse = z.object({
  connectorId: z.string(),
  siteId: z.string(),
  /** The edge's grant-signing public key, pinned by the connector. */
  edgeKey: z.record(z.string(), z.unknown()),
  /** The site's seal key, as the edge holds it. */
  sealKey: z.record(z.string(), z.unknown()),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

export const ServerProtocol = z.enum(["ssh", "rdp"]);
export type ServerProtocol = z.infer<typeof ServerProtocol>;

/** An admin re-pins a server's identity (host key or certificate) after a legitimate change. */
export const RepinServerRequest = z.strictObject({ hostKey: HostKeyFingerprint });
/**
 * POST /api/servers/:id/host-key/probe: the key the server presents now, read by one of its site's connectors as a
 * session would (resolved under the site's target policy). A proposal to compare, never pinned by this call.
 */
export const HostKeyProbeResult = z.union([
  z.object({
    ok: z.literal(true),
    fingerprint: HostKeyFingerprint,
    keyType: z.string(),
    /** The connector that read it, by name. */
    connector: z.string(),
    /** Whether it is the key pinned now. */
    matchesPinned: z.boolean(),
  }),
  z.object({ ok: z.literal(false), error: z.enum(["refused", "unreachable", "offline"]) }),
]);
export type HostKeyProbeResult = z.infer<typeof HostKeyProbeResult>;

/** Turns a server or a credential off (nothing can be checked out or opened on it; what is open ends) or back on. */
export const SetEnabledRequest = z.strictObject({ enabled: z.boolean() });
/** A vaulted credential's new secret, sealed in the admin's browser to the site's current key. */
export const ReplaceSecretRequest = z.strictObject({ sealed: SealedSecret });
export type SetEnabledRequest = z.infer<typeof SetEnabledRequest>;

const serverName = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/);
const serverHost = z.string().trim().min(1).max(253);
const serverPort = z.number().int().min(1).max(65535);
const serverTags = z.array(z.string().max(32)).max(16);
export const CreateServerRequest = z.strictObject({
  name: serverName,
  host: serverHost,
  port: serverPort.default(22),
  protocol: ServerProtocol.default("ssh"),
  zoneId: z.string(),
  /** SSH: the host key fingerprint. RDP: the certificate fingerprint (`SHA256:` + base64 of the DER's SHA-256). */
  hostKey: HostKeyFingerprint,
  tags: serverTags.default([]),
});
/** Admin › Servers › Edit, and the on/off switch: any of these; a changed host or port keeps the pinned key. */
export const UpdateServerRequest = z
  .strictObject({
    // No defaults here: a field left out stays as it is.
    name: serverName.optional(),
    host: serverHost.optional(),
    port: serverPort.optional(),
    tags: serverTags.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((u) => Object.keys(u).length > 0, "nothing to change");
export type UpdateServerRequest = z.infer<typeof UpdateServerRequest>;

/** Admin › Credentials: rename, or turn on and off (the account and its secret change only through rotation). */
export const UpdateCredentialRequest = z
  .strictObject({ name: name.optional(), enabled: z.boolean().optional() })
  .refine((u) => Object.keys(u).length > 0, "nothing to change");
export type UpdateCredentialRequest = z.infer<typeof UpdateCredentialRequest>;
export const CreateCredentialRequest = z
  .strictObject({
    name,
    username: z.string().min(1).max(256),
    kind: CredentialKind,
    zoneId: z.string(),
    /** Sealed to the key of the zone's site, in the admin's browser or by the connector CLI. */
    sealed: SealedSecret.optional(),
    /** Instead of a sealed secret: EmpowerID's reference; the site's connector asks EmpowerID to release it. */
    externalRef: z.string().min(1).max(256).optional(),
    serverIds: z.array(z.string()).min(1),
    /** Windows domain for RDP (empty: a local account). */
    domain: z.string().trim().max(255).default(""),
    /** Overrides the zone's policy for this credential. */
    policyId: z.string().nullable().default(null),
  })
  .refine((c) => (c.sealed === undefined) !== (c.externalRef === undefined), "give either sealed or externalRef");

export const CredentialSummary = z.object({
  id: z.string(),
  name: z.string(),
  username: z.string(),
  kind: CredentialKind,
});
export const ServerSummary = z.object({
  id: z.string(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  protocol: ServerProtocol,
  siteId: z.string(),
  zoneId: z.string(),
  zoneName: z.string(),
  tags: z.array(z.string()),
  source: z.string(),
  credentials: z.array(CredentialSummary),
});
export type ServerSummary = z.infer<typeof ServerSummary>;

/** A server as admins list it: with whether it and each credential are on (PATCH /api/servers/:id, /api/credentials/:id). */
export const AdminServer = ServerSummary.extend({
  enabled: z.boolean(),
  /** The pinned host key (SSH) or certificate (RDP) fingerprint. */
  hostKey: z.string(),
  credentials: z.array(
    CredentialSummary.extend({
      enabled: z.boolean(),
      /** Vaulted here (false: EmpowerID holds it and rotates it). */
      vaulted: z.boolean(),
      /** Its rotation state (protocol/rotation.ts); only ok and out_of_sync are handed out. */
      rotation: RotationState,
      rotationError: RotationError.nullable(),
      rotatedAt: z.number().int().nullable(),
      verifiedAt: z.number().int().nullable(),
    }),
  ),
});
export type AdminServer = z.infer<typeof AdminServer>;

/** What a policy tells a requester before they ask. */
export const PolicyHint = z.object({
  approvalRequired: z.boolean(),
  quorum: z.number(),
  maxCheckoutMinutes: z.number(),
  maxSessionMinutes: z.number(),
  exclusive: z.boolean(),
  recordingRequired: z.boolean(),
  /** Sessions are recorded (best effort unless required); false: the policy turned recording off. */
  recordingEnabled: z.boolean(),
  /** Connecting asks for a second factor (the policy says so, or the zone is high-sensitivity). Risk may add one. */
  mfaAtConnect: z.boolean(),
  /** Connecting asks for the master password. */
  masterPasswordAtConnect: z.boolean(),
});
export const CatalogCredential = CredentialSummary.extend({ policy: PolicyHint });
export const CatalogEntry = ServerSummary.omit({ credentials: true }).extend({
  credentials: z.array(CatalogCredential),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;
export const CatalogQuery = z.object({
  q: z.string().max(128).optional(),
  zoneId: z.string().optional(),
  tag: z.string().max(32).optional(),
});

/** Admin › Checkouts: everyone's checkouts in the admin's zones, filtered. */
export const AdminCheckoutQuery = z.object({
  /** open: approved or active; pending: waiting for approval; ended: anything over. */
  state: z.enum(["open", "pending", "ended", "all"]).default("open"),
  /** Part of the requester's username, the server's name or the account's. */
  q: z.string().trim().max(128).default(""),
  /** One checkout (the audit log links to it). */
  id: z.string().max(64).optional(),
});

// ---- access model administration --------------------------------------------------------

/** How carefully connects to a zone are stepped up (docs/auth.md): high asks for a fresh second factor. */
export const ZoneSensitivity = z.enum(["low", "normal", "high"]);
export const Zone = z.object({
  id: z.string(),
  name: z.string(),
  siteId: z.string(),
  description: z.string(),
  policyId: z.string().nullable(),
  sensitivity: ZoneSensitivity.default("normal"),
});
export type Zone = z.infer<typeof Zone>;
export const CreateZoneRequest = z.strictObject({
  name,
  siteId: z.string(),
  description: z.string().max(1024).default(""),
  policyId: z.string().nullable().default(null),
  sensitivity: ZoneSensitivity.default("normal"),
});
export const UpdateZoneRequest = z.strictObject({
  description: z.string().max(1024).optional(),
  policyId: z.string().nullable().optional(),
  sensitivity: ZoneSensitivity.optional(),
});
/**
 * The policies a zone admin may attach to the zone's credentials (set by global admins). `weaker` names, for
 * each listed policy weaker than the zone's own, the controls it drops (such a policy still cannot be attached).
 */
export const ZoneAllowedPolicies = z.object({
  policyIds: z.array(z.string()),
  weaker: z.record(z.string(), z.array(z.string())),
});
export type ZoneAllowedPolicies = z.infer<typeof ZoneAllowedPolicies>;
export const SetZoneAllowedPoliciesRequest = z.strictObject({ policyIds: z.array(z.string().max(64)).max(200) });

const minutes = (max: number) => z.number().int().min(1).max(max);
export const PolicyFields = z.object({
  name,
  maxCheckoutMinutes: minutes(30 * 24 * 60).default(480),
  maxSessionMinutes: minutes(7 * 24 * 60).default(240),
  approvalRequired: z.boolean().default(false),
  approverGroupId: z.string().nullable().default(null),
  quorum: z.number().int().min(1).max(20).default(1),
  pendingTtlMinutes: minutes(30 * 24 * 60).default(1440),
  /** Off: sessions are not recorded at all (the audit log still has them). Required implies recorded. */
  recordingEnabled: z.boolean().default(true),
  recordingRequired: z.boolean().default(false),
  recordKeystrokes: z.boolean().default(false),
  liveViewAllowed: z.boolean().default(true),
  notifyWatched: z.boolean().default(true),
  /**
   * Moderated sessions (docs/governance.md): this many people of `moderatorGroupId` must watch live before
   * anything typed reaches the target; 0: not moderated. Moderators are never the requester (by person).
   */
  moderatorsRequired: z.number().int().min(0).max(5).default(0),
  moderatorGroupId: z.string().nullable().default(null),
  /**
   * Shared sessions (docs/governance.md): the session's user may invite another person to join with input, who must
   * be entitled to the same credential or be in `helperGroupId`. Off unless turned on.
   */
  sessionSharing: z.boolean().default(false),
  helperGroupId: z.string().nullable().default(null),
  masterPasswordRequired: z.boolean().default(false),
  mfaRequired: z.boolean().default(false),
  idleTimeoutMinutes: minutes(24 * 60)
    .nullable()
    .default(null),
  exclusive: z.boolean().default(false),
  resetOnCheckin: z.boolean().default(false),
  /** RDP: refuse targets that do not offer NLA. */
  rdpRequireNla: z.boolean().default(false),
  /** RDP: refuse the session on a connector that cannot run the RDP bridge in its sandbox (docs/connector.md). */
  rdpRequireSandbox: z.boolean().default(false),
  /** RDP clipboard, each direction apart: copy = desktop to browser, paste = browser to desktop. */
  rdpClipboardCopy: z.boolean().default(false),
  rdpClipboardPaste: z.boolean().default(false),
  /** RDP clipboard size cap per transfer, in bytes (decoded text). */
  rdpClipboardMaxBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024)
    .default(64 * 1024),
  /**
   * Command control for SSH shells (protocol/command-rules.ts, docs/governance.md): checked in order, the first
   * match decides. A `review` rule needs reviewers: the approver group or the moderator group.
   */
  commandRules: CommandRules.default([]),
  /**
   * File transfer over SFTP on SSH sessions (protocol/file-transfer.ts, docs/governance.md): each direction, the size
   * limit and the allowed and denied roots. Off unless turned on.
   */
  fileTransfer: FileTransferPolicy.default(DEFAULT_FILE_TRANSFER_POLICY),
  /** The most one extension adds to a live session; null: no extensions. */
  extensionMinutes: minutes(24 * 60)
    .nullable()
    .default(60),
  maxExtensions: z.number().int().min(0).max(20).default(2),
  extensionApprovalRequired: z.boolean().default(false),
  /** A session whose browser stays away this long ends as `disconnected`; null: it waits for the browser. */
  disconnectGraceMinutes: minutes(24 * 60)
    .nullable()
    .default(null),
});
/** The cross-field rules (protocol/policy-rules.ts), as issues the API answers with `policy_inconsistent`. */
function refuseContradictions(p: Partial<PolicyLimits>, ctx: z.RefinementCtx): void {
  for (const problem of policyProblems(p))
    ctx.addIssue({
      code: "custom",
      path: [problem.field],
      message: problem.message,
      params: { apiCode: "policy_inconsistent", rule: problem.rule },
    });
}
export const CreatePolicyRequest = PolicyFields.strict().superRefine(refuseContradictions);
/**
 * A PATCH changes only the fields it names: each field is optional *without* its default (`.partial()` keeps the
 * defaults in zod 4, so a body naming one field came out with every other field reset). Checks the fields it
 * carries against each other; the route checks the merged policy too.
 */
type WithoutDefaults<T extends z.ZodRawShape> = {
  [K in keyof T]: z.ZodOptional<T[K] extends z.ZodDefault<infer I> ? I : T[K]>;
};
const policyPatchShape = Object.fromEntries(
  Object.entries(PolicyFields.shape).map(([key, schema]) => [
    key,
    (schema instanceof z.ZodDefault ? schema.unwrap() : schema).optional(),
  ]),
) as WithoutDefaults<typeof PolicyFields.shape>;
export const UpdatePolicyRequest = z.strictObject(policyPatchShape).superRefine(refuseContradictions);
export const Policy = PolicyFields.extend({ id: z.string() });
export type Policy = z.infer<typeof Policy>;

export const Group = z.object({
  id: z.string(),
  name: z.string(),
  members: z.array(z.object({ id: z.string(), username: z.string() })),
});
export type Group = z.infer<typeof Group>;
export const CreateGroupRequest = z.strictObject({ name });
export const SetGroupMembersRequest = z.strictObject({ userIds: z.array(z.string()).max(1000) });

export const UserSummary = z.object({
  id: z.string(),
  username: z.string(),
  roles: z.array(Role),
  email: z.string().nullable(),
  personId: z.string(),
  /** How personId was decided: by an admin, linked at SSO sign-in by IdP claim or verified email, or null (own person). */
  personSource: z.enum(["admin", "claim", "email"]).nullable().default(null),
  /** Created and kept by the identity provider through SCIM (/scim/v2): the IdP decides its name, status and groups. */
  provisioned: z.boolean().default(false),
  disabled: z.boolean(),
  zoneAdminOf: z.array(z.string()),
});
export type UserSummary = z.infer<typeof UserSummary>;
/** GET /api/users/search: part of a username or email, any case; at most `limit` matches, best first. */
export const UserSearchQuery = z.object({
  q: z.string().trim().min(1).max(64),
  limit: z.coerce.number().int().min(1).max(50).default(20),
});
export const UserMatch = UserSummary.pick({ id: true, username: true, email: true, roles: true, disabled: true });
export type UserMatch = z.infer<typeof UserMatch>;
export const UpdateUserRequest = z.strictObject({
  roles: z.array(Role).min(1).optional(),
  email: z.email().nullable().optional(),
  personId: z.string().max(64).nullable().optional(),
  disabled: z.boolean().optional(),
  zoneAdminOf: z.array(z.string()).optional(),
});

export const AccessGrant = z.object({
  id: z.string(),
  groupId: z.string(),
  zoneId: z.string(),
  serverId: z.string().nullable(),
  credentialId: z.string().nullable(),
});
export type AccessGrant = z.infer<typeof AccessGrant>;
export const CreateAccessGrantRequest = z.strictObject({
  groupId: z.string(),
  zoneId: z.string(),
  serverId: z.string().nullable().default(null),
  credentialId: z.string().nullable().default(null),
});

export const ImportServersRequest = z.strictObject({ zoneId: z.string(), csv: z.string().max(1024 * 1024) });
export const ImportServersResponse = z.object({
  created: z.number(),
  errors: z.array(z.object({ line: z.number(), error: z.string() })),
});

// ---- checkouts, cart and approvals ------------------------------------------------------

export const CheckoutStatus = z.enum([
  "pending_approval",
  "approved",
  "active",
  "denied",
  "withdrawn",
  "expired",
  "checked_in",
  "revoked",
]);
export type CheckoutStatus = z.infer<typeof CheckoutStatus>;

export const CartItem = z.strictObject({
  serverId: z.string(),
  credentialId: z.string(),
  /** Unix ms; default now. */
  startsAt: z.number().int().optional(),
  /** Unix ms; give this or `minutes`. */
  endsAt: z.number().int().optional(),
  minutes: minutes(30 * 24 * 60).optional(),
  justification: z.string().trim().min(3).max(1000),
});
export const SubmitCartRequest = z.strictObject({ items: z.array(CartItem).min(1).max(20) });

const DecisionView = z.object({ by: z.string(), at: z.number(), comment: z.string() });
export const CheckoutSummary = z.object({
  id: z.string(),
  cartId: z.string(),
  requester: z.object({ id: z.string(), username: z.string() }),
  serverId: z.string(),
  serverName: z.string(),
  credentialId: z.string(),
  credentialName: z.string(),
  accountUsername: z.string(),
  zoneName: z.string(),
  status: CheckoutStatus,
  justification: z.string(),
  requestedAt: z.number(),
  startsAt: z.number(),
  endsAt: z.number(),
  approvalRequired: z.boolean(),
  /** The group whose members decide (null: no approval, or the group was deleted). */
  approverGroup: z.string().nullable(),
  quorum: z.number(),
  approvals: z.array(DecisionView),
  denial: DecisionView.nullable(),
  endedAt: z.number().nullable(),
  revokeReason: z.string().nullable(),
});
export type CheckoutSummary = z.infer<typeof CheckoutSummary>;

/**
 * What an approver needs to decide (GET /api/approvals): the zone, what the policy will do to the session, and the
 * requester's recent record (over `HISTORY_DAYS`, by person: every account of theirs counts).
 */
export const APPROVAL_HISTORY_DAYS = 30;
export const ApprovalContext = z.object({
  zone: z.object({ name: z.string(), sensitivity: ZoneSensitivity, description: z.string() }),
  /** The policy snapshotted into the request: what approving it allows. */
  policy: z.object({
    name: z.string(),
    maxSessionMinutes: z.number(),
    recordingEnabled: z.boolean(),
    recordingRequired: z.boolean(),
    recordKeystrokes: z.boolean(),
    liveViewAllowed: z.boolean(),
    mfaRequired: z.boolean(),
    masterPasswordRequired: z.boolean(),
    exclusive: z.boolean(),
    resetOnCheckin: z.boolean(),
  }),
  requester: z.object({
    checkouts: z.number(),
    kills: z.number(),
    revocations: z.number(),
    denials: z.number(),
    /** The newest few, without this request. */
    recent: z.array(
      z.object({
        serverName: z.string(),
        status: z.string(),
        requestedAt: z.number(),
        /** Why it ended when it did not end plainly: the revoke reason, or "killed" for a killed session. */
        note: z.string().nullable(),
      }),
    ),
  }),
});
export type ApprovalContext = z.infer<typeof ApprovalContext>;
export const ApprovalItem = CheckoutSummary.extend({ context: ApprovalContext });
export type ApprovalItem = z.infer<typeof ApprovalItem>;

export const CartResult = z.object({
  cartId: z.string(),
  results: z.array(
    z.union([
      z.object({ ok: z.literal(true), checkout: CheckoutSummary }),
      z.object({ ok: z.literal(false), error: z.string() }),
    ]),
  ),
});
export type CartResult = z.infer<typeof CartResult>;

export const DecisionRequest = z.strictObject({ comment: z.string().trim().max(1000).default("") });
export const RevokeRequest = z.strictObject({ reason: z.string().trim().min(3).max(1000) });

export const CreateSessionRequest = z.strictObject({
  checkoutId: z.string(),
  /**
   * Asked at connect when policy says so (docs/auth.md): the master password sealed in the browser to the
   * site's key (JWE, like credentials). The edge copies it into the grant unopened; the connector checks it.
   */
  masterPasswordSealed: SealedSecret.optional(),
});
export const SessionSummary = z.object({
  id: z.string(),
  checkoutId: z.string().nullable(),
  serverId: z.string(),
  serverName: z.string(),
  credentialName: z.string(),
  /** Which page renders it: a terminal (ssh) or a desktop (rdp). */
  protocol: ServerProtocol,
  status: z.enum(["pending", "active", "ended"]),
  createdAt: z.number(),
  deadline: z.number(),
  endReason: z.string().nullable(),
  /** The session is being recorded (the terminal bar says so). */
  recorded: z.boolean(),
  /** What the user may ask for: up to `minutes` at a time, `remaining` more times; null: no extensions. */
  extension: z
    .object({ minutes: z.number(), remaining: z.number(), approval: z.boolean(), pending: z.boolean() })
    .nullable(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const ExtensionRequest = z.strictObject({
  minutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60),
  reason: z.string().trim().max(500).default(""),
});
export const ExtensionResult = z.object({
  id: z.string(),
  status: z.enum(["pending", "granted", "denied", "lapsed"]),
  /** The session's deadline after this request (unchanged unless granted). */
  deadline: z.number(),
});
export const ExtensionDecision = z.strictObject({
  approve: z.boolean(),
  comment: z.string().trim().max(1000).default(""),
});
/** A pending extension, as its approvers see it. */
export const PendingExtension = z.object({
  id: z.string(),
  sessionId: z.string(),
  requester: z.string(),
  server: z.string(),
  credential: z.string(),
  minutes: z.number(),
  reason: z.string(),
  requestedAt: z.number(),
  deadline: z.number(),
});
export type PendingExtension = z.infer<typeof PendingExtension>;

export const TerminalSize = z.object({
  cols: z.number().int().min(1).max(MAX_COLS),
  rows: z.number().int().min(1).max(MAX_ROWS),
});

/** Every error the edge returns to a browser. `code` is stable; nothing else is promised. */
export type ApiError = { error: { code: ErrorCode; message: string } };
/** The same envelope as the browser reads it: the code is checked against ErrorCode after. */
export const ApiErrorBody = z.object({ error: z.object({ code: z.string() }) });

export const KillRequest = z.strictObject({
  reason: z.string().trim().min(3).max(500),
  /** Also revoke the checkout the session ran on, so the user cannot reconnect at once (the default). */
  revokeCheckout: z.boolean().default(true),
  /** Also lock (disable) the user's account: every other session and checkout of theirs ends. Admins only. */
  lockUser: z.boolean().default(false),
});
/** What a kill did beyond ending the session: the dialog says which happened. */
export const KillResult = z.object({ checkoutRevoked: z.boolean(), userLocked: z.boolean() });
export type KillResult = z.infer<typeof KillResult>;
export const LiveSession = z.object({
  id: z.string(),
  user: z.string(),
  server: z.string(),
  credential: z.string(),
  zoneId: z.string(),
  status: z.enum(["pending", "active"]),
  startedAt: z.number(),
  deadline: z.number(),
  browserAttached: z.boolean(),
  viewers: z.number(),
  /** A terminal (ssh) or a desktop (rdp): which live view renders it. */
  protocol: z.enum(["ssh", "rdp"]).optional(),
  zone: z.string(),
  /** The justification of the checkout the session runs on (null: a session without a checkout). */
  justification: z.string().nullable(),
  /** The address the session was opened from (CF-Connecting-IP); null when it was not known. */
  sourceIp: z.string().nullable(),
  /** Who is watching live, by username (each once). */
  watchers: z.array(z.string()),
  /** The user's last input (unix ms; connecting counts as input); null before the session connected. */
  lastInputAt: z.number().nullable(),
  /** "failing": the object store refuses chunks (they wait in the room) or an optional recording stopped. */
  recording: z.enum(["recorded", "not_recorded", "failing"]),
});
export type LiveSession = z.infer<typeof LiveSession>;

/**
 * A live moderated session the caller may moderate (GET /api/moderation, docs/governance.md): they are in the
 * moderator group its checkout's policy names, and not its requester (by person).
 */
export const ModerationSession = z.object({
  id: z.string(),
  /** The requester's username. */
  user: z.string(),
  server: z.string(),
  startedAt: z.number(),
  deadline: z.number(),
  /** How many moderators must watch before input is relayed. */
  required: z.number().int().min(1).max(5),
});
export type ModerationSession = z.infer<typeof ModerationSession>;

/** `201` bodies of creating routes (and the id of a row a route changed, e.g. a server's re-pinned host key). */
export const Created = z.object({ id: z.string() });
export const SessionCreated = z.object({ id: z.string(), deadline: z.number() });

/** The answer of an action that has nothing to say but that it was done. */
export const Ok = z.object({ ok: z.literal(true) });
/** An admin's reset of a person's second factors; `masterPassword`: also remove their master password. */
export const ResetMfaRequest = z.strictObject({ masterPassword: z.boolean().default(false) });
/** Which outbox rows the notifications page lists. */
export const OutboxQuery = z.object({ state: z.enum(["failed", "dead", "all"]).default("all") });
