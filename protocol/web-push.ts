// Web Push wire shapes: a browser's push subscription as the Account page registers it, the devices listed
// back (never their endpoint or keys), and the notice the service worker (web/src/sw.ts) receives,
// encrypted by the edge per RFC 8291. A notice carries no secret: no number to match, no token.
import { z } from "zod";

/** Notified devices one user may register; the next one is refused (409 conflict) until one is removed. */
export const PUSH_DEVICES_MAX = 5;
/** A push service's endpoint URL, bounded (FCM's are ~200 chars, Mozilla's and Apple's shorter). */
export const PUSH_ENDPOINT_MAX_CHARS = 1024;
export const PUSH_LABEL_MAX_CHARS = 80;

const base64url = (bytes: number) =>
  z
    .string()
    .length(Math.ceil((bytes * 4) / 3))
    .regex(/^[A-Za-z0-9_-]+$/, "base64url");

export const PushSubscriptionInput = z
  .object({
    endpoint: z
      .string()
      .max(PUSH_ENDPOINT_MAX_CHARS)
      .url()
      // RFC 8030: push resources are https; anything else is not a push service.
      .refine((u) => u.startsWith("https://"), "https endpoint"),
    keys: z
      .object({
        /** The browser's P-256 public key, uncompressed point (65 bytes) */
        p256dh: base64url(65),
        /** The 16-byte authentication secret */
        auth: base64url(16),
      })
      .strict(),
    /** What the person will recognise the device by, e.g. "Chrome on Android" */
    label: z.string().trim().min(1).max(PUSH_LABEL_MAX_CHARS),
  })
  .strict();
export type PushSubscriptionInput = z.infer<typeof PushSubscriptionInput>;

export const PushDevice = z.object({
  id: z.string(),
  label: z.string(),
  createdAt: z.number(),
  /** When the push service last accepted a notice for it (ms), null before the first */
  lastDeliveredAt: z.number().nullable(),
});
export type PushDevice = z.infer<typeof PushDevice>;

export const PushDeviceSaved = z.object({ id: z.string() });

/** The VAPID public key (base64url, uncompressed P-256 point) for pushManager.subscribe; null when push is off. */
export const PushConfig = z.object({ publicKey: z.string().nullable() });

/** What the service worker shows. `url` is a path on this origin (the number-matching screen, an approval). */
export const PushNotice = z.object({
  kind: z.enum(["sign_in", "approval", "extension", "command_review", "invitation", "test"]),
  title: z.string().max(120),
  body: z.string().max(400),
  url: z
    .string()
    .max(300)
    .regex(/^\/(?!\/)/, "a path on this origin"),
  /** Replaces an earlier notice with the same tag on the device */
  tag: z.string().max(80),
});
export type PushNotice = z.infer<typeof PushNotice>;
