// A real S3-compatible store for the e2e tests: s3rver on a free port with its own folder and the
// recordings bucket, a fault proxy in front of it (tests make the store fail on purpose), a direct
// client for reading back what the edge stored, and the Worker vars that point the edge at the proxy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { S3Store } from "../../edge-shared/recording/s3-store.ts";
import { type FaultProxy, startFaultProxy } from "./fault-proxy.ts";

export const S3_BUCKET = "psm-recordings";
export const S3_CREDS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export type LocalS3 = {
  /** s3rver itself, without the proxy. */
  endpoint: string;
  /** Reads and writes s3rver directly. */
  direct: S3Store;
  proxy: FaultProxy;
  /** Worker vars for startStack/startRdpStack: the edge stores recordings through the proxy. */
  vars: Record<string, string>;
  stop: () => Promise<void>;
};

export async function startLocalS3(): Promise<LocalS3> {
  const dir = mkdtempSync(join(tmpdir(), "psm-s3rver-"));
  const s3rver = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: dir });
  const { port } = (await s3rver.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  await new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: S3_CREDS }).send(
    new CreateBucketCommand({ Bucket: S3_BUCKET }),
  );
  const proxy = await startFaultProxy(endpoint, () => "none");
  return {
    endpoint,
    direct: new S3Store({ endpoint, region: "us-east-1", bucket: S3_BUCKET, ...S3_CREDS }),
    proxy,
    vars: {
      RECORDING_STORE: "s3",
      RECORDING_S3_ENDPOINT: proxy.url,
      RECORDING_S3_REGION: "us-east-1",
      RECORDING_S3_BUCKET: S3_BUCKET,
      RECORDING_S3_ACCESS_KEY_ID: S3_CREDS.accessKeyId,
      RECORDING_S3_SECRET_ACCESS_KEY: S3_CREDS.secretAccessKey,
    },
    async stop() {
      await proxy.close();
      await s3rver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
