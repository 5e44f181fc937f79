// Trust moving from edge key to edge key, attacked: an announcement signed by a key the connector does not
// trust, a replayed older one, one that leaves out its signer; and grants signed before and after a rotation.
import { CompactSign, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { GrantRejected, verifyGrant } from "../connector/grant.ts";
import { EDGE_KEYS_TYP } from "../protocol/edge-keys.ts";
import { EDGE_ISSUER, GRANT_ALG, GRANT_TYP, grantAudience } from "../protocol/tokens.ts";
import { acceptEdgeKeys, EdgeKeysRejected, edgeKeyId, keyFor, namedPublicKey } from "./edge-keys.ts";

async function key() {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const priv = await exportJWK(privateKey);
  return { priv, pub: await namedPublicKey(priv), kid: await edgeKeyId(priv) };
}
type Key = Awaited<ReturnType<typeof key>>;

async function announce(signer: Key, keys: JWK[], iat: number, typ = EDGE_KEYS_TYP) {
  const { importJWK } = await import("jose");
  return new CompactSign(
    new TextEncoder().encode(JSON.stringify({ keys: keys.map(({ alg: _a, use: _u, ...k }) => k), iat })),
  )
    .setProtectedHeader({ alg: GRANT_ALG, typ, kid: signer.kid })
    .sign(await importJWK(signer.priv, GRANT_ALG));
}

async function grant(signer: Key, withKid = true) {
  const { importJWK } = await import("jose");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    dl: now + 600,
    usr: { id: "u", name: "u" },
    tgt: { host: "10.0.0.1", port: 22, protocol: "ssh", hostKey: `SHA256:${"A".repeat(43)}` },
    cred: { id: "c", username: "root", kind: "password", sealed: "a.b.c.d.e" },
    rec: { required: false, keystrokes: false },
    ch: ["shell"],
  })
    .setProtectedHeader({ alg: GRANT_ALG, typ: GRANT_TYP, ...(withKid ? { kid: signer.kid } : {}) })
    .setIssuer(EDGE_ISSUER)
    .setAudience(grantAudience("site"))
    .setSubject("s")
    .setJti("j")
    .setIssuedAt()
    .setExpirationTime("60s")
    .sign(await importJWK(signer.priv, GRANT_ALG));
}

const verify = (g: string, trusted: JWK[]) => verifyGrant(g, { edgeKey: trusted, siteId: "site", sessionId: "s" });

describe("edge key rotation", () => {
  it("moves trust from the pinned key to the next one and retires the old one, without re-enrolling", async () => {
    const [old, next] = await Promise.all([key(), key()]);
    let trusted: JWK[] = [old.pub];
    // 1. The edge announces old + next, signed by old: the connector trusts both.
    const prepared = await acceptEdgeKeys(await announce(old, [old.pub, next.pub], 1), trusted, 0);
    trusted = prepared.keys as JWK[];
    await expect(verify(await grant(old), trusted)).resolves.toBeTruthy();
    await expect(verify(await grant(next), trusted)).resolves.toBeTruthy();
    // 2. The edge swaps: it signs with next and announces only next, signed by next.
    const swapped = await acceptEdgeKeys(await announce(next, [next.pub], 2), trusted, prepared.iat);
    trusted = swapped.keys as JWK[];
    // Old grants stop working at rotation; new ones verify.
    await expect(verify(await grant(old), trusted)).rejects.toBeInstanceOf(GrantRejected);
    await expect(verify(await grant(next), trusted)).resolves.toBeTruthy();
    // The first trusted key checks a grant made before kids existed.
    expect(await keyFor(await grant(next, false), trusted)).toEqual(trusted[0]);
  });

  it("refuses an announcement a trusted key did not sign, a replayed older one, and one without its signer", async () => {
    const [pinned, attacker, next] = await Promise.all([key(), key(), key()]);
    await expect(acceptEdgeKeys(await announce(attacker, [attacker.pub], 5), [pinned.pub])).rejects.toBeInstanceOf(
      EdgeKeysRejected,
    );
    // A key that claims a trusted kid but is not that key: the signature does not verify.
    const forged = await announce({ ...attacker, kid: pinned.kid }, [attacker.pub, pinned.pub], 5);
    await expect(acceptEdgeKeys(forged, [pinned.pub])).rejects.toBeInstanceOf(EdgeKeysRejected);
    await expect(acceptEdgeKeys(await announce(pinned, [pinned.pub], 3), [pinned.pub], 4)).rejects.toThrow(/older/);
    await expect(acceptEdgeKeys(await announce(pinned, [next.pub], 9), [pinned.pub])).rejects.toThrow(/own signer/);
    // A grant-typed JWS is no announcement.
    await expect(acceptEdgeKeys(await announce(pinned, [pinned.pub], 9, GRANT_TYP), [pinned.pub])).rejects.toThrow();
  });
});
