// Helpers for tests inside the Workers runtime: seeded rows, logged-in cookies, a connector
// identity, and websocket clients that queue what they receive.
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { connectorToken } from "../../connector/keys.ts";
import {
  connectorEndpoint,
  encodeMessage,
  PROTOCOL_VERSION,
  type RecordingManifest,
  SESSION_COOKIE,
} from "../../protocol/index.ts";
import { expect } from "vitest";
import type { RoomCore } from "../../durable/room/core.ts";
import type { RoomMeta } from "../../durable/room/types.ts";
import type { TimerName } from "../../durable/timers.ts";
import { SessionRoom } from "../../durable/session-room.ts";
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
  return sessionCookieOf(res)!;
}

/** The `__Host-psm_session=...` pair a response sets, if any. */
export function sessionCookieOf(res: Response): string | undefined {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`) && c.length > SESSION_COOKIE.length + 1);
}

export function api(path: string, init: { method?: string; cookie?: string; body?: unknown } = {}) {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...(init.cookie ? { cookie: init.cookie } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** A site and zone with one enrolled connector, a server and a credential, seeded straight into D1. */
export async function seedSite(policy: Record<string, unknown> = {}) {
  const siteId = crypto.randomUUID();
  const zoneId = crypto.randomUUID();
  const connectorId = crypto.randomUUID();
  const serverId = crypto.randomUUID();
  const credentialId = crypto.randomUUID();
  const groupId = crypto.randomUUID();
  const policyId = crypto.randomUUID();
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const identityKey: JWK = await exportJWK(privateKey);
  const now = Date.now();
  const columns = Object.keys(policy);
  await env.DB.batch([
    env.DB.prepare("INSERT INTO sites (id, name, seal_key, created_at) VALUES (?, ?, ?, ?)").bind(
      siteId,
      `site-${siteId}`,
      '{"kty":"EC"}',
      now,
    ),
    env.DB.prepare(
      `INSERT INTO policies (id, name, created_at${columns.map((c) => `, ${c}`).join("")}) VALUES (?, ?, ?${columns.map(() => ", ?").join("")})`,
    ).bind(policyId, `policy-${policyId}`, now, ...Object.values(policy)),
    env.DB.prepare("INSERT INTO zones (id, name, site_id, policy_id, created_at) VALUES (?, ?, ?, ?, ?)").bind(
      zoneId,
      `zone-${zoneId}`,
      siteId,
      policyId,
      now,
    ),
    env.DB.prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, 'c', ?, ?)").bind(
      connectorId,
      siteId,
      JSON.stringify(await exportJWK(publicKey)),
      now,
    ),
    env.DB.prepare(
      "INSERT INTO servers (id, name, host, port, protocol, site_id, zone_id, host_key, created_at) VALUES (?, ?, '10.1.2.3', 22, 'ssh', ?, ?, ?, ?)",
    ).bind(serverId, `srv-${serverId.slice(0, 8)}`, siteId, zoneId, `SHA256:${"B".repeat(43)}`, now),
    env.DB.prepare(
      "INSERT INTO credentials (id, name, username, kind, site_id, zone_id, sealed, created_at) VALUES (?, 'root pw', 'root', 'password', ?, ?, 'SEALED.BLOB.MUST.NOTLEAK', ?)",
    ).bind(credentialId, siteId, zoneId, now),
    env.DB.prepare("INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)").bind(
      serverId,
      credentialId,
    ),
    env.DB.prepare("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)").bind(groupId, `group-${groupId}`, now),
    env.DB.prepare("INSERT INTO access_grants (id, group_id, zone_id, created_at) VALUES (?, ?, ?, ?)").bind(
      crypto.randomUUID(),
      groupId,
      zoneId,
      now,
    ),
  ]);
  return {
    siteId,
    zoneId,
    policyId,
    groupId,
    connectorId,
    serverId,
    credentialId,
    /** The connector's private identity key (it signs recording chunks). */
    identityKey,
    /** A fresh single-use connector token for one edge path (default: the control socket). */
    token: (endpoint: string = connectorEndpoint.control) => connectorToken(connectorId, identityKey, endpoint),
    /** Makes the user a member of the group granted this zone. */
    entitle: (userId: string) =>
      env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(groupId, userId).run(),
  };
}

/** A group named `<prefix>-<random>` with these members, seeded straight into D1; returns its id. */
export async function seedGroup(prefix: string, ...members: string[]): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare("INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)").bind(
      id,
      `${prefix}-${id.slice(0, 6)}`,
      Date.now(),
    ),
    ...members.map((userId) =>
      env.DB.prepare("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").bind(id, userId),
    ),
  ]);
  return id;
}

/** Submits a one-item cart and returns the checkout's summary. */
export async function checkout(cookie: string, site: { serverId: string; credentialId: string }, minutes = 30) {
  const res = await api("/api/checkouts", {
    method: "POST",
    cookie,
    body: { items: [{ serverId: site.serverId, credentialId: site.credentialId, minutes, justification: "testing" }] },
  });
  const cart = (await res.json()) as {
    results: { ok: boolean; error?: string; checkout?: { id: string; status: string } }[];
  };
  const result = cart.results[0]!;
  if (!result.ok) throw new Error(`checkout refused: ${result.error}`);
  return result.checkout!;
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
      for (let i = 0; i < 800; i++) {
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

/** A fresh admin's live-view socket on session `id`; with `hello` (default) it has said hello. */
export async function openViewer(id: string, { hello = true } = {}): Promise<Client> {
  const name = `watch-${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(name, "watch-password-1", ["admin"]);
  const cookie = await login(name, "watch-password-1");
  const viewer = await openSocket(`/api/sessions/${id}/watch`, { Origin: ORIGIN, cookie });
  if (hello) viewer.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
  return viewer;
}

/** At least `times` messages of this type (and these fields) have arrived. */
export const hasText =
  (type: string, extra: Record<string, unknown> = {}, times = 1) =>
  (c: Client) =>
    c.texts.filter((m) => {
      const msg = m as Record<string, unknown>;
      return msg.type === type && Object.entries(extra).every(([k, v]) => msg[k] === v);
    }).length >= times;

/** Connects a connector's control socket and says hello, as psm-connector does. */
export async function connectControl(
  site: Awaited<ReturnType<typeof seedSite>>,
  {
    accept = true,
    hello = {},
    token = site.token,
  }: {
    accept?: boolean;
    /** Extra hello fields (transport key, seal key held). */
    hello?: Record<string, unknown>;
    /** Another connector of the site: its token. */
    token?: (endpoint?: string) => Promise<string>;
  } = {},
): Promise<Client> {
  const control = await openSocket("/connector/control", { Authorization: `Bearer ${await token()}` });
  control.ws.send(JSON.stringify({ ...hello, type: "hello", v: PROTOCOL_VERSION, agent: "test" }));
  await control.next(hasText("hello"), "hub hello");
  // Like psm-connector, take every session the hub hands over (the hub waits for the answer).
  if (accept)
    control.ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      const msg = JSON.parse(e.data) as { type: string; sessionId?: string };
      if (msg.type === "open") control.ws.send(encodeMessage({ type: "accepted", sessionId: msg.sessionId! }));
    });
  return control;
}

