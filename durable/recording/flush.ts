// Moving sealed chunks from the room to the object store: each upload is read back and its SHA-256
// compared before the room may drop its copy; failures are retried with capped exponential backoff.
import { sha256Hex } from "../../recording/chain.ts";
import type { RecordingStore } from "./store.ts";

/** First retry after ~1 s, doubling, at most 60 s apart (with jitter), for as long as it takes. */
export const FLUSH_RETRY_BASE_MS = 1_000;
export const FLUSH_RETRY_CAP_MS = 60_000;

export function flushRetryDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(FLUSH_RETRY_CAP_MS, FLUSH_RETRY_BASE_MS * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

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

export type PendingObject = { key: string; data: Uint8Array; sha256?: string };

/**
 * Uploads objects in order, each verified, calling `flushed` after each so the caller can drop its
 * copy. Stops at the first failure by throwing: the rest wait for the next attempt. Re-putting an
 * object that had already landed is harmless (same key, same bytes), so no duplicate can appear.
 */
export async function flushInOrder<T extends PendingObject>(
  store: RecordingStore,
  pending: Iterable<T>,
  flushed: (object: T) => void | Promise<void>,
): Promise<number> {
  let count = 0;
  for (const object of pending) {
    await uploadVerified(store, object.key, object.data, object.sha256);
    await flushed(object);
    count++;
  }
  return count;
}
