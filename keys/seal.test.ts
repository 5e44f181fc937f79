// Sealing a secret to a site (keys/seal.ts), as the browser and the edge do it, on web APIs only: it also runs
// under Deno (docs/deno.md). The connector's side, opening with its stored key, is connector/seal.test.ts.
import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { SealError, sealSecret } from "./seal.ts";
import { SEAL_ALG } from "../protocol/tokens.ts";
import { sealKid } from "./seal-kid.ts";

async function siteKey() {
  const { publicKey, privateKey } = await generateKeyPair(SEAL_ALG, { crv: "P-256", extractable: true });
  const pub = await exportJWK(publicKey);
  return { privateKey, pub: { ...pub, kid: await sealKid(pub) } as JWK & { kid: string } };
}

describe("sealSecret", () => {
  it("seals to the site's public key, names it by kid, and only the private key opens it", async () => {
    const site = await siteKey();
    const sealed = await sealSecret(site.pub, "hunter2-canary");
    expect(sealed).not.toContain("hunter2");
    const header = decodeProtectedHeader(sealed);
    expect(header).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM", cty: "psm-secret", kid: site.pub.kid });
    // epk: the sender's ephemeral public key, which ECDH-ES puts in the header; nothing else.
    expect(Object.keys(header).sort()).toEqual(["alg", "cty", "enc", "epk", "kid"]);
    const { plaintext } = await compactDecrypt(sealed, site.privateKey);
    expect(new TextDecoder().decode(plaintext)).toBe("hunter2-canary");
    await expect(compactDecrypt(sealed, (await siteKey()).privateKey)).rejects.toThrow();
  });

  it("pins its own algorithm whatever else the site's JWK says", async () => {
    const site = await siteKey();
    const sealed = await sealSecret({ ...site.pub, alg: "ECDH-ES", use: "sig", key_ops: ["verify"] }, "s");
    expect(decodeProtectedHeader(sealed).alg).toBe("ECDH-ES+A256KW");
    expect(new TextDecoder().decode((await compactDecrypt(sealed, site.privateKey)).plaintext)).toBe("s");
  });

  it("refuses an empty secret, a key that is not P-256, and a key with its private half", async () => {
    const site = await siteKey();
    const ed = await exportJWK((await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).publicKey);
    const withPrivate = await exportJWK(site.privateKey);
    await expect(sealSecret(site.pub, "")).rejects.toThrow("the secret is empty");
    await expect(sealSecret(ed, "s")).rejects.toThrow("not a P-256 key");
    await expect(sealSecret(withPrivate, "s")).rejects.toThrow("holds private material");
    await expect(sealSecret(withPrivate, "s")).rejects.toBeInstanceOf(SealError);
  });

  it("refuses a secret whose sealed form would exceed what the edge stores (16 KiB)", async () => {
    const site = await siteKey();
    await expect(sealSecret(site.pub, "x".repeat(12 * 1024))).rejects.toThrow("too large");
    expect((await sealSecret(site.pub, "x".repeat(11 * 1024))).length).toBeLessThanOrEqual(16 * 1024);
  });
});