/** A session with a connector and a browser attached, under a policy with these column values. */
export async function liveSession(
  policy: Record<string, unknown> = {},
  options: { protocol?: "ssh" | "rdp" /** The CF-Connecting-IP the session is opened from. */; sourceIp?: string } = {},
) {
  const site = await seedSite(policy);
  if (options.protocol)
    await env.DB.prepare("UPDATE servers SET protocol = ? WHERE id = ?").bind(options.protocol, site.serverId).run();
  const username = `u${crypto.randomUUID().slice(0, 8)}`;
  await site.entitle(await seedUser(username, "user-password-1", ["requester"]));
  const cookie = await login(username, "user-password-1");
  const control = await connectControl(site);
  const { id: checkoutId } = await checkout(cookie, site);
  const res = await SELF.fetch(`${ORIGIN}/api/sessions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      cookie,
      ...(options.sourceIp ? { "CF-Connecting-IP": options.sourceIp } : {}),
    },
    body: JSON.stringify({ checkoutId }),
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  await control.next(hasText("open", { sessionId: id }), "open");
  const open = control.texts.find((m) => (m as { type: string }).type === "open") as { grant: string };

  const user = await openSocket(`/api/sessions/${id}/ws`, { Origin: ORIGIN, cookie });
  user.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, cols: 120, rows: 40 }));
  await user.next(hasText("status", { state: "waiting_for_connector" }), "waiting status");

  const connector = await openSocket(`/connector/sessions/${id}`, {
    Authorization: `Bearer ${await site.token(connectorEndpoint.session(id))}`,
  });
  connector.ws.send(encodeMessage({ type: "hello", v: PROTOCOL_VERSION, sessionId: id }));
  await connector.next(hasText("hello"), "room hello");
  connector.ws.send(encodeMessage({ type: "status", state: "connected" }));
  await user.next(hasText("status", { state: "connected" }), "connected status");
  await connector.next(hasText("attach", { acked: null, from: null }), "attach");
  connector.ws.send(encodeMessage({ type: "sync", from: 0, to: 0 }));
  await user.next(hasText("sync", { at: 0, reset: false }), "sync");
  const room = env.SESSION_ROOM.get(env.SESSION_ROOM.idFromName(id));
  return { id, site, cookie, username, control, open, user, connector, room };
}

/** The live room's pure core (durable/room/core.ts): its memory is what its next event and alarm read. */
export function roomCore(instance: SessionRoom): RoomCore {
  return (instance as unknown as { core: RoomCore }).core;
}

/**
 * Makes a room timer due now, as if its time had come (in the live room's memory; its alarm is already
 * set), for the caller to run the alarm. Returns the time the timer was set for (0: it was not set).
 */
export async function expireTimer(room: DurableObjectStub<SessionRoom>, name: TimerName): Promise<number> {
  return runInDurableObject(room, (instance: SessionRoom) => {
    const life = roomCore(instance).life;
    const at = life.timers[name] ?? 0;
    life.timers = { ...life.timers, [name]: Date.now() - 1 };
    return at;
  });
}

/** Changes the live room's session record, as if the session had been created with `change`. */
export async function changeRoomMeta(room: DurableObjectStub<SessionRoom>, change: Partial<RoomMeta>): Promise<void> {
  await runInDurableObject(room, (instance: SessionRoom) => {
    const core = roomCore(instance);
    core.meta = { ...core.meta!, ...change };
  });
}

/**
 * A new room over the same storage and sockets: what the runtime builds after an eviction. The runtime
 * delivers no event until the constructor's storage reads are done; a test calling it directly waits too.
 */
export async function revive(state: DurableObjectState): Promise<SessionRoom> {
  const room = new SessionRoom(state, env);
  await state.blockConcurrencyWhile(async () => {});
  return room;
}

/** The audit log's newest entries, as a fresh auditor reads them (GET /api/audit). */
export async function auditLog(): Promise<
  Array<{
    action: string;
    target: { type: string; id: string; name?: string };
    refs: { userId?: string; sessionId?: string; checkoutId?: string };
    data: Record<string, unknown>;
  }>
> {
  const name = `aud${crypto.randomUUID().slice(0, 6)}`;
  await seedUser(name, "audit-password-1", ["auditor"]);
  const cookie = await login(name, "audit-password-1");
  return (await api("/api/audit?limit=500", { cookie })).json();
}

/** A manifest's fields, for tests that sign and open one (its content does not matter to them). */
export const SAMPLE_MANIFEST = {
  v: 1,
  recordingId: "r",
  sessionId: "s",
  userId: "u",
  username: "u",
  serverId: "sv",
  zoneId: "z",
  startedAt: 1,
  endedAt: 2,
  endReason: "user_exit",
  format: "asciicast-v2",
  compression: "gzip",
  complete: true,
  chunks: [],
  head: "0".repeat(64),
} as unknown as RecordingManifest;
