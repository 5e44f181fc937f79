// The recording:verify CLI as a child process against a real s3rver: a stored recording verifies;
// a flipped byte, a deleted, reordered or truncated chunk and a chunk from another recording each
// exit 1 naming the problem; a downloaded .cast + manifest verifies offline, and a changed one fails; the
// edge's key set (GET /api/edge-keys) works as --key, its kid picking the key.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { exportJWK, generateKeyPair } from "jose";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chunkKey } from "../recording/chain.ts";
import { signManifest } from "../recording/manifest.ts";
import { S3Store } from "../edge-shared/recording/s3-store.ts";
import { namedPublicKey } from "../keys/edge-keys.ts";
import { buildRecording } from "../test/support/recording-fixture.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const creds = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const PARTS = [
  '{"version":2,"width":80,"height":24}\n[0,"m","start"]\n',
  '[1,"o","ls\\r\\n"]\n',
  '[2,"o","a b c\\r\\n"]\n',
  '[3,"m","end: user_exit"]\n',
];

let dir: string;
let server: S3rver;
let env: Record<string, string>;
let store: S3Store;
let keyFile: string;
let fixture: Awaited<ReturnType<typeof buildRecording>>;

function cli(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "scripts/recording-verify.ts", ...args],
      { cwd: ROOT, env: { ...process.env, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

async function put(id: string, change?: (objects: Map<string, Uint8Array>) => void) {
  const rec = await buildRecording(id, PARTS, fixture.keys);
  const objects = new Map(rec.objects.map((o) => [o.key, o.data]));
  change?.(objects);
  for (const [key, data] of objects) await store.put(key, data);
  return rec;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "psm-recverify-"));
  server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: join(dir, "s3") });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  await new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: creds }).send(
    new CreateBucketCommand({ Bucket: "rec" }),
  );
  env = {
    RECORDING_S3_ENDPOINT: endpoint,
    RECORDING_S3_BUCKET: "rec",
    RECORDING_S3_REGION: "us-east-1",
    RECORDING_S3_ACCESS_KEY_ID: creds.accessKeyId,
    RECORDING_S3_SECRET_ACCESS_KEY: creds.secretAccessKey,
  };
  store = new S3Store({ endpoint, bucket: "rec", region: "us-east-1", ...creds });
  fixture = await buildRecording("fixture", PARTS);
  keyFile = join(dir, "edge.jwk");
  writeFileSync(keyFile, JSON.stringify(fixture.privateJwk)); // the secret as deployed: "d" is dropped
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("npm run recording:verify", { timeout: 60_000 }, () => {
  it("verifies an untouched recording in the store", async () => {
    await put("good");
    const out = await cli(["good", "--key", keyFile]);
    expect(out.stdout).toContain("VERIFIED: recording good, 4 chunks");
    expect(out.code).toBe(0);
  });

  it("exits 1 naming each kind of tampering", async () => {
    const other = await buildRecording("other", ["x", '[9,"o","not ours"]\n', "y", "z"], fixture.keys);
    const cases: [string, (o: Map<string, Uint8Array>) => void, string][] = [
      [
        "flip",
        (o) => {
          o.get(chunkKey("flip", 2))![20]! ^= 1;
        },
        "hash #2",
      ],
      ["gone", (o) => void o.delete(chunkKey("gone", 1)), "missing #1"],
      [
        "swap",
        (o) => {
          const [a, b] = [o.get(chunkKey("swap", 1))!, o.get(chunkKey("swap", 2))!];
          o.set(chunkKey("swap", 1), b);
          o.set(chunkKey("swap", 2), a);
        },
        "hash #1: chunk 1 is chunk 2 moved",
      ],
      ["trunc", (o) => void o.delete(chunkKey("trunc", 3)), "missing #3"],
      ["cut", (o) => void o.set(chunkKey("cut", 3), o.get(chunkKey("cut", 3))!.subarray(0, 15)), "hash #3"],
      [
        "foreign",
        (o) => void o.set(chunkKey("foreign", 1), other.objects[1]!.data),
        "hash #1: chunk 1 comes from another recording",
      ],
    ];
    for (const [id, change, expected] of cases) {
      await put(id, change);
      const out = await cli([id, "--key", keyFile]);
      expect(out.stdout, id).toContain(expected);
      expect(out.stdout, id).toContain("TAMPERED");
      expect(out.code, id).toBe(1);
    }
  });

  it("verifies a downloaded .cast with its manifest offline, and refuses a changed one", async () => {
    const castFile = join(dir, "s.cast");
    const manifestFile = join(dir, "s.manifest.jws");
    writeFileSync(castFile, PARTS.join(""));
    writeFileSync(manifestFile, fixture.jws);
    expect((await cli(["--cast", castFile, "--manifest", manifestFile, "--key", keyFile])).code).toBe(0);
    writeFileSync(castFile, PARTS.join("").replace("a b c", "a b d"));
    const out = await cli(["--cast", castFile, "--manifest", manifestFile, "--key", keyFile]);
    expect(out.stdout).toContain("hash #2");
    expect(out.code).toBe(1);
    expect((await cli(["--key", keyFile])).code).toBe(2);
  });

  it("takes the edge's key set as the replay page downloads it, and picks the manifest's key by kid", async () => {
    const other = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const named = async (k: CryptoKey) => namedPublicKey(await exportJWK(k));
    const current = await named(fixture.keys.publicKey);
    const jws = await signManifest(fixture.manifest, { privateKey: fixture.keys.privateKey, kid: current.kid! });
    const castFile = join(dir, "k.cast");
    const manifestFile = join(dir, "k.manifest.jws");
    const setFile = join(dir, "edge-keys.jwks.json");
    writeFileSync(castFile, PARTS.join(""));
    writeFileSync(manifestFile, jws);
    // The signing key second: the kid picks it, not its place in the set.
    writeFileSync(setFile, JSON.stringify({ keys: [await named(other.publicKey), current] }));
    const ok = await cli(["--cast", castFile, "--manifest", manifestFile, "--key", setFile]);
    expect(ok.stdout).toContain("VERIFIED");
    expect(ok.code).toBe(0);
    writeFileSync(setFile, JSON.stringify({ keys: [await named(other.publicKey)] }));
    const stranger = await cli(["--cast", castFile, "--manifest", manifestFile, "--key", setFile]);
    expect(stranger.stdout).toContain("signed by a key the edge does not know");
    expect(stranger.code).toBe(1);
    writeFileSync(setFile, JSON.stringify({ keys: [] }));
    expect((await cli(["--cast", castFile, "--manifest", manifestFile, "--key", setFile])).code).toBe(2);
  });

  it("verifies a desktop recording (.guac) the same way, in the store and offline", async () => {
    const guac = ["4.sync,1.0;", "4.size,1.0,2.64,2.48;3.img,1.1,2.14,1.0,9.image/png,1.0,1.0;", "4.sync,3.900;"];
    const rec = await buildRecording("desk", guac, fixture.keys, "guacamole");
    for (const o of rec.objects) await store.put(o.key, o.data);
    const stored = await cli(["desk", "--key", keyFile]);
    expect(stored.stdout).toContain("VERIFIED: recording desk, 3 chunks");
    const guacFile = join(dir, "s.guac");
    const manifestFile = join(dir, "desk.manifest.jws");
    writeFileSync(guacFile, guac.join(""));
    writeFileSync(manifestFile, rec.jws);
    const offline = await cli(["--cast", guacFile, "--manifest", manifestFile, "--key", keyFile]);
    expect(offline.stdout).toContain("format: guacamole");
    expect(offline.code).toBe(0);
    writeFileSync(guacFile, guac.join("").replace("3.900", "3.901"));
    const changed = await cli(["--cast", guacFile, "--manifest", manifestFile, "--key", keyFile]);
    expect(changed.stdout).toContain("hash #2");
    expect(changed.code).toBe(1);
  });
});
