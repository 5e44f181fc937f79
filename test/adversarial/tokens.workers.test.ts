// Attacks with connector tokens inside workerd: a captured token replayed, a token minted for one session's
// data socket aimed at another session's or at the control socket, tokens forged or stretched, and tokens of
// one kind (user cookie, session grant, connector token) presented as another. Each test names the attack
// and the guarantee (docs/security.md, docs/connector.md).
import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { connectorToken } from "../../connector/keys.ts";
import { verifyGrant } from "../../connector/grant.ts";
import {
  CONNECTOR_TOKEN_AUD,
  CONNECTOR_TOKEN_TYP,
  connectorEndpoint,
  encodeMessage,
  PROTOCOL_VERSION,
} from "../../protocol/index.ts";
import {
  api,
  checkout,
  connectControl,
  hasText,
  login,
  ORIGIN,
  openSocket,
  seedSite,
  seedUser,
} from "../../worker/test/harness.ts";

type Site = Awaited<ReturnType<typeof seedSite>>;

/** Upgrade status of a connector socket path with this Authorization value (101 opened, 401 refused). */
async function upgrade(path: string, authorization: string): Promise<number> {
  const res = await SELF.fetch(`${ORIGIN}${path}`, { headers: { Upgrade: "websocket", Authorization: authorization } });
  if (res.status === 101) {
    res.webSocket?.accept();
    res.webSocket?.close(1000, "test done");
  } else await res.arrayBuffer();
  return res.status;
}

