// Bodies of the strong-authentication API: sign-in results, MFA (TOTP, recovery codes, WebAuthn,
// push approval), the master password, adaptive step-up decisions and OIDC configuration.
import { z } from "zod";
import { MasterPasswordVerifier } from "./master-password.ts";
import { Me } from "./api.ts";

export const MfaMethod = z.enum(["totp", "webauthn", "recovery", "push", "duo"]);
export type MfaMethod = z.infer<typeof MfaMethod>;

/** Result of a password (or OIDC) sign-in: done, or a second factor is due. */
export const LoginResult = z.discriminatedUnion("stage", [
  z.object({ stage: z.literal("full"), user: Me }),
  z.object({ stage: z.literal("mfa"), methods: z.array(MfaMethod) }),
]);
export type LoginResult = z.infer<typeof LoginResult>;

const code6 = z.string().regex(/^\d{6}$/);
export const TotpCode = z.strictObject({ code: code6 });
export const RecoveryCodeRequest = z.strictObject({ code: z.string().trim().min(8).max(32) });

export const TotpEnrolment = z.object({
  /** Base32 secret, for typing into an app by hand. */
  secret: z.string(),
  /** otpauth:// URI the page draws as a QR code. */
  uri: z.string(),
});
export const RecoveryCodes = z.object({ recoveryCodes: z.array(z.string()) });

export const WebAuthnKey = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.number(),
  lastUsedAt: z.number().nullable(),
});
export const MfaStatus = z.object({
  totp: z.boolean(),
  recoveryCodesLeft: z.number(),
  webauthn: z.array(WebAuthnKey),
  masterPasswordSet: z.boolean(),
  oidc: z.boolean(),
  /** The deployment offers Duo as a second factor (protocol/duo.ts). */
  duo: z.boolean().optional(),
});
export type MfaStatus = z.infer<typeof MfaStatus>;

/** WebAuthn JSON (PublicKeyCredential.toJSON()), checked in shape here and in depth by @simplewebauthn/server. */
const b64url = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/)
  .max(4096);
export const WebAuthnRegistration = z.strictObject({
  name: z.string().trim().min(1).max(64).default("Security key"),
  response: z.object({
    id: b64url,
    rawId: b64url,
    type: z.literal("public-key"),
    response: z
      .object({
        clientDataJSON: b64url,
        attestationObject: z
          .string()
          .regex(/^[A-Za-z0-9_-]*$/)
          .max(16_384),
        transports: z.array(z.string().max(32)).max(8).optional(),
      })
      .loose(),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.string().max(32).optional(),
  }),
});
/** POST /api/mfa/webauthn/register's answer: the key was registered, under this credential id (WebAuthnKey's `id`). */
export const WebAuthnKeyRegistered = z.object({ ok: z.literal(true), id: z.string() });
export const WebAuthnAssertion = z.strictObject({
  response: z.object({
    id: b64url,
    rawId: b64url,
    type: z.literal("public-key"),
    response: z
      .object({
        clientDataJSON: b64url,
        authenticatorData: b64url,
        signature: b64url,
        userHandle: b64url.optional(),
      })
      .loose(),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.string().max(32).optional(),
  }),
});
/** Options for navigator.credentials.create/get, as JSON (passed through to the browser). */
export const WebAuthnOptions = z.record(z.string(), z.unknown());

/** Push approval: the waiting device shows `number`; the approving device is not told it and must type it. */
export const PushStarted = z.object({ id: z.string(), number: z.number().int(), expiresAt: z.number() });
export const PushPending = z.object({
  id: z.string(),
  ip: z.string().nullable(),
  country: z.string().nullable(),
  expiresAt: z.number(),
});
export const PushAnswer = z.strictObject({ number: z.number().int().min(10).max(99) });
export const PushState = z.object({ status: z.enum(["pending", "approved", "denied", "expired"]) });

export const PasswordChange = z.strictObject({
  current: z.string().min(1).max(1024),
  next: z.string().min(12).max(1024),
});
/**
 * Setting or changing one's master password: the browser sends only its PBKDF2 verifier
 * (protocol/master-password.ts), never the password. Either needs a recent second factor.
 */
export const MasterPasswordSet = z.strictObject({ verifier: MasterPasswordVerifier });

/** Why step-up is asked, in words a user reads. */
export const StepUpReason = z.object({
  code: z.enum([
    "policy_mfa",
    "sensitive_zone",
    "new_device",
    "new_country",
    "new_network",
    "mfa_stale",
    "out_of_hours",
    "failed_attempts",
    "policy_master_password",
    "no_mfa_enrolled",
  ]),
  text: z.string(),
});
export type StepUpReason = z.infer<typeof StepUpReason>;
export const StepUpDecision = z.object({
  decision: z.enum(["allow", "step_up", "deny"]),
  /** Which second factor satisfies it: any enrolled one, or a security key only. */
  mfa: z.enum(["any", "webauthn"]).nullable(),
  masterPassword: z.boolean(),
  /** Whether the user still has to create a master password (first use). */
  masterPasswordSet: z.boolean(),
  reasons: z.array(StepUpReason),
  /** The public seal key of the server's site, when the master password is asked: the browser seals it to this. */
  sealKey: z.record(z.string(), z.unknown()).nullable(),
});
export type StepUpDecision = z.infer<typeof StepUpDecision>;

export const OidcConfig = z.object({ enabled: z.boolean(), label: z.string() });

export const SocketTicket = z.object({ ticket: z.string(), expiresAt: z.number() });
/** Which socket a ticket opens: the session's own, watching it, or joining it at an invitation. */
export const SocketTicketRequest = z.strictObject({ socket: z.enum(["ws", "watch", "join"]) });
