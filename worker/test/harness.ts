// Helpers for tests inside the Workers runtime: seeded rows, logged-in cookies, a connector
// identity, and websocket clients that queue what they receive.
import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { connectorToken } from "../../connector/keys.ts";
import { encodeMessage, PROTOCOL_VERSION } from "../../protocol/index.ts";
import { hashPassword } from "../auth/password.ts";

export const ORIGIN = "http://psm.test";
export const BOOTSTRAP_TOKEN = "test-bootstrap-token-0123456789";

export async function seedUser(username: string, password: string, roles: string[]): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO users (id, username, password_hash, roles, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(id, username, await hashPassword(password), JSON.stringify(roles), Date.now())
    .run();
  return id;
}

export async function login(username: string, password: string): Promise<string> {
  const res = await SELF.fetch(`${ORIGIN}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return res.headers.get("set-cookie")!.split(";")[0]!;
}

export function api(path: string, init: { method?: string; cookie?: string; body?: unknown } = {}) {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...(init.cookie ? { cookie: init.cookie } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** A site with one enrolled connector, a server and a credential, seeded straight into D1. */
export async function seedSite() {
  const siteId = crypto.randomUUID();
  const connectorId = crypto.randomUUID();
  const serverId = crypto.randomUUID();
  const credentialId = crypto.randomUUID();
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const identityKey: JWK = await exportJWK(privateKey);
  const now = Date.now();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO sites (id, name, seal_key, created_at) VALUES (?, ?, ?, ?)").bind(
      siteId,
      `site-${siteId}`,
      '{"kty":"EC"}',
      now,
    ),
    env.DB.prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, 'c', ?, ?)").bind(
      connectorId,
      siteId,
      JSON.stringify(await exportJWK(publicKey)),
      now,
    ),
    env.DB.prepare(
      "INSERT INTO servers (id, name, host, port, protocol, site_id, host_key, created_at) VALUES (?, ?, '10.1.2.3', 22, 'ssh', ?, ?, ?)",
    ).bind(serverId, `srv-${serverId.slice(0, 8)}`, siteId, `SHA256:${"B".repeat(43)}`, now),
    env.DB.prepare(
      "INSERT INTO credentials (id, name, username, kind, site_id, sealed, created_at) VALUES (?, 'root pw', 'root', 'password', ?, 'SEALED.BLOB.MUST.NOTLEAK', ?)",
    ).bind(credentialId, siteId, now),
    env.DB.prepare("INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)").bind(
      serverId,
      credentialId,
    ),
  ]);
  return { siteId, connectorId, serverId, credentialId, token: () => connectorToken(connectorId, identityKey) };
}

export type Client = {
  ws: WebSocket;
  texts: unknown[];
  binaries: Uint8Array[];
  closed?: { code: number; reason: string };
  next: (pred: (c: Client) => boolean, what: string) => Promise<void>;
};

export async function openSocket(path: string, headers: Record<string, string>): Promise<Client> {
  const res = await SELF.fetch(`${ORIGIN}${path}`, { headers: { Upgrade: "websocket", ...headers } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  ws.accept();
  const client: Client = {
    ws,
    texts: [],
    binaries: [],
    next: async (pred, what) => {
      for (let i = 0; i < 200; i++) {
        if (pred(client)) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(
        `timed out waiting for ${what}: ${JSON.stringify(client.texts)} closed=${JSON.stringify(client.closed)}`,
      );
    },
  };
  let order = Promise.resolve<unknown>(undefined);
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") client.texts.push(JSON.parse(e.data));
    // workerd hands test-side sockets binary messages as Blobs; keep arrival order.
    else order = order.then(async () => client.binaries.push(new Uint8Array(await (e.data as Blob).arrayBuffer())));
  });
  ws.addEventListener("close", (e) => {
    client.closed = { code: e.code, reason: e.reason };
  });
  return client;
}

export const hasText =
  (type: string, extra: Record<string, unknown> = {}) =>
  (c: Client) =>
    c.texts.some((m) => {
      const msg = m as Record<string, unknown>;
      return msg.type === type && Object.entries(extra).every(([k, v]) => msg[k] === v);
    });

/** Connects a connector's control socket and says hello, as psm-connector does. */
export async function connectControl(site: Awaited<ReturnType<typeof seedSite>>): Promise<Client> {
  const control = await openSocket("/connector/control", { Authorization: `Bearer ${await site.token()}` });
  control.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, agent: "test" }));
  await control.next(hasText("hello"), "hub hello");
  return control;
}
