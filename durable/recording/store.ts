// Where sealed recordings live: one small interface, with the R2 binding (default) and any
// S3-compatible store (s3-store.ts) behind it. Chosen per deployment by RECORDING_STORE.
export interface RecordingStore {
  put(key: string, data: Uint8Array): Promise<void>;
  /** The object's bytes, or null when it does not exist. */
  get(key: string): Promise<Uint8Array | null>;
  /** Keys under a prefix (all of them: the store pages internally). */
  list(prefix: string): Promise<string[]>;
  delete(keys: string[]): Promise<void>;
}

export class R2Store implements RecordingStore {
  constructor(private readonly bucket: R2Bucket) {}

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.bucket.put(key, data);
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
