// HTTP request and response bodies of the edge API. The web app and the connector use these
// types; the Worker validates every body against them where it arrives.
import { z } from "zod";
import { CredentialKind, HostKeyFingerprint, SealedSecret } from "./tokens.ts";
import { MAX_COLS, MAX_ROWS } from "./limits.ts";
import type { ErrorCode } from "./messages.ts";

const name = z.string().trim().min(1).max(128);
const username = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._@-]+$/);
const password = z.string().min(1).max(1024);

export const Role = z.enum(["requester", "approver", "auditor", "admin"]);
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

export const CreateServerRequest = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/),
  host: z.string().trim().min(1).max(253),
  port: z.number().int().min(1).max(65535).default(22),
  protocol: z.literal("ssh").default("ssh"),
  siteId: z.string(),
  hostKey: HostKeyFingerprint,
  tags: z.array(z.string().max(32)).max(16).default([]),
});

export const CreateCredentialRequest = z.strictObject({
  name,
  username: z.string().min(1).max(256),
  kind: CredentialKind,
  siteId: z.string(),
  /** Sealed to the site's key in the admin's browser or by the connector CLI. */
  sealed: SealedSecret,
  serverIds: z.array(z.string()).min(1),
});

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
  protocol: z.literal("ssh"),
  siteId: z.string(),
  tags: z.array(z.string()),
  credentials: z.array(CredentialSummary),
});
export type ServerSummary = z.infer<typeof ServerSummary>;

export const CreateSessionRequest = z.strictObject({
  serverId: z.string(),
  credentialId: z.string(),
  /** Requested length; capped by the edge's maximum. */
  minutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .optional(),
});
export const SessionSummary = z.object({
  id: z.string(),
  serverId: z.string(),
  serverName: z.string(),
  credentialName: z.string(),
  status: z.enum(["pending", "active", "ended"]),
  createdAt: z.number(),
  deadline: z.number(),
  endReason: z.string().nullable(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

export const TerminalSize = z.object({
  cols: z.number().int().min(1).max(MAX_COLS),
  rows: z.number().int().min(1).max(MAX_ROWS),
});

/** Every error the edge returns to a browser. `code` is stable; nothing else is promised. */
export type ApiError = { error: { code: ErrorCode; message: string } };
