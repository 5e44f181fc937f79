// `npx tsx scripts/vapid-key.ts`: a new VAPID key for Web Push (RFC 8292), a private P-256 JWK on stdout for
// `wrangler secret put PUSH_VAPID_KEY`; its public key (what browsers subscribe with) on stderr. Generate it once:
// a new key orphans every subscription (browsers subscribed to the old public key), so people click
// "Notify this device" again. docs/notifications.md has the steps.
import { webcrypto } from "node:crypto";

async function main(): Promise<void> {
  const pair = await webcrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const jwk = await webcrypto.subtle.exportKey("jwk", pair.privateKey);
  const raw = new Uint8Array(await webcrypto.subtle.exportKey("raw", pair.publicKey));
  process.stderr.write(`public key ${Buffer.from(raw).toString("base64url")}\n`);
  process.stdout.write(`${JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exitCode = 2;
});
