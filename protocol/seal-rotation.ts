// Rotating a site's seal key (issue 17). One connector of the site makes the new P-256 pair on-prem,
// opens every credential the edge holds for the site and seals it again to the new key, and seals the new
// private key for each other connector of the site. The edge swaps every blob and the site's public key in
// one transaction, relays the new private key to the other connectors, and never sees a plaintext.
//
// A key for another connector is sealed twice: to that connector's transport key (which it registered
// over its own authenticated control socket) and, inside, to the site's old key. The edge names the
// recipients, so a compromised edge could add a connector of its own; it still cannot open the delivery
// without the old site key, which never left the site's connectors.
import { z } from "zod";
import { SealedSecret } from "./tokens.ts";

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

/** A public P-256 JWK (no private member). */
export const PublicSealKey = z
  .looseObject({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string().min(40).max(48),
    y: z.string().min(40).max(48),
    kid: z.string().max(64).optional(),
  })
  .refine((k) => !("d" in k), "a public key only");
export type PublicSealKey = z.infer<typeof PublicSealKey>;

/** A new private seal key for another connector, sealed to its transport key around the old site key. */
const DeliverySealed = z
  .string()
  .max(8 * 1024)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

/** What the rotating connector fetches (GET /connector/seal-rotations/:id). */
export const SealRotationWork = z.discriminatedUnion("state", [
  z.strictObject({
    state: z.literal("running"),
    /** The key every blob is sealed to now: the connector refuses to rotate a key it does not hold. */
    oldKid: z.string(),
    credentials: z.array(z.strictObject({ id, sealed: SealedSecret })).max(20_000),
    /** The site's other live-enrolled connectors and the transport keys they registered. */
    recipients: z.array(z.strictObject({ connectorId: id, transportKey: PublicSealKey })).max(256),
  }),
  /** The swap committed: the key with this id is the site's now. */
  z.strictObject({ state: z.literal("done"), newKid: z.string() }),
  /** Failed or replaced: the connector drops the key it made. */
  z.strictObject({ state: z.literal("failed") }),
]);
export type SealRotationWork = z.infer<typeof SealRotationWork>;

/** Why a seal key rotation failed, in the history and on the admin page. */
export const SealRotationError = z.enum([
  "not_holder", // the connector asked does not hold the site's current key
  "changed", // a credential's blob changed while the connector re-sealed: try again
  "timeout", // no answer within SEAL_ROTATION_TIMEOUT_MS
  "connector_error", // the connector could not finish (see its log)
]);
export type SealRotationError = z.infer<typeof SealRotationError>;

export const SEAL_ROTATION_ERROR_TEXT: Record<SealRotationError, string> = {
  not_holder: "the connector asked does not hold the site's current seal key",
  changed: "a credential changed while it was re-sealed; rotate again",
  timeout: "the connector did not answer in time",
  connector_error: "the connector could not re-seal the credentials (see its log)",
};

/** A rotation that has not answered in 10 minutes is failed, and may be asked again. */
export const SEAL_ROTATION_TIMEOUT_MS = 10 * 60 * 1000;

/** The rotating connector's answer (POST /connector/seal-rotations/:id). */
export const SealRotationResult = z.discriminatedUnion("outcome", [
  z.strictObject({
    outcome: z.literal("resealed"),
    /** The new public key, its `kid` its thumbprint. */
    sealKey: PublicSealKey,
    /**
     * Every credential of the work, sealed to the new key (header `kid` = the new kid), with `was`, the
     * SHA-256 (base64url) of the blob it was opened from: the edge swaps only blobs that are still those.
     */
    credentials: z
      .array(z.strictObject({ id, sealed: SealedSecret, was: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }))
      .max(20_000),
    /** Credentials whose blob did not open with the old key: they stay as they are (already unusable). */
    unopenable: z.array(id).max(20_000),
    /** The new private key for each recipient of the work. */
    deliveries: z.array(z.strictObject({ connectorId: id, sealed: DeliverySealed })).max(256),
  }),
  z.strictObject({ outcome: z.literal("failed"), error: SealRotationError }),
]);
export type SealRotationResult = z.infer<typeof SealRotationResult>;

/** Admin › Sites › Seal key (GET /api/sites/:id/seal-key). */
export const SealKeyInfo = z.object({
  kid: z.string().nullable(),
  keys: z.array(z.object({ kid: z.string(), createdAt: z.number().int(), retiredAt: z.number().int().nullable() })),
  rotations: z.array(
    z.object({
      id: z.string(),
      state: z.enum(["running", "done", "failed"]),
      connectorId: z.string().nullable(),
      requestedAt: z.number().int(),
      finishedAt: z.number().int().nullable(),
      error: SealRotationError.nullable(),
      resealed: z.number().int().nullable(),
      unopenable: z.number().int().nullable(),
    }),
  ),
  /** Each connector of the site and the seal key it last said it holds. */
  connectors: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      kid: z.string().nullable(),
      /** A new key waits for it (it was offline at the swap). */
      deliveryPending: z.boolean(),
      canReceive: z.boolean(),
    }),
  ),
});
export type SealKeyInfo = z.infer<typeof SealKeyInfo>;
/** A seal-key rotation asked of the site's connector. */
export const SealKeyRotationStarted = z.object({ rotationId: z.string() });
