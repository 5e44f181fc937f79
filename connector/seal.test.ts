import { generateKeyPairSync } from "node:crypto";
import { compactDecrypt, CompactEncrypt, decodeProtectedHeader, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { OutputCredit } from "./credit.ts";
import { hostKeyFingerprint } from "./host-key.ts";
import { generateSealKey, publicJwk } from "./keys.ts";
import { openSealed, sealingProblem, sealSecret } from "./seal.ts";

describe("sealed credentials", () => {
  it("seals to the site's public key so that only the private key opens it", async () => {
    const site = await generateSealKey();
    const sealed = await sealSecret(publicJwk(site), "hunter2-canary");
    expect(sealed).not.toContain("hunter2");
    expect(decodeProtectedHeader(sealed)).toMatchObject({ alg: "ECDH-ES+A256KW", enc: "A256GCM", cty: "psm-secret" });
    expect((await openSealed(site, sealed)).toString()).toBe("hunter2-canary");
    const other = await generateSealKey();
    await expect(openSealed(other, sealed)).rejects.toThrow();
  });

  it("refuses a blob sealed with a weaker algorithm", async () => {
    const site = await generateSealKey();
    const weak = await new CompactEncrypt(new TextEncoder().encode("x"))
      .setProtectedHeader({ alg: "ECDH-ES", enc: "A128GCM" })
      .encrypt(await importJWK(publicJwk(site), "ECDH-ES"));
    await expect(openSealed(site, weak)).rejects.toThrow();
    // sanity: the blob itself is valid for its own algorithm
    await expect(compactDecrypt(weak, await importJWK(site, "ECDH-ES"))).resolves.toBeTruthy();
  });

  it("detects a flipped byte in the ciphertext", async () => {
    const site = await generateSealKey();
    const parts = (await sealSecret(publicJwk(site), "secret")).split(".");
    const ct = Buffer.from(parts[3]!, "base64url");
    ct[0]! ^= 1;
    parts[3] = ct.toString("base64url");
    await expect(openSealed(site, parts.join("."))).rejects.toThrow();
  });
});

describe("psm-connector seal refuses a key the connector could not load", () => {
  const ec = () => generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const sec1 = ec().export({ type: "sec1", format: "pem" }) as string;

  it("seals a loadable key and a password", () => {
    expect(sealingProblem(sec1)).toBeUndefined();
    expect(sealingProblem(sec1, "private_key")).toBeUndefined();
    expect(sealingProblem("hunter2-canary")).toBeUndefined();
    expect(sealingProblem("hunter2-canary", "password")).toBeUndefined();
  });

  it("says what is wrong with a key it refuses", () => {
    expect(sealingProblem(`${sec1}\n# ops laptop\n`)).toMatch(/Text after the END line/);
    expect(sealingProblem(ec().export({ type: "pkcs8", format: "pem" }) as string)).toMatch(
      /Unsupported key format \(PKCS#8/,
    );
    const encrypted = ec().export({ type: "sec1", format: "pem", cipher: "aes-128-cbc", passphrase: "pw" });
    expect(sealingProblem(encrypted as string)).toMatch(/encrypted/);
    expect(sealingProblem("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA comment")).toMatch(/public key/);
    expect(sealingProblem("hunter2-canary", "private_key")).toMatch(/Unsupported key format/);
    expect(sealingProblem("")).toMatch(/empty/);
  });

  it("refuses a key sealed as a password (a wrong kind for the account)", () => {
    expect(sealingProblem(sec1, "password")).toMatch(/--kind private_key/);
  });

  it("refuses a well-formed key whose private number is zero (ssh2 cannot derive its public key)", () => {
    // A SEC1 key whose private scalar is zero: well-formed, but ssh2 cannot derive its public point.
    const der = Buffer.from(sec1.split("\n").slice(1, -2).join(""), "base64");
    const at = der.indexOf(Buffer.from([0x04, 0x20])) + 2;
    der.fill(0, at, at + 32);
    const zero = `-----BEGIN EC PRIVATE KEY-----\n${der.toString("base64")}\n-----END EC PRIVATE KEY-----\n`;
    expect(sealingProblem(zero)).toBeDefined();
  });
});

describe("host key fingerprints", () => {
  it("matches OpenSSH's SHA256 format", () => {
    // ssh-keygen -lf prints SHA256:<unpadded base64 of sha256(blob)>
    expect(hostKeyFingerprint(Buffer.from("abc"))).toBe("SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
  });
});

describe("output credit", () => {
  it("starts closed, opens on attach, pauses when spent and resumes on credit", () => {
    const credit = new OutputCredit();
    expect(credit.bytes).toBe(0);
    expect(credit.attach(100, null)).toBe(true);
    expect(credit.spend(60)).toBe(false);
    expect(credit.spend(60)).toBe(true); // overdrawn by at most one chunk
    expect(credit.grant(10)).toBe(false);
    expect(credit.grant(50)).toBe(true);
    expect(credit.acked).toBe(60);
  });

  it("never acknowledges past what was sent, and a resume only moves the acknowledgement forward", () => {
    const credit = new OutputCredit();
    credit.attach(100, null);
    credit.spend(50);
    credit.grant(80);
    expect(credit.acked).toBe(50);
    credit.spend(30);
    expect(credit.attach(100, 40)).toBe(true);
    expect(credit.acked).toBe(50);
    expect(credit.attach(100, 70)).toBe(true);
    expect(credit.acked).toBe(70);
    expect(credit.attach(100)).toBe(true);
    expect(credit.acked).toBe(70);
    expect(credit.attach(5, null)).toBe(true);
    expect(credit.acked).toBe(80);
    expect(credit.bytes).toBe(5);
  });
});