async function postInventory(authorization: string): Promise<number> {
  const res = await SELF.fetch(`${ORIGIN}${connectorEndpoint.inventory}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization },
    body: JSON.stringify({ servers: [] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Another connector of the site, straight into D1, whose private key the test holds (to forge with). */
async function enrolledKey(site: Site): Promise<{ id: string; key: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const id = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, 'c2', ?, ?)")
    .bind(id, site.siteId, JSON.stringify(await exportJWK(publicKey)), Date.now())
    .run();
  return { id, key: await exportJWK(privateKey) };
}

/** Signs connector-token-shaped claims with `key`, as an attacker holding (or guessing) a key would. */
async function craft(
  connector: { id: string; key: JWK },
  claims: Record<string, unknown>,
  { ttlSeconds = 60, iat }: { ttlSeconds?: number; iat?: number } = {},
): Promise<string> {
  const now = iat ?? Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", typ: CONNECTOR_TOKEN_TYP })
    .setIssuer(connector.id)
    .setSubject(connector.id)
    .setAudience(CONNECTOR_TOKEN_AUD)
    .setIssuedAt(now)
    .setJti(crypto.randomUUID())
    .setExpirationTime(now + ttlSeconds)
    .sign(await importJWK(connector.key, "EdDSA"));
}

describe("connector tokens: single use, bound to the endpoint and session they were minted for", () => {
  let site: Site;
  let cookie: string;
  let sessionA: string;
  let sessionB: string;
  let grantA: string;

  beforeAll(async () => {
    site = await seedSite();
    const username = `u${crypto.randomUUID().slice(0, 8)}`;
    await site.entitle(await seedUser(username, "user-password-1", ["requester"]));
    cookie = await login(username, "user-password-1");
    const control = await connectControl(site);
    const open = async () => {
      const { id: checkoutId } = await checkout(cookie, site);
      const res = await api("/api/sessions", { method: "POST", cookie, body: { checkoutId } });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };
      await control.next(hasText("open", { sessionId: id }), "open");
      return id;
    };
    sessionA = await open();
    sessionB = await open();
    grantA = (control.texts.find((m) => (m as { sessionId?: string }).sessionId === sessionA) as { grant: string })
      .grant;
  });

  it("replay: a captured control-socket token opens the control socket once; the second use is refused", async () => {
    const token = `Bearer ${await site.token(connectorEndpoint.control)}`;
    expect(await upgrade(connectorEndpoint.control, token)).toBe(101);
    expect(await upgrade(connectorEndpoint.control, token)).toBe(401);
  });

  it("replay: a data-socket token used by the connector cannot be used again for the same session", async () => {
    const token = `Bearer ${await site.token(connectorEndpoint.session(sessionA))}`;
    const first = await openSocket(connectorEndpoint.session(sessionA), { Authorization: token });
    first.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: sessionA }));
    await first.next(hasText("hello"), "room hello");
    expect(await upgrade(connectorEndpoint.session(sessionA), token)).toBe(401);
    first.ws.close(1000, "test done");
  });

  it("race: the same token presented twice at once opens exactly one socket", async () => {
    const token = `Bearer ${await site.token(connectorEndpoint.control)}`;
    const statuses = await Promise.all([
      upgrade(connectorEndpoint.control, token),
      upgrade(connectorEndpoint.control, token),
      upgrade(connectorEndpoint.control, token),
    ]);
    expect(statuses.sort()).toEqual([101, 401, 401]);
  });

  it("confused endpoint: session A's data-socket token opens neither B's data socket, nor the control socket, nor the inventory", async () => {
    const token = `Bearer ${await site.token(connectorEndpoint.session(sessionA))}`;
    expect(await upgrade(connectorEndpoint.session(sessionB), token)).toBe(401);
    expect(await upgrade(connectorEndpoint.control, token)).toBe(401);
    expect(await postInventory(token)).toBe(401);
    // Refusals do not burn it: it still opens A's, once (a stranger cannot spend the connector's token elsewhere).
    expect(await upgrade(connectorEndpoint.session(sessionA), token)).toBe(101);
  });

  it("confused endpoint: a control or inventory token opens no data socket", async () => {
    expect(await upgrade(connectorEndpoint.session(sessionA), `Bearer ${await site.token()}`)).toBe(401);
    const inventory = `Bearer ${await site.token(connectorEndpoint.inventory)}`;
    expect(await upgrade(connectorEndpoint.session(sessionA), inventory)).toBe(401);
    expect(await postInventory(inventory)).toBe(200);
    expect(await postInventory(inventory)).toBe(401); // and is itself single use
  });

  it("unbound: a token without an endpoint (what connectors minted before) is refused everywhere", async () => {
    const other = await enrolledKey(site);
    const unbound = `Bearer ${await craft(other, {})}`;
    expect(await upgrade(connectorEndpoint.control, unbound)).toBe(401);
    expect(await upgrade(connectorEndpoint.session(sessionA), unbound)).toBe(401);
    expect(await postInventory(unbound)).toBe(401);
    // The same key with an endpoint is accepted: the refusals above are about the binding.
    expect(
      await upgrade(connectorEndpoint.control, `Bearer ${await craft(other, { ep: connectorEndpoint.control })}`),
    ).toBe(101);
  });

  it("stretched: a token claiming a life longer than 120 s is refused (its jti could not be remembered long enough)", async () => {
    const other = await enrolledKey(site);
    const long = await craft(other, { ep: connectorEndpoint.control }, { ttlSeconds: 24 * 3600 });
    expect(await upgrade(connectorEndpoint.control, `Bearer ${long}`)).toBe(401);
  });

  it("forged: a token signed with a key the site never enrolled, naming an enrolled connector, is refused", async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const forged = await craft(
      { id: site.connectorId, key: await exportJWK(privateKey) },
      { ep: connectorEndpoint.session(sessionA) },
    );
    expect(await upgrade(connectorEndpoint.session(sessionA), `Bearer ${forged}`)).toBe(401);
    // An unsigned token (alg none) is not even parsed as one.
    const [, body] = forged.split(".");
    const none = `${btoa(JSON.stringify({ alg: "none", typ: CONNECTOR_TOKEN_TYP })).replace(/=+$/, "")}.${body}.`;
    expect(await upgrade(connectorEndpoint.session(sessionA), `Bearer ${none}`)).toBe(401);
  });

  it("confused kind: a user's session cookie or a session grant cannot stand in for a connector token", async () => {
    const userToken = cookie.slice(cookie.indexOf("=") + 1);
    expect(await upgrade(connectorEndpoint.control, `Bearer ${userToken}`)).toBe(401);
    expect(await upgrade(connectorEndpoint.session(sessionA), `Bearer ${userToken}`)).toBe(401);
    // The grant is signed by the edge itself and names session A: still not a connector's proof of key.
    expect(await upgrade(connectorEndpoint.control, `Bearer ${grantA}`)).toBe(401);
    expect(await upgrade(connectorEndpoint.session(sessionA), `Bearer ${grantA}`)).toBe(401);
    expect(await postInventory(`Bearer ${grantA}`)).toBe(401);
  });

  it("confused kind: a connector token is neither a user's cookie nor a session grant", async () => {
    const token = await site.token(connectorEndpoint.control);
    const res = await SELF.fetch(`${ORIGIN}/api/me`, {
      headers: { cookie: `${cookie.slice(0, cookie.indexOf("="))}=${token}` },
    });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    // The connector verifies grants against the edge key it pinned: a connector token (or a user cookie) is refused.
    const { d: _private, ...edgePublic } = JSON.parse(env.EDGE_SIGNING_KEY) as JWK;
    const expected = { edgeKey: edgePublic, siteId: site.siteId, sessionId: sessionA };
    await expect(verifyGrant(token, expected)).rejects.toThrow(/grant verification failed/);
    await expect(verifyGrant(cookie.slice(cookie.indexOf("=") + 1), expected)).rejects.toThrow(
      /grant verification failed/,
    );
    // The real grant's signature, typ, site and session pass (this seeded credential is not one a grant may
    // carry, so it stops at the claims: past the point where the two above were refused).
    await expect(verifyGrant(grantA, expected)).rejects.toThrow(/grant claims malformed/);
  });

  it("minted tokens differ per use: the connector never reuses a jti", async () => {
    const key = await enrolledKey(site);
    const a = await connectorToken(key.id, key.key, connectorEndpoint.control);
    const b = await connectorToken(key.id, key.key, connectorEndpoint.control);
    expect(a).not.toBe(b);
    expect(await upgrade(connectorEndpoint.control, `Bearer ${a}`)).toBe(101);
    expect(await upgrade(connectorEndpoint.control, `Bearer ${b}`)).toBe(101);
  });
});
