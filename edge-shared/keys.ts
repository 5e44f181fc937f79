// The edge's signing keys (Ed25519), from secrets, imported once per isolate: EDGE_SIGNING_KEY signs grants,
// rotation jobs, manifests and key announcements; EDGE_SIGNING_KEY_NEXT (optional) is announced to connectors
// ahead of a rotation; EDGE_SIGNING_KEYS_RETIRED (optional, a JSON array of public JWKs) keeps old manifests
// verifiable. Every key is named by its thumbprint (`kid`, protocol/edge-keys.ts). docs/security.md says how
// to rotate.
import { CompactSign, type CryptoKey, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import { EDGE_ISSUER, EDGE_KEYS_TYP, EdgePublicJwks, type EdgeKeySet, GRANT_ALG } from "../protocol/index.ts";
import { namedPublicKey } from "../keys/edge-keys.ts";
import type { Env } from "../worker/env.ts";

type SigningKey = { privateKey: CryptoKey; publicJwk: JWK; kid: string };
let cached: { source: string; key: SigningKey } | undefined;

function privateJwk(secret: string, name: string): JWK {
  const jwk = JSON.parse(secret) as JWK;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d) throw new Error(`${name} must be a private Ed25519 JWK`);
  return jwk;
}

/** The current signing key: its private key, its named public half and its kid. */
export async function edgeKey(secret: string): Promise<SigningKey> {
  if (cached?.source === secret) return cached.key;
  const jwk = privateJwk(secret, "EDGE_SIGNING_KEY");
  const publicJwk = await namedPublicKey(jwk);
  const key = { privateKey: (await importJWK(jwk, GRANT_ALG)) as CryptoKey, publicJwk, kid: publicJwk.kid! };
  cached = { source: secret, key };
  return key;
}

type KeyEnv = Pick<Env, "EDGE_SIGNING_KEY" | "EDGE_SIGNING_KEY_NEXT" | "EDGE_SIGNING_KEYS_RETIRED">;

/** The keys the edge announces: the current one first, then the next one if a rotation is prepared. */
export async function announcedKeys(env: KeyEnv): Promise<JWK[]> {
  const current = (await edgeKey(env.EDGE_SIGNING_KEY)).publicJwk;
  if (!env.EDGE_SIGNING_KEY_NEXT) return [current];
  return [current, await namedPublicKey(privateJwk(env.EDGE_SIGNING_KEY_NEXT, "EDGE_SIGNING_KEY_NEXT"))];
}

/** Every public key a manifest may have been signed with: announced ones and the retired history. */
export async function verificationKeys(env: KeyEnv): Promise<JWK[]> {
  const retired = env.EDGE_SIGNING_KEYS_RETIRED ? (JSON.parse(env.EDGE_SIGNING_KEYS_RETIRED) as JWK[]) : [];
  return [...(await announcedKeys(env)), ...(await Promise.all(retired.map((k) => namedPublicKey(k))))];
}

/**
 * The verification keys as a public JWK Set for download (GET /api/edge-keys). Each key is rebuilt from its
 * public member `x` alone and the set is parsed strictly, so no private member can ever be served.
 */
export async function publicKeySet(env: KeyEnv): Promise<EdgePublicJwks> {
  const keys = await verificationKeys(env);
  return EdgePublicJwks.parse({
    keys: await Promise.all(keys.map((k) => namedPublicKey({ kty: "OKP", crv: "Ed25519", x: String(k.x) }))),
  });
}

/** The announcement a connector gets on its control socket: the announced keys, signed by the current one. */
export async function signedKeyAnnouncement(env: KeyEnv, now = Date.now()): Promise<string> {
  const { privateKey, kid } = await edgeKey(env.EDGE_SIGNING_KEY);
  const payload: EdgeKeySet = {
    keys: (await announcedKeys(env)).map((k) => ({
      kty: "OKP" as const,
      crv: "Ed25519" as const,
      x: String(k.x),
      kid: k.kid,
    })),
    iat: now,
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: GRANT_ALG, typ: EDGE_KEYS_TYP, kid })
    .sign(privateKey);
}

/**
 * An edge-signed JWT (grants, rotation jobs): its own `typ`, the site as audience, a fresh jti, a short life,
 * and the kid of the current key, so connectors pick the key by name.
 */
export async function signEdgeJwt(
  secret: string,
  claims: JWTPayload,
  opts: { typ: string; audience: string; subject: string; ttlSeconds: number },
): Promise<string> {
  const { privateKey, kid } = await edgeKey(secret);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: GRANT_ALG, typ: opts.typ, kid })
    .setIssuer(EDGE_ISSUER)
    .setAudience(opts.audience)
    .setSubject(opts.subject)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${opts.ttlSeconds}s`)
    .sign(privateKey);
}
