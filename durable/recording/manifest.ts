// The manifest that closes a recording: signed by the edge key as a compact JWS (jose, EdDSA,
// its own `typ`), checked against the edge's public key with the algorithm pinned.
import { CompactSign, compactVerify, type CryptoKey, type JWK, importJWK } from "jose";
import { GRANT_ALG, MANIFEST_TYP, RecordingManifest } from "../../protocol/index.ts";

export async function signManifest(manifest: RecordingManifest, privateKey: CryptoKey): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg: GRANT_ALG, typ: MANIFEST_TYP })
    .sign(privateKey);
}

export class ManifestError extends Error {}

/** The manifest inside `jws`, if the edge signed it; throws ManifestError otherwise. */
export async function openManifest(jws: string, publicKey: CryptoKey | JWK): Promise<RecordingManifest> {
  const key = "kty" in publicKey ? await importJWK(publicKey as JWK, GRANT_ALG) : publicKey;
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
