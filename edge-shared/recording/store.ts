// Where sealed recordings live: one small interface, with the R2 binding (default) and any
// S3-compatible store (s3-store.ts) behind it. Chosen per deployment by RECORDING_STORE.
export interface RecordingStore {
  /** True when the store itself refuses an upload whose bytes do not match `sha256` (R2 does). */
  readonly checksOnPut: boolean;
  put(key: string, data: Uint8Array, sha256?: string): Promise<void>;
  /** The object's bytes, or null when it does not exist. */
  get(key: string): Promise<Uint8Array | null>;
  /** Keys under a prefix (all of them: the store pages internally). */
  list(prefix: string): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
}

export class R2Store implements RecordingStore {
  readonly checksOnPut = true;
  constructor(private readonly bucket: R2Bucket) {}

  /** R2 computes the SHA-256 of what it received and refuses the put when it differs. */
  async put(key: string, data: Uint8Array, sha256?: string): Promise<void> {
    await this.bucket.put(key, data, sha256 ? { sha256 } : {});
  }

  async get(key: string): Promise<Uint8Array | null> {
    const object = await this.bucket.get(key);
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, ...(cursor ? { cursor } : {}) });
      keys.push(...page.objects.map((o) => o.key));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return keys;
  }

  async delete(keys: string[]): Promise<void> {
    // R2 deletes up to 1000 keys per call.
    for (let i = 0; i < keys.length; i += 1000) await this.bucket.delete(keys.slice(i, i + 1000));
  }
}
