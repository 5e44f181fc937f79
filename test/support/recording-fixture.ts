// Builds a real recording for tests: text cut into chunks by the real codec, chained, and a
// manifest signed with a fresh Ed25519 key; objects ready to put into any store.
import { exportJWK, generateKeyPair, type JWK } from "jose";
import type { RecordingFormat, RecordingManifest } from "../../protocol/index.ts";
import { chunkKey, genesis, manifestKey, sealChunk } from "../../recording/chain.ts";
import { signManifest } from "../../recording/manifest.ts";
/** An object to put in the store: its key and bytes (and their SHA-256 when known). */
type PendingObject = { key: string; data: Uint8Array; sha256?: string };

export async function buildRecording(
  recordingId: string,
  parts: string[],
  keys?: Awaited<ReturnType<typeof generateKeyPair>>,
  format: RecordingFormat = "asciicast-v2",
): Promise<{
  objects: PendingObject[];
  manifest: RecordingManifest;
  jws: string;
  publicJwk: JWK;
  privateJwk: JWK;
  keys: Awaited<ReturnType<typeof generateKeyPair>>;
}> {
  const pair = keys ?? (await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true }));
  const objects: PendingObject[] = [];
  const entries = [];
  let prev = await genesis(recordingId);
  for (const [seq, text] of parts.entries()) {
    const { data, entry } = await sealChunk(recordingId, seq, new TextEncoder().encode(text), prev);
    objects.push({ key: chunkKey(recordingId, seq), data, sha256: entry.sha256 });
    entries.push(entry);
    prev = entry.link;
  }
  const manifest: RecordingManifest = {
    v: 1,
    recordingId,
    sessionId: `session-${recordingId}`,
    userId: "u1",
    username: "alice",
    serverId: "srv1",
    zoneId: "z1",
    startedAt: 1_800_000_000_000,
    endedAt: 1_800_000_060_000,
    endReason: "user_exit",
    format,
    compression: "gzip",
    complete: true,
    chunks: entries,
    head: prev,
  };
  const jws = await signManifest(manifest, pair.privateKey);
  objects.push({ key: manifestKey(recordingId), data: new TextEncoder().encode(jws) });
  return {
    objects,
    manifest,
    jws,
    publicJwk: await exportJWK(pair.publicKey),
    privateJwk: await exportJWK(pair.privateKey),
    keys: pair,
  };
}
