// Connector identity keys rotate (worker/routes/connector-identity.ts): an admin asks an online connector,
// the connector registers a new public key with a token from its current one, and from then on only the
// new key authenticates it. Attacked as someone holding the old key, or trying to register a key with it.
import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { connectorToken } from "../connector/keys.ts";
import { connectorEndpoint } from "../protocol/index.ts";
import { connectControl, hasText, login, ORIGIN, seedSite, seedUser } from "./test/harness.ts";

async function newKey(): Promise<{ priv: JWK; pub: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { priv: await exportJWK(privateKey), pub: await exportJWK(publicKey) };
}

function register(token: string, publicKey: unknown) {
  return SELF.fetch(`${ORIGIN}${connectorEndpoint.identity}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ publicKey }),
  });
}

function dialControl(token: string) {
  return SELF.fetch(`${ORIGIN}${connectorEndpoint.control}`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
  });
}

describe("connector identity key rotation", () => {
  it("the admin's request reaches the online connector; an offline one is a conflict", async () => {
    const site = await seedSite();
    const name = `adm${crypto.randomUUID().slice(0, 6)}`;
    await seedUser(name, "admin-password-1", ["admin"]);
    const cookie = await login(name, "admin-password-1");
    const ask = () =>
      SELF.fetch(`${ORIGIN}/api/sites/${site.siteId}/connectors/${site.connectorId}/rotate-key`, {
        method: "POST",
        headers: { cookie, origin: ORIGIN, "content-type": "application/json" },
        body: "{}",
      });
    expect((await ask()).status).toBe(409);
    const control = await connectControl(site);
    expect((await ask()).status).toBe(200);
    await control.next(hasText("rotate_identity"), "rotate_identity on the control socket");
  });

  it("after rotation only the new key authenticates; the old one opens nothing", async () => {
    const site = await seedSite();
    const next = await newKey();
    const res = await register(await site.token(connectorEndpoint.identity), next.pub);
    expect(res.status).toBe(200);
    // The old key: refused everywhere, including to register yet another key.
    expect((await dialControl(await site.token())).status).toBe(401);
    expect((await register(await site.token(connectorEndpoint.identity), (await newKey()).pub)).status).toBe(401);
    // The new key dials.
    const dialed = await dialControl(await connectorToken(site.connectorId, next.priv, connectorEndpoint.control));
    expect(dialed.status).toBe(101);
    dialed.webSocket?.accept();
    dialed.webSocket?.close();
    const row = await env.DB.prepare("SELECT public_key FROM connectors WHERE id = ?")
      .bind(site.connectorId)
      .first<{ public_key: string }>();
    expect(JSON.parse(row!.public_key)).toEqual({ kty: "OKP", crv: "Ed25519", x: next.pub.x });
  });

  it("refuses a key with a private part, a token minted for another path, and a revoked connector", async () => {
    const site = await seedSite();
    const next = await newKey();
    expect((await register(await site.token(connectorEndpoint.identity), next.priv)).status).toBe(400);
    expect((await register(await site.token(connectorEndpoint.control), next.pub)).status).toBe(401);
    await env.DB.prepare("UPDATE connectors SET revoked_at = ? WHERE id = ?").bind(Date.now(), site.connectorId).run();
    expect((await register(await site.token(connectorEndpoint.identity), next.pub)).status).toBe(401);
  });
});
