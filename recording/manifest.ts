// The manifest that closes a recording: signed by the edge key as a compact JWS (jose, EdDSA,
// its own `typ`), checked against the edge's public key with the algorithm pinned.
import { CompactSign, compactVerify, type CryptoKey, decodeProtectedHeader, type JWK, importJWK } from "jose";
import { GRANT_ALG, keyFor, MANIFEST_TYP, RecordingManifest } from "../protocol/index.ts";

/** Signs with the edge key; given its kid too, the manifest names it (so it verifies after a rotation). */
export async function signManifest(
  manifest: RecordingManifest,
  key: CryptoKey | { privateKey: CryptoKey; kid: string },
): Promise<string> {
  const { privateKey, kid } = "privateKey" in key ? key : { privateKey: key, kid: undefined };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg: GRANT_ALG, typ: MANIFEST_TYP, ...(kid ? { kid } : {}) })
    .sign(privateKey);
}

export class ManifestError extends Error {}

/**
 * The manifest inside `jws`, if the edge signed it; throws ManifestError otherwise. Given the edge's key history
 * (a list), the key the manifest names by `kid` checks it, so manifests signed before a rotation still verify.
 */
export async function openManifest(jws: string, publicKey: CryptoKey | JWK | JWK[]): Promise<RecordingManifest> {
  if (Array.isArray(publicKey) && !decodeHeader(jws)?.kid) {
    // Signed before manifests named their key: any key of the history may have signed it.
    let last: unknown;
    for (const key of publicKey) {
      try {
        return await openManifest(jws, key);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new ManifestError("no edge key to check it with");
  }
  const chosen = Array.isArray(publicKey) ? await keyFor(jws.trim(), publicKey) : publicKey;
  if (!chosen) throw new ManifestError("signed by a key the edge does not know");
  const key = "kty" in chosen ? await importJWK(chosen as JWK, GRANT_ALG) : chosen;
  let payload: Uint8Array;
  try {
    const result = await compactVerify(jws.trim(), key, { algorithms: [GRANT_ALG] });
    if (result.protectedHeader.typ !== MANIFEST_TYP) throw new ManifestError("not a recording manifest");
    payload = result.payload;
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError(`signature does not verify (${(err as Error).name})`);
  }
  const parsed = RecordingManifest.safeParse(JSON.parse(new TextDecoder().decode(payload)));
  if (!parsed.success) throw new ManifestError("manifest does not match its schema");
  return parsed.data;
}

function decodeHeader(jws: string): { kid?: string } | undefined {
  try {
    return decodeProtectedHeader(jws.trim());
  } catch {
    return undefined;
  }
}
