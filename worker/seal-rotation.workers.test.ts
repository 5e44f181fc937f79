// Site seal key rotation at the edge (worker/access/seal-keys.ts), attacked: who may fetch the work and answer,
// what an answer must cover, that a blob changed meanwhile stops the swap, that the swap is whole, that the
// new key reaches the other connector and nobody else, and that a secret sealed to the old key is refused
// afterwards. The connectors' side, with real connector processes and a real sshd:
// test/e2e/seal-key-rotation.test.ts.
import { env, SELF } from "cloudflare:test";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { connectorToken, generateSealKey, publicJwk } from "../connector/keys.ts";
import { connectorEndpoint, type SealKeyInfo, type SealRotationWork } from "../protocol/index.ts";
import { sealedKid, sealKid } from "../keys/seal-kid.ts";
import { sealSecret } from "../keys/seal.ts";
import { sha256 } from "./random.ts";
import {
  api,
  auditLog,
  type Client,
  connectControl,
  hasText,
  login,
  ORIGIN,
  seedSite,
  seedUser,
} from "./test/harness.ts";

const CANARY = `seal-rotation-canary-${crypto.randomUUID()}`;

async function keyWithKid(key: JWK) {
  return { ...publicJwk(key), kid: await sealKid(key) } as Record<string, unknown>;
}

/** A second connector of the site: a row and its identity key, as enrollment makes them. */
async function addConnector(siteId: string) {
  const id = crypto.randomUUID();
  const identity = await exportJWK((await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).privateKey);
  await env.DB.prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, ?, ?, ?)")
    .bind(id, siteId, `c-${id.slice(0, 4)}`, JSON.stringify(publicJwk(identity)), Date.now())
    .run();
  return { id, token: (endpoint: string = connectorEndpoint.control) => connectorToken(id, identity, endpoint) };
}

/**
 * A site whose key is a real P-256 key with a vaulted credential sealed to it; connector A holds the key and
 * is online, connector B is online with a transport key and has not said which key it holds (so A is asked).
 */
async function setup() {
  const site = await seedSite();
  const oldKey = await generateSealKey();
  const oldPublic = await keyWithKid(oldKey);
  const blob = await sealSecret(oldPublic, CANARY);
  await env.DB.batch([
    env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?").bind(JSON.stringify(oldPublic), site.siteId),
    env.DB.prepare("UPDATE credentials SET sealed = ? WHERE id = ?").bind(blob, site.credentialId),
  ]);
  const b = await addConnector(site.siteId);
  const transportB = await generateSealKey();
  const controlA = await connectControl(site, {
    hello: { sealKid: oldPublic.kid, transportKey: publicJwk(await generateSealKey()) },
  });
  const controlB = await connectControl(site, { token: b.token, hello: { transportKey: publicJwk(transportB) } });
  const suffix = crypto.randomUUID().slice(0, 6);
  await seedUser(`seal-a-${suffix}`, "seal-password-12", ["admin"]);
  const admin = await login(`seal-a-${suffix}`, "seal-password-12");
  return { site, oldKey, oldPublic, blob, b, transportB, controlA, controlB, admin };
}
type Setup = Awaited<ReturnType<typeof setup>>;

async function requestRotation(s: Setup): Promise<string> {
  const res = await api(`/api/sites/${s.site.siteId}/seal-key/rotate`, { method: "POST", cookie: s.admin, body: {} });
  expect(res.status).toBe(200);
  const { rotationId } = (await res.json()) as { rotationId: string };
  await s.controlA.next(hasText("rotate_seal_key", { rotationId }), "the rotation on A's control socket");
  return rotationId;
}

