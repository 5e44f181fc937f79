// Duo Universal Prompt as a second factor (docs/auth.md "Duo"): the admin settings, and the bodies of the
// start / finish calls the sign-in and step-up pages make around the redirect to Duo.
import { z } from "zod";

/** Duo's own SDKs refuse other lengths (duo_universal_python / _nodejs CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH). */
export const DUO_CLIENT_ID_LENGTH = 20;
export const DUO_CLIENT_SECRET_LENGTH = 40;
/** Duo's state is 22 to 1024 characters; ours is 43 (32 random bytes, base64url). */
export const DUO_STATE = z
  .string()
  .min(22)
  .max(1024)
  .regex(/^[A-Za-z0-9_-]+$/);

/** A host name with an optional port, no scheme or path: Duo's "API hostname", e.g. api-1234abcd.duosecurity.com. */
const ApiHost = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?:[a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}(?::\d{1,5})?$/);

export const DuoFailMode = z.enum(["open", "closed"]);
export type DuoFailMode = z.infer<typeof DuoFailMode>;

/**
 * PUT /api/admin/duo. The secret is write-only: left out, the stored one stays (it is never read back).
 * No defaults: every other field is stated each time.
 */
export const DuoSettingsUpdate = z.strictObject({
  enabled: z.boolean(),
  apiHost: ApiHost,
  clientId: z
    .string()
    .trim()
    .length(DUO_CLIENT_ID_LENGTH)
    .regex(/^[A-Za-z0-9]+$/),
  clientSecret: z
    .string()
    .length(DUO_CLIENT_SECRET_LENGTH)
    .regex(/^[A-Za-z0-9]+$/)
    .optional(),
  failMode: DuoFailMode,
});
export type DuoSettingsUpdate = z.infer<typeof DuoSettingsUpdate>;

/** What an admin reads back: never the secret, only whether one is stored. */
export const DuoSettings = z.object({
  configured: z.boolean(),
  enabled: z.boolean(),
  apiHost: z.string().nullable(),
  clientId: z.string().nullable(),
  secretSet: z.boolean(),
  failMode: DuoFailMode,
  /** The redirect URI to enter in Duo's Admin Panel for this application. */
  redirectUri: z.string(),
  /** Duo's health check when the settings were read or saved (null: not configured or not enabled). */
  health: z.enum(["ok", "unhealthy", "unreachable"]).nullable(),
});
export type DuoSettings = z.infer<typeof DuoSettings>;

/** POST /api/mfa/duo/start: where to come back to (a page route, "#/..."), the sign-in or a step-up. */
export const DuoStart = z.strictObject({
  returnTo: z
    .string()
    .max(512)
    .regex(/^#\/[A-Za-z0-9/_?=&.,%-]*$/)
    .optional(),
});
/** Go to Duo; or, failing open while Duo is down, the sign-in went on without it. */
export const DuoStarted = z.discriminatedUnion("next", [
  z.object({ next: z.literal("redirect"), url: z.string() }),
  z.object({ next: z.literal("done"), failOpen: z.literal(true) }),
]);
export type DuoStarted = z.infer<typeof DuoStarted>;

/** POST /api/mfa/duo/finish: what Duo sent back to the callback (passed on by the page). */
export const DuoFinish = z.strictObject({
  state: DUO_STATE,
  code: z
    .string()
    .min(1)
    .max(2048)
    .regex(/^[A-Za-z0-9._~+/=-]+$/),
});
export const DuoFinished = z.object({ returnTo: z.string().nullable() });
