// The deployment's recording store, from its bindings: the R2 bucket unless RECORDING_STORE is "s3".
// The S3 client is loaded only when used, so the R2 path carries no AWS SDK.
import type { Env } from "../../worker/env.ts";
import { R2Store, type RecordingStore } from "./store.ts";

let cached: { env: Env; store: RecordingStore } | undefined;

export async function recordingStore(env: Env): Promise<RecordingStore> {
  if (cached?.env === env) return cached.store;
  let store: RecordingStore;
  if (env.RECORDING_STORE === "s3") {
    const { S3Store } = await import("./s3-store.ts");
    const need = (name: keyof Env) => {
      const value = env[name];
      if (typeof value !== "string" || !value) throw new Error(`${name} is not set`);
      return value;
    };
    store = new S3Store({
      endpoint: need("RECORDING_S3_ENDPOINT"),
      region: env.RECORDING_S3_REGION || "auto",
      bucket: need("RECORDING_S3_BUCKET"),
      accessKeyId: need("RECORDING_S3_ACCESS_KEY_ID"),
      secretAccessKey: need("RECORDING_S3_SECRET_ACCESS_KEY"),
    });
  } else {
    if (!env.RECORDINGS) throw new Error("no RECORDINGS bucket is bound");
    store = new R2Store(env.RECORDINGS);
  }
  cached = { env, store };
  return store;
}
