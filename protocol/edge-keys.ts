// The edge signing key's lifecycle (issue 17). Every key is named by its `kid`, the RFC 7638 thumbprint of its
// public half, and every grant, rotation job, manifest and key announcement names the key that signed it.
// Connectors pinned one key at enrollment; the edge announces the keys it signs with now and next in a JWS
// signed by its current key, and a connector accepts the announcement only if a key it already trusts signed
// it. So trust moves from key to key without a re-enrollment, and a key the edge no longer announces stops
// opening anything at the connector (old grants die at rotation). Old manifests verify against the history.
// The schemas are here; what checks signatures and key ids (jose) is keys/edge-keys.ts.
import { z } from "zod";
import { GRANT_ALG } from "./tokens.ts";

export const EDGE_KEYS_TYP = "psm-edge-keys+jwt";

export const EdgePublicKey = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  kid: z.string().optional(),
});

/** The announcement's payload: the keys the edge signs with (current first, then the next one), and when. */
export const EdgeKeySet = z.strictObject({ keys: z.array(EdgePublicKey).min(1).max(4), iat: z.number().int() });
export type EdgeKeySet = z.infer<typeof EdgeKeySet>;

/**
 * The edge's public keys as a JWK Set (RFC 7517), served to auditors for `recording:verify --key`: every key
 * a manifest may have been signed with (current, next, retired), each named by its kid. Strict: a private
 * member (`d`) or anything else unexpected makes it fail to parse, so it cannot be served.
 */
export const EdgePublicJwks = z.strictObject({
  keys: z
    .array(
      z.strictObject({
        kty: z.literal("OKP"),
        crv: z.literal("Ed25519"),
        x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
        kid: z.string(),
        alg: z.literal(GRANT_ALG),
        use: z.literal("sig"),
      }),
    )
    .min(1),
});
export type EdgePublicJwks = z.infer<typeof EdgePublicJwks>;