function fetchWork(id: string, token: string) {
  return SELF.fetch(`${ORIGIN}${connectorEndpoint.sealRotation(id)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

function answer(id: string, token: string, body: unknown) {
  return SELF.fetch(`${ORIGIN}${connectorEndpoint.sealRotation(id)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** What connector A would answer: the credential re-sealed to a new key, the key for B sealed to B. */
async function resealed(s: Setup, work: Extract<SealRotationWork, { state: "running" }>) {
  const newKey = await generateSealKey();
  const newPublic = await keyWithKid(newKey);
  const credentials = await Promise.all(
    work.credentials.map(async (c) => ({
      id: c.id,
      sealed: await sealSecret(newPublic, CANARY),
      was: await sha256(c.sealed),
    })),
  );
  const inner = await sealSecret(s.oldPublic, JSON.stringify(newKey));
  const deliveries = await Promise.all(
    work.recipients.map(async (r) => ({ connectorId: r.connectorId, sealed: await sealSecret(r.transportKey, inner) })),
  );
  return {
    newKey,
    newPublic,
    body: { outcome: "resealed", sealKey: newPublic, credentials, unopenable: [], deliveries },
  };
}

const siteKey = async (siteId: string) =>
  JSON.parse(
    (await env.DB.prepare("SELECT seal_key FROM sites WHERE id = ?").bind(siteId).first<{ seal_key: string }>())!
      .seal_key,
  ) as Record<string, unknown>;
const vaulted = async (credentialId: string) =>
  (await env.DB.prepare("SELECT sealed FROM credentials WHERE id = ?").bind(credentialId).first<{ sealed: string }>())!
    .sealed;
const rotationState = async (id: string) =>
  (await env.DB.prepare("SELECT state, error FROM seal_rotations WHERE id = ?").bind(id).first<{
    state: string;
    error: string | null;
  }>())!;

async function work(s: Setup, id: string) {
  const res = await fetchWork(id, await s.site.token(connectorEndpoint.sealRotation(id)));
  expect(res.status).toBe(200);
  return (await res.json()) as Extract<SealRotationWork, { state: "running" }>;
}

describe("site seal key rotation at the edge", () => {
  it("swaps every blob, the site key and its history at once, and relays the new key to the other connector only", async () => {
    const s = await setup();
    const id = await requestRotation(s);
    const w = await work(s, id);
    expect(w.oldKid).toBe(s.oldPublic.kid);
    expect(w.credentials).toEqual([{ id: s.site.credentialId, sealed: s.blob }]);
    expect(w.recipients.map((r) => r.connectorId)).toEqual([s.b.id]);

    const { newPublic, body } = await resealed(s, w);
    const res = await answer(id, await s.site.token(connectorEndpoint.sealRotation(id)), body);
    expect(res.status).toBe(200);
    expect(await rotationState(id)).toEqual({ state: "done", error: null });
    expect(sealedKid(await vaulted(s.site.credentialId))).toBe(newPublic.kid);
    expect(await siteKey(s.site.siteId)).toEqual({
      kty: "EC",
      crv: "P-256",
      x: newPublic.x,
      y: newPublic.y,
      kid: newPublic.kid,
    });
    const { results: history } = await env.DB.prepare(
      "SELECT kid, retired_at FROM site_seal_keys WHERE site_id = ? ORDER BY created_at",
    )
      .bind(s.site.siteId)
      .all<{ kid: string; retired_at: number | null }>();
    expect(history.map((h) => [h.kid, h.retired_at === null])).toEqual([
      [s.oldPublic.kid, false],
      [newPublic.kid, true],
    ]);

    // B gets its copy on its control socket; A (which made the key) gets none.
    await s.controlB.next(hasText("seal_key"), "the key on B's socket");
    const delivery = s.controlB.texts.find((m) => (m as { type: string }).type === "seal_key");
    expect(delivery).toMatchObject({ rotationId: id, kid: newPublic.kid, sealed: body.deliveries[0]!.sealed });
    expect(s.controlA.texts.some((m) => (m as { type: string }).type === "seal_key")).toBe(false);
    s.controlB.ws.send(JSON.stringify({ type: "seal_key_adopted", rotationId: id, kid: newPublic.kid }));
    await expect
      .poll(async () =>
        env.DB.prepare(
          "SELECT sealed, adopted_at IS NOT NULL AS adopted FROM seal_key_deliveries WHERE rotation_id = ?",
        )
          .bind(id)
          .first(),
      )
      .toEqual({ sealed: null, adopted: 1 });

    const info = (await (await api(`/api/sites/${s.site.siteId}/seal-key`, { cookie: s.admin })).json()) as SealKeyInfo;
    expect(info.kid).toBe(newPublic.kid);
    expect(info.rotations[0]).toMatchObject({ id, state: "done", resealed: 1, unopenable: 0 });
    expect(info.connectors.map((c) => c.kid)).toEqual([newPublic.kid, newPublic.kid]);
    expect(JSON.stringify(info)).not.toContain(CANARY);

    const actions = (await auditLog()).filter((e) => e.target.id === s.site.siteId || e.target.id === s.b.id);
    expect(actions.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        "site.seal_key_rotation_requested",
        "site.seal_key_rotated",
        "connector.seal_key_adopted",
      ]),
    );
    // The answer cannot be replayed, and the work is no longer handed out.
    expect((await answer(id, await s.site.token(connectorEndpoint.sealRotation(id)), body)).status).toBe(409);
    const after = await fetchWork(id, await s.site.token(connectorEndpoint.sealRotation(id)));
    expect(await after.json()).toEqual({ state: "done", newKid: newPublic.kid });
  });

  it("refuses a secret sealed to the old key once the key has rotated", async () => {
    const s = await setup();
    const id = await requestRotation(s);
    const { body } = await resealed(s, await work(s, id));
    expect((await answer(id, await s.site.token(connectorEndpoint.sealRotation(id)), body)).status).toBe(200);
    const create = (sealed: string) =>
      api("/api/credentials", {
        method: "POST",
        cookie: s.admin,
        body: {
          name: "late",
          username: "root",
          kind: "password",
          zoneId: s.site.zoneId,
          sealed,
          serverIds: [s.site.serverId],
        },
      });
    const stale = await create(await sealSecret(s.oldPublic, "typed-before-the-rotation"));
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe("seal_key_changed");
    expect((await create(await sealSecret(body.sealKey as Record<string, unknown>, "typed-after"))).status).toBe(201);
  });

  it("an admin replaces a vaulted secret sealed to the current key; one sealed to a replaced key is refused", async () => {
    const s = await setup();
    await env.DB.prepare(
      "UPDATE credentials SET rotation_state = 'out_of_sync', rotation_error = 'auth_failed' WHERE id = ?",
    )
      .bind(s.site.credentialId)
      .run();
    const replace = async (sealed: string) =>
      api(`/api/credentials/${s.site.credentialId}/secret`, { method: "PUT", cookie: s.admin, body: { sealed } });
    const fresh = await sealSecret(s.oldPublic, "changed-outside-the-psm");
    expect((await replace(fresh)).status).toBe(200);
    expect(await vaulted(s.site.credentialId)).toBe(fresh);
    // Replacing the secret reconciles a credential that was out of sync.
    expect(
      await env.DB.prepare("SELECT rotation_state FROM credentials WHERE id = ?")
        .bind(s.site.credentialId)
        .first("rotation_state"),
    ).toBe("ok");
    const entry = (await auditLog()).find((e) => e.target.id === s.site.credentialId && e.action === "admin.change");
    expect(JSON.stringify(entry)).not.toContain(fresh);

    const id = await requestRotation(s);
    const { body } = await resealed(s, await work(s, id));
    // Once the site's key has rotated, a secret sealed to the old one is refused.
    expect((await answer(id, await s.site.token(connectorEndpoint.sealRotation(id)), body)).status).toBe(200);
    const stale = await replace(await sealSecret(s.oldPublic, "sealed-to-the-old-key"));
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { code: string } }).error.code).toBe("seal_key_changed");
  });

  it("only the connector asked may fetch the work or answer, each with a token minted for that rotation", async () => {
    const s = await setup();
    const id = await requestRotation(s);
    expect((await fetchWork(id, await s.b.token(connectorEndpoint.sealRotation(id)))).status).toBe(404);
    const { body } = await resealed(s, await work(s, id));
    expect((await answer(id, await s.b.token(connectorEndpoint.sealRotation(id)), body)).status).toBe(404);
    // A token minted for another path (the control socket) is refused before the body is read.
    expect((await answer(id, await s.site.token(), body)).status).toBe(401);
    expect(await rotationState(id)).toEqual({ state: "running", error: null });
  });

  it("an answer that misses a credential, keeps a blob on the old key or names a stranger swaps nothing", async () => {
    const s = await setup();
    const id = await requestRotation(s);
    const w = await work(s, id);
    const { body, newPublic } = await resealed(s, w);
    const token = () => s.site.token(connectorEndpoint.sealRotation(id));
    const stranger = await addConnector((await seedSite()).siteId);
    const bad = [
      { ...body, credentials: [{ ...body.credentials[0]!, sealed: s.blob }] }, // still the old key
      { ...body, deliveries: [{ connectorId: stranger.id, sealed: body.deliveries[0]!.sealed }] }, // another site
      { ...body, sealKey: { ...newPublic, kid: "not-its-thumbprint" } },
    ];
    for (const b of bad) expect((await answer(id, await token(), b)).status).toBe(400);
    expect(await vaulted(s.site.credentialId)).toBe(s.blob);
    // Missing the credential: the rotation fails as `changed`, nothing swapped.
    expect((await answer(id, await token(), { ...body, credentials: [] })).status).toBe(409);
    expect(await rotationState(id)).toEqual({ state: "failed", error: "changed" });
    expect(await vaulted(s.site.credentialId)).toBe(s.blob);
    expect((await siteKey(s.site.siteId)).kid).toBe(s.oldPublic.kid);
  });

  it("a blob replaced while the connector re-sealed stops the whole swap", async () => {
    const s = await setup();
    const id = await requestRotation(s);
    const { body } = await resealed(s, await work(s, id));
    const replaced = await sealSecret(s.oldPublic, "rotated-meanwhile");
    await env.DB.prepare("UPDATE credentials SET sealed = ? WHERE id = ?").bind(replaced, s.site.credentialId).run();
    expect((await answer(id, await s.site.token(connectorEndpoint.sealRotation(id)), body)).status).toBe(409);
    expect(await rotationState(id)).toEqual({ state: "failed", error: "changed" });
    expect(await vaulted(s.site.credentialId)).toBe(replaced);
    expect((await siteKey(s.site.siteId)).kid).toBe(s.oldPublic.kid);
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM seal_key_deliveries WHERE rotation_id = ?").bind(id).first("n"),
    ).toBe(0);
  });

  it("is refused with no live connector holding the key, twice at once, or while a credential rotates", async () => {
    const s = await setup();
    const rotate = () =>
      api(`/api/sites/${s.site.siteId}/seal-key/rotate`, { method: "POST", cookie: s.admin, body: {} });
    await env.DB.prepare("UPDATE credentials SET rotation_state = 'rotating', rotation_job = 'job' WHERE id = ?")
      .bind(s.site.credentialId)
      .run();
    const busy = await rotate();
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe("credential_rotating");
    await env.DB.prepare("UPDATE credentials SET rotation_state = 'ok', rotation_job = NULL WHERE id = ?")
      .bind(s.site.credentialId)
      .run();
    expect((await rotate()).status).toBe(200);
    expect((await rotate()).status).toBe(409);

    const lone = await seedSite();
    const key = await keyWithKid(await generateSealKey());
    await env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?").bind(JSON.stringify(key), lone.siteId).run();
    // Online, but not holding this key (it said another one).
    const control: Client = await connectControl(lone, { hello: { sealKid: "another-key" } });
    const res = await api(`/api/sites/${lone.siteId}/seal-key/rotate`, { method: "POST", cookie: s.admin, body: {} });
    expect(res.status).toBe(503);
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM seal_rotations WHERE site_id = ?").bind(lone.siteId).first("n"),
    ).toBe(0);
    control.ws.close();
  });
});
