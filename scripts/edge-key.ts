// `npm run --silent edge-key -- new`: a new edge signing key (a private Ed25519 JWK) on stdout, its kid on
// stderr, for `wrangler secret put EDGE_SIGNING_KEY_NEXT` (or EDGE_SIGNING_KEY on a first deploy).
// `npm run --silent edge-key -- public < key.jwk`: that key's public half, named by its kid, for
// EDGE_SIGNING_KEYS_RETIRED and for `recording:verify --key`. docs/security.md has the rotation steps.
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { edgeKeyId, namedPublicKey } from "../keys/edge-keys.ts";

async function main(command: string | undefined): Promise<void> {
  if (command === "new") {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(privateKey);
    process.stderr.write(`kid ${await edgeKeyId(jwk)}\n`);
    process.stdout.write(`${JSON.stringify(jwk)}\n`);
    return;
  }
  if (command === "public") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const jwk = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JWK;
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new Error("not an Ed25519 JWK");
    process.stdout.write(`${JSON.stringify(await namedPublicKey(jwk))}\n`);
    return;
  }
  process.stderr.write("usage: npm run --silent edge-key -- new | public < key.jwk\n");
  process.exitCode = 2;
}

main(process.argv[2]).catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
});
