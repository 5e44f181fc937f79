// `npm run recording:verify`: checks a recording against its signed manifest, straight from the
// object store (not trusting the edge), or a downloaded .cast / .guac + manifest offline. Both formats
// (asciicast for terminals, Guacamole for desktops) are checked the same way: bytes against the manifest.
// Exit 0 verified, 1 tampered or incomplete, 2 could not check (usage, input, store).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { JWK } from "jose";
import type { IntegrityProblem } from "../protocol/index.ts";
import { chunkKey, manifestKey, recordingPrefix, seqOfKey } from "../recording/chain.ts";
import { type AnyManifest, ManifestError, openManifest } from "../recording/manifest.ts";
import { S3Store } from "../edge-shared/recording/s3-store.ts";
import { castProblems, manifestChunks, verifyRecording } from "../recording/verify.ts";

const USAGE = `usage: npm run recording:verify -- <recording-id> --key <edge-key.jwk>
         reads the store named by RECORDING_S3_ENDPOINT, RECORDING_S3_BUCKET, RECORDING_S3_REGION,
         RECORDING_S3_ACCESS_KEY_ID, RECORDING_S3_SECRET_ACCESS_KEY (R2's S3 endpoint works too)
       npm run recording:verify -- --cast <session.cast|session.guac> --manifest <session.manifest.jws> --key <edge-key.jwk>
The key file is the edge's public key set as the replay page downloads it (GET /api/edge-keys, a JWK Set:
the manifest's kid picks the key), or one Ed25519 public JWK (the EDGE_SIGNING_KEY secret without its "d").`;

class CannotCheck extends Error {}

/** One public JWK, or a JWK Set's keys (the manifest's kid then picks one); a private member is dropped. */
async function loadKey(path: string | undefined): Promise<JWK | JWK[]> {
  if (!path) throw new CannotCheck(`--key is required\n${USAGE}`);
  let parsed: JWK | { keys?: unknown };
  try {
    parsed = JSON.parse(await readFile(path, "utf8")) as JWK | { keys?: unknown };
  } catch (err) {
    throw new CannotCheck(`cannot read the key ${path}: ${(err as Error).message}`);
  }
  const publicOf = ({ d: _private, ...pub }: JWK): JWK => pub;
  if (!("keys" in parsed)) return publicOf(parsed as JWK);
  if (!Array.isArray(parsed.keys) || parsed.keys.length === 0)
    throw new CannotCheck(`the key set ${path} holds no keys`);
  return (parsed.keys as JWK[]).map(publicOf);
}

function print(id: string, status: string, chunks: number, problems: IntegrityProblem[]): number {
  for (const p of problems) console.log(`  ${p.kind}${p.seq !== undefined ? ` #${p.seq}` : ""}: ${p.detail}`);
  console.log(`${status.toUpperCase()}: recording ${id}, ${chunks} chunks`);
  return status === "verified" ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        key: { type: "string" },
        cast: { type: "string" },
        manifest: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  try {
    parsed = parse();
  } catch (err) {
    throw new CannotCheck(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new CannotCheck(USAGE);
  const key = await loadKey(values.key);

  if (values.cast || values.manifest) {
    if (!values.cast || !values.manifest || positionals.length) throw new CannotCheck(USAGE);
    let manifest: AnyManifest;
    try {
      manifest = await openManifest(await readFile(values.manifest, "utf8"), key);
    } catch (err) {
      if (err instanceof ManifestError) return print("?", "tampered", 0, [{ kind: "signature", detail: err.message }]);
      throw new CannotCheck(`cannot read ${values.manifest}: ${(err as Error).message}`);
    }
    const chain = await manifestChunks(manifest);
    const problems = [...chain.problems, ...(await castProblems(await readFile(values.cast), chain.entries))];
    const status = problems.length ? "tampered" : manifest.complete ? "verified" : "incomplete";
    console.log(`format: ${manifest.format}`);
    return print(manifest.recordingId, status, manifest.chunks.length, problems);
  }

  const [id] = positionals;
  if (!id || positionals.length !== 1) throw new CannotCheck(USAGE);
  const env = process.env;
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new CannotCheck(`${name} is not set\n${USAGE}`);
    return v;
  };
  const store = new S3Store({
    endpoint: need("RECORDING_S3_ENDPOINT"),
    bucket: need("RECORDING_S3_BUCKET"),
    region: env.RECORDING_S3_REGION || "auto",
    accessKeyId: need("RECORDING_S3_ACCESS_KEY_ID"),
    secretAccessKey: need("RECORDING_S3_SECRET_ACCESS_KEY"),
  });
  let seqs: number[];
  try {
    seqs = (await store.list(recordingPrefix(id))).map(seqOfKey).filter((s): s is number => s !== null);
  } catch (err) {
    throw new CannotCheck(`cannot reach the store: ${(err as Error).message}`);
  }
  const { report } = await verifyRecording(
    id,
    {
      manifest: async () => {
        const m = await store.get(manifestKey(id));
        return m && new TextDecoder().decode(m);
      },
      list: async () => seqs,
      chunk: (seq) => store.get(chunkKey(id, seq)),
    },
    key,
  );
  return print(id, report.status, report.chunks, report.problems);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof CannotCheck ? err.message : `error: ${(err as Error).message}`);
    process.exit(2);
  },
);
