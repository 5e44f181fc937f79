// GET /api/edge-keys, the public key download for offline verification: auditors and admins get every key a
// manifest may be signed with (current, next, retired), public members only; no served key has a "d", even
// when the set handed in carries private keys; requesters are refused.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { openManifest, signManifest } from "../../recording/manifest.ts";
import { EdgePublicJwks } from "../../protocol/index.ts";
import { edgeKeyId } from "../../keys/edge-keys.ts";
import { edgeKey, publicKeySet, verificationKeys } from "../../edge-shared/keys.ts";
import { api, login, SAMPLE_MANIFEST, seedUser } from "../test/harness.ts";

describe("GET /api/edge-keys", () => {
  let auditor: string;
  let requester: string;
  beforeAll(async () => {
    await seedUser("ek-auditor", "edge-keys-password-1", ["auditor"]);
    await seedUser("ek-requester", "edge-keys-password-1", ["requester"]);
    auditor = await login("ek-auditor", "edge-keys-password-1");
    requester = await login("ek-requester", "edge-keys-password-1");
  });

  it("gives an auditor every verification key, named by kid, as a download with no private member", async () => {
    const res = await api("/api/edge-keys", { cookie: auditor });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain("psm-edge-keys.jwks.json");
    const text = await res.text();
    const set = EdgePublicJwks.parse(JSON.parse(text));
    const expected = await verificationKeys(env);
    expect(set.keys.map((k) => k.kid)).toEqual(expected.map((k) => k.kid));
    expect(set.keys).toHaveLength(3); // current, next, retired (vitest.config.ts)
    for (const key of set.keys) {
      expect(key).not.toHaveProperty("d");
      expect(key.kid).toBe(await edgeKeyId(key));
    }
    // Nothing private anywhere in the body: not the member, not the current or next key's secret value.
    expect(text).not.toContain('"d"');
    for (const secret of [env.EDGE_SIGNING_KEY, env.EDGE_SIGNING_KEY_NEXT])
      expect(text).not.toContain(String((JSON.parse(secret!) as { d: string }).d));
  });

  it("the downloaded set verifies a manifest the edge signs now", async () => {
    const set = (await (await api("/api/edge-keys", { cookie: auditor })).json()) as EdgePublicJwks;
    const manifest = SAMPLE_MANIFEST;
    const jws = await signManifest(manifest, await edgeKey(env.EDGE_SIGNING_KEY));
    await expect(openManifest(jws, set.keys)).resolves.toMatchObject({ recordingId: "r" });
  });

  it("never serves a private member, even from a retired list that holds private keys", async () => {
    const privateRetired = {
      kty: "OKP",
      crv: "Ed25519",
      x: "hEt4aP3GUK8TerSb5DXT6HT8ZGlpyLw8W-rr-pth35g",
      d: "KLTJTNr14SnIK-xb1OGltPmZf4IfnHaPlfsE13EsPBk",
    };
    const set = await publicKeySet({ ...env, EDGE_SIGNING_KEYS_RETIRED: JSON.stringify([privateRetired]) });
    expect(JSON.stringify(set)).not.toContain(privateRetired.d);
    expect(set.keys.every((k) => !("d" in k))).toBe(true);
    // The schema itself refuses a key with "d".
    expect(EdgePublicJwks.safeParse({ keys: [{ ...set.keys[0], d: privateRetired.d }] }).success).toBe(false);
  });

  it("refuses a requester", async () => {
    expect((await api("/api/edge-keys", { cookie: requester })).status).toBe(403);
    expect((await api("/api/edge-keys", {})).status).toBe(401);
  });
});
