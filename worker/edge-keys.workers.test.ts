// The edge signing key's lifecycle inside workerd (worker/keys.ts): the hub announces the current and the
// next key to each connector, vouched for by the current one; grants name their key; manifests signed by a
// retired key still verify, and one signed by a key the edge never had does not. (Trust moving at the
// connector, attacked: protocol/edge-keys.test.ts.)
import { env } from "cloudflare:test";
import { decodeProtectedHeader, importJWK, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { ManifestError, openManifest, signManifest } from "../recording/manifest.ts";
import { acceptEdgeKeys, edgeKeyId } from "../keys/edge-keys.ts";
import { signGrant } from "./grants.ts";
import { announcedKeys, edgeKey, verificationKeys } from "../edge-shared/keys.ts";
import { connectControl, hasText, SAMPLE_MANIFEST, seedSite } from "./test/harness.ts";

/** The retired key's private half (vitest.config.ts lists its public half as retired). */
const RETIRED: JWK = {
  kty: "OKP",
  crv: "Ed25519",
  x: "hEt4aP3GUK8TerSb5DXT6HT8ZGlpyLw8W-rr-pth35g",
  d: "KLTJTNr14SnIK-xb1OGltPmZf4IfnHaPlfsE13EsPBk",
};

const manifest = SAMPLE_MANIFEST;

describe("edge signing keys", () => {
  it("a connector hears the current and next keys, signed by the current one, right after hello", async () => {
    const site = await seedSite();
    const control = await connectControl(site);
    await control.next(hasText("edge_keys"), "the key announcement");
    const { keys } = control.texts.find((m) => (m as { type: string }).type === "edge_keys") as { keys: string };
    const current = (await edgeKey(env.EDGE_SIGNING_KEY)).publicJwk;
    // What a connector that pinned the current key at enrollment does with it.
    const set = await acceptEdgeKeys(keys, [current]);
    const announced = await announcedKeys(env);
    expect(announced).toHaveLength(2);
    expect(set.keys.map((k) => k.kid)).toEqual(announced.map((k) => k.kid));
    expect(set.keys.every((k) => !("d" in k))).toBe(true);
    control.ws.close();
  });

  it("grants name the key that signed them", async () => {
    const grant = await signGrant(env.EDGE_SIGNING_KEY, {
      sessionId: "s",
      siteId: "site",
      dl: Math.floor(Date.now() / 1000) + 60,
      usr: { id: "u", name: "u" },
      tgt: { host: "10.0.0.1", port: 22, protocol: "ssh", hostKey: `SHA256:${"A".repeat(43)}` },
      cred: { id: "c", username: "root", kind: "password", sealed: "a.b.c.d.e" },
      rec: { required: false, keystrokes: false },
      ch: ["shell"],
    });
    expect(decodeProtectedHeader(grant).kid).toBe(await edgeKeyId(JSON.parse(env.EDGE_SIGNING_KEY) as JWK));
  });

  it("manifests signed by a retired key still verify; one from a key the edge never had does not", async () => {
    const keys = await verificationKeys(env);
    const retired = await signManifest(manifest, {
      privateKey: (await importJWK(RETIRED, "EdDSA")) as CryptoKey,
      kid: await edgeKeyId(RETIRED),
    });
    await expect(openManifest(retired, keys)).resolves.toMatchObject({ recordingId: "r" });
    const current = await signManifest(manifest, await edgeKey(env.EDGE_SIGNING_KEY));
    await expect(openManifest(current, keys)).resolves.toMatchObject({ recordingId: "r" });
    const { privateKey } = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const stranger = await signManifest(manifest, { privateKey, kid: "not-a-key-of-ours" });
    await expect(openManifest(stranger, keys)).rejects.toBeInstanceOf(ManifestError);
  });
});
