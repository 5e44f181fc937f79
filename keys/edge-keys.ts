// The edge's keys at the connector and the verifiers: a key's id (RFC 7638 thumbprint), the key that signed a
// token picked by its kid, and the connector's acceptance of the edge's key announcement (protocol/edge-keys.ts
// has the shapes and the lifecycle). jose lives here, not in protocol/, which depends on zod alone.
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, type JWK } from "jose";
import { EDGE_KEYS_TYP, EdgeKeySet } from "../protocol/edge-keys.ts";
import { GRANT_ALG } from "../protocol/tokens.ts";

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
