// The manifest that closes a recording: signed by the edge key as a compact JWS (jose, EdDSA,
// its own `typ`), checked against the edge's public key with the algorithm pinned.
import { CompactSign, compactVerify, type CryptoKey, decodeProtectedHeader, type JWK, importJWK } from "jose";
import { z } from "zod";
import { GRANT_ALG, MANIFEST_TYP, RecordingManifest, RecordingManifestV2 } from "../protocol/index.ts";
import { keyFor } from "../keys/edge-keys.ts";

/** Either manifest: v1 (the room recorded) or v2 (the connector recorded at the source, the room witnessed). */
export type AnyManifest = RecordingManifest | RecordingManifestV2;
const AnyManifest = z.union([RecordingManifestV2, RecordingManifest]);

/** Signs with the edge key; given its kid too, the manifest names it (so it verifies after a rotation). */
export async function signManifest(
  manifest: AnyManifest,
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
export async function openManifest(jws: string, publicKey: CryptoKey | JWK | JWK[]): Promise<AnyManifest> {
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
  const parsed = AnyManifest.safeParse(JSON.parse(new TextDecoder().decode(payload)));
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
