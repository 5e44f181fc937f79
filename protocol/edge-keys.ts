// The edge signing key's lifecycle (issue 17). Every key is named by its `kid`, the RFC 7638 thumbprint of its
// public half, and every grant, rotation job, manifest and key announcement names the key that signed it.
// Connectors pinned one key at enrollment; the edge announces the keys it signs with now and next in a JWS
// signed by its current key, and a connector accepts the announcement only if a key it already trusts signed
// it. So trust moves from key to key without a re-enrollment, and a key the edge no longer announces stops
// opening anything at the connector (old grants die at rotation). Old manifests verify against the history.
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
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

/** A key's id: the RFC 7638 SHA-256 thumbprint of its public members. */
export async function edgeKeyId(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint({ kty: "OKP", crv: "Ed25519", x: String(jwk.x) }, "sha256");
}

/** The public half, named by its kid. */
export async function namedPublicKey(jwk: JWK): Promise<JWK> {
  return { kty: "OKP", crv: "Ed25519", x: String(jwk.x), kid: await edgeKeyId(jwk), alg: GRANT_ALG, use: "sig" };
}

/**
 * The key among `trusted` that signed `token` (compact JWS/JWT), by its header's `kid`; a token without a kid
 * (signed before kids existed) is checked against the first trusted key. Undefined: signed by no key we trust.
 */
export async function keyFor(token: string, trusted: readonly JWK[]): Promise<JWK | undefined> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    return undefined;
  }
  if (kid === undefined) return trusted[0];
  for (const key of trusted) if ((await edgeKeyId(key)) === kid) return key;
  return undefined;
}

export class EdgeKeysRejected extends Error {
  override name = "EdgeKeysRejected";
}

/**
 * Verifies an announcement against the keys a connector trusts now; returns the set to trust from now on.
 * Refused: a signer we do not trust, another `typ`, a set that leaves out its own signer, or one older than
 * the last accepted (`lastIat`), so a replayed announcement cannot bring a retired key back.
 */
export async function acceptEdgeKeys(jws: string, trusted: readonly JWK[], lastIat = 0): Promise<EdgeKeySet> {
  const signer = await keyFor(jws, trusted);
  if (!signer) throw new EdgeKeysRejected("announcement signed by a key this connector does not trust");
  let payload: Uint8Array;
  try {
    const result = await compactVerify(jws, await importJWK(signer, GRANT_ALG), { algorithms: [GRANT_ALG] });
    if (result.protectedHeader.typ !== EDGE_KEYS_TYP) throw new EdgeKeysRejected("not a key announcement");
    payload = result.payload;
  } catch (err) {
    if (err instanceof EdgeKeysRejected) throw err;
    throw new EdgeKeysRejected(`announcement does not verify (${(err as Error).name})`);
  }
  const set = EdgeKeySet.safeParse(JSON.parse(new TextDecoder().decode(payload)));
  if (!set.success) throw new EdgeKeysRejected("announcement malformed");
  if (set.data.iat <= lastIat) throw new EdgeKeysRejected("announcement older than the one already accepted");
  const signerId = await edgeKeyId(signer);
  const ids = await Promise.all(set.data.keys.map((k) => edgeKeyId(k as JWK)));
  if (!ids.includes(signerId)) throw new EdgeKeysRejected("announcement leaves out its own signer");
  return set.data;
}
