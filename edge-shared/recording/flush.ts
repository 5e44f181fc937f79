// Putting a recording object into the store so that it is known to hold exactly the bytes sent: the
// chunk upload route and the manifest seal use it. Retries belong to the caller (the connector's uploader
// retries a chunk the edge could not store; the room's alarm retries a seal).
import { sha256Hex } from "../../recording/chain.ts";
import type { RecordingStore } from "./store.ts";

export class UploadMismatch extends Error {}

/**
 * Puts `data` at `key`; resolves only once the store holds exactly these bytes: a store that checks
 * the SHA-256 on upload (R2) says so itself, any other is read back and compared.
 */
export async function uploadVerified(
  store: RecordingStore,
  key: string,
  data: Uint8Array,
  sha256?: string,
): Promise<void> {
  const expected = sha256 ?? (await sha256Hex(data));
  await store.put(key, data, expected);
  if (store.checksOnPut) return;
  const back = await store.get(key);
  if (!back || (await sha256Hex(back)) !== expected)
    throw new UploadMismatch(`${key}: stored bytes differ from the upload`);
}
