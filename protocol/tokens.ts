// The three signed token kinds. Each has its own `typ` and `aud` so that none can stand in
// for another: a user's cookie is never a grant, a grant never authenticates a connector.
import { z } from "zod";
import { CommandRules } from "./command-rules.ts";
import { FileTransferPolicy } from "./file-transfer.ts";
import { KeyboardLayout } from "./keyboard-layout.ts";

export const EDGE_ISSUER = "psm-edge";

/** Session grant: edge -> connector, EdDSA, verified against the edge key pinned at enrollment. */
export const GRANT_TYP = "psm-grant+jwt";
export const GRANT_ALG = "EdDSA";
export const grantAudience = (siteId: string) => `site:${siteId}`;

/**
 * Connector proof of key: connector -> edge, EdDSA with the connector's enrolled key. Single use (the edge
 * claims its `jti` once) and bound to the one edge path it was minted for (`ep`), so a captured token opens
 * neither another session's data socket nor the control socket, and opens its own at most once.
 */
export const CONNECTOR_TOKEN_TYP = "psm-connector+jwt";
export const CONNECTOR_TOKEN_ALG = "EdDSA";
export const CONNECTOR_TOKEN_AUD = "psm-edge";

/** The edge paths a connector authenticates to, each a token's `ep`. Session ids are the room's (UUIDs). */
export const connectorEndpoint = {
  control: "/connector/control",
  inventory: "/connector/inventory",
  identity: "/connector/identity",
  /** A rotation job's answer (protocol/rotation.ts); job ids are UUIDs. */
  rotation: (jobId: string) => `/connector/rotations/${jobId}`,
  /** A site seal key rotation's work and answer (protocol/seal-rotation.ts); ids are UUIDs. */
  sealRotation: (rotationId: string) => `/connector/seal-rotations/${rotationId}`,
  session: (sessionId: string) => `/connector/sessions/${sessionId}`,
  /** One recording chunk's upload (PUT, the chunk's gzip bytes; its signed claims in CHUNK_HEADER). */
  recordingChunk: (recordingId: string, seq: number) => `/connector/recordings/${recordingId}/chunks/${seq}`,
} as const;

/**
 * Browser session cookie: edge -> edge, HS256 with the edge's user-token secret, 15 minutes. Claims:
 * sub (user), sid (the server-side sign-in, checked per request), stg ("mfa" pending or "full").
 */
export const USER_TOKEN_TYP = "psm-user+jwt";
export const USER_TOKEN_AUD = "psm-web";

/**
 * The browser's cookies. `__Host-`: the browser keeps one only if it is Secure, Path=/ and has no
 * Domain, so a sibling host or a plain-http page cannot set or shadow it (Chromium treats
 * http://localhost as secure, so local runs work too).
 */
export const SESSION_COOKIE = "__Host-psm_session";
/** The device id (400 days), known devices for step-up and the sign-in throttle. */
export const DEVICE_COOKIE = "__Host-psm_device";
/** An OIDC sign-in in flight (its state, 10 min). */
export const OIDC_STATE_COOKIE = "__Host-psm_oidc";

/** Sealed credentials: JWE to the site's P-256 key. Pinned so a downgrade is refused. */
export const SEAL_ALG = "ECDH-ES+A256KW";
export const SEAL_ENC = "A256GCM";
export const SEAL_CTY = "psm-secret";

/** OpenSSH-style host key fingerprint, e.g. `SHA256:n4bQ...` (base64 without padding). */
export const HostKeyFingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/);

export const CredentialKind = z.enum(["password", "private_key"]);
export type CredentialKind = z.infer<typeof CredentialKind>;

/** A compact JWE: five base64url parts. The edge stores it, never opens it. */
export const SealedSecret = z
  .string()
  .max(16 * 1024)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

/** Claims of a session grant, beyond the registered ones (iss, aud, sub = session id, iat, exp, jti). */
export const GrantClaims = z.object({
  iss: z.literal(EDGE_ISSUER),
  sub: z.string().min(1).max(64),
  aud: z.string(),
  jti: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  /** Unix seconds at which the connector closes the session whatever the edge says. */
  dl: z.number().int(),
  usr: z.object({ id: z.string(), name: z.string() }),
  tgt: z.object({
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(["ssh", "rdp"]),
    /** SSH: the host key's fingerprint. RDP: the server certificate's (SHA-256 of the DER bytes). */
    hostKey: HostKeyFingerprint,
  }),
  cred: z
    .object({
      id: z.string(),
      username: z.string().min(1).max(256),
      kind: CredentialKind,
      /** The secret sealed to the site key (the `sealed` provider). */
      sealed: SealedSecret.optional(),
      /** EmpowerID's reference for the credential (the `empowerid` provider asks EmpowerID to release it). */
      ref: z.string().min(1).max(256).optional(),
      /**
       * The user's master password, sealed to the site key in the browser (JWE like `sealed`), for
       * EmpowerID to authorise the release. The edge copies it into the grant unopened.
       */
      mp: SealedSecret.optional(),
      /**
       * The user's master password verifier (PBKDF2, protocol/master-password.ts), sealed by the edge to the site
       * key: the `sealed` provider checks `mp` against it before any target connection.
       */
      mpv: SealedSecret.optional(),
      /** Windows domain for RDP logons (empty: a local account). */
      domain: z.string().max(255).optional(),
    })
    .refine((c) => c.sealed !== undefined || c.ref !== undefined, "a credential needs a sealed blob or a reference"),
  /**
   * Recording policy. `id`: the recording the connector makes of this session at the source (absent:
   * the session is not recorded); `required`: it fails closed (docs/recording.md).
   */
  rec: z.object({ required: z.boolean(), keystrokes: z.boolean(), id: z.string().uuid().optional() }),
  ch: z.array(z.enum(["shell", "desktop"])).min(1),
  /** SSH shells: the policy's command rules (protocol/command-rules.ts), enforced by the connector. Absent: none. */
  cmd: CommandRules.optional(),
  /**
   * SSH sessions: the policy's file transfer (SFTP) rules, enforced by the connector. Absent: no transfer (a grant
   * signed before issue 19's file transfer, or a policy with both directions off).
   */
  ft: FileTransferPolicy.optional(),
  /** RDP sessions: security and clipboard policy (see protocol/rdp.ts). */
  rdp: z
    .object({
      nla: z.boolean(),
      clip: z.object({
        copy: z.boolean(),
        paste: z.boolean(),
        max: z
          .number()
          .int()
          .min(0)
          .max(1024 * 1024),
      }),
      /** The bridge must run in its sandbox (policy rdpRequireSandbox): a connector without one refuses. */
      sbx: z.boolean().optional(),
      /** The user's keyboard layout (protocol/keyboard-layout.ts). Absent (grants before issue 21's layouts): en-us. */
      kbd: KeyboardLayout.optional(),
    })
    .optional(),
});
export type GrantClaims = z.infer<typeof GrantClaims>;

export const ConnectorTokenClaims = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.literal(CONNECTOR_TOKEN_AUD),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(8).max(64),
  /** The edge path this token opens, and nothing else (`connectorEndpoint`). */
  ep: z
    .string()
    .max(256)
    .regex(/^\/connector\/[A-Za-z0-9/_-]+$/),
});
export type ConnectorTokenClaims = z.infer<typeof ConnectorTokenClaims>;
