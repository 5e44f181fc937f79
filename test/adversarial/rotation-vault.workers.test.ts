// Found by a red-team review (2026-12-06): the vault and the target must not disagree after a credential rotation. Attack: a rotation
// job times out at the edge (the connector crashed after changing the target and kept the new secret in its spool),
// the site's seal key is rotated meanwhile (nothing stops it: the credential is `failed`, not `rotating`), and the
// connector, restarted, resends the spooled answer: the new secret sealed to the site key it held, now replaced.
// Guarantee: the edge refuses a blob sealed to a replaced site key (AGENTS.md, `requireSealedToCurrent`), so it
// never vaults a secret no connector can open again.
import { env, SELF } from "cloudflare:test";
import type { JWK } from "jose";
import { describe, expect, it } from "vitest";
import { generateSealKey, publicJwk } from "../../connector/keys.ts";
import { verifyRotationJob } from "../../connector/rotation/verify.ts";
import { edgeKey } from "../../edge-shared/keys.ts";
import { sealedKid, sealKid } from "../../keys/seal-kid.ts";
import { sealSecret } from "../../keys/seal.ts";
import { connectorEndpoint, type SealRotationWork } from "../../protocol/index.ts";
import { driveRotations } from "../../worker/access/rotations.ts";
import { sha256 } from "../../worker/random.ts";
import { api, hasText, connectControl, login, ORIGIN, seedSite, seedUser } from "../../worker/test/harness.ts";

const withKid = async (key: JWK) => ({ ...publicJwk(key), kid: await sealKid(key) }) as Record<string, unknown>;

function post(path: string, token: string, body: unknown) {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("a rotation answer sealed to a replaced site key", () => {
  it("is refused after a seal key rotation, and the vault keeps a blob the site's connectors can open", async () => {
    const site = await seedSite();
    const k1 = await generateSealKey();
    const k1Public = await withKid(k1);
    await env.DB.batch([
      env.DB.prepare("UPDATE sites SET seal_key = ? WHERE id = ?").bind(JSON.stringify(k1Public), site.siteId),
      env.DB.prepare("UPDATE credentials SET sealed = ? WHERE id = ?").bind(
        await sealSecret(k1Public, "old-password"),
        site.credentialId,
      ),
    ]);
    const control = await connectControl(site, { hello: { sealKid: k1Public.kid } });
    const suffix = crypto.randomUUID().slice(0, 6);
    await seedUser(`rv-a-${suffix}`, "rotation-vault-pw-1", ["admin"]);
    const admin = await login(`rv-a-${suffix}`, "rotation-vault-pw-1");

    // 1. Rotate now: the job reaches the connector, which changes the target and spools the new secret (sealed to K1)...
    expect(
      (await api(`/api/credentials/${site.credentialId}/rotate`, { method: "POST", cookie: admin, body: {} })).status,
    ).toBe(200);
    await control.next(hasText("rotate"), "the rotation job");
    const job = (control.texts.find((m) => (m as { type: string }).type === "rotate") as { job: string }).job;
    const { publicJwk: edgePublic } = await edgeKey(env.EDGE_SIGNING_KEY);
    const jobId = (await verifyRotationJob(job, { edgeKey: edgePublic as JWK, siteId: site.siteId })).sub;
    const spooled = await sealSecret(k1Public, "new-password-the-target-now-has");

    // 2. ...then crashes before answering: the sweep times the job out (the credential is `failed`, no job in flight).
    await driveRotations(env, Date.now() + 4 * 60_000, site.credentialId);

    // 3. An admin rotates the site's seal key meanwhile: nothing refuses it.
    const asked = await api(`/api/sites/${site.siteId}/seal-key/rotate`, { method: "POST", cookie: admin, body: {} });
    expect(asked.status).toBe(200);
    const { rotationId } = (await asked.json()) as { rotationId: string };
    const work = (await (
      await SELF.fetch(`${ORIGIN}${connectorEndpoint.sealRotation(rotationId)}`, {
        headers: { authorization: `Bearer ${await site.token(connectorEndpoint.sealRotation(rotationId))}` },
      })
    ).json()) as Extract<SealRotationWork, { state: "running" }>;
    const k2Public = await withKid(await generateSealKey());
    const swapped = await post(
      connectorEndpoint.sealRotation(rotationId),
      await site.token(connectorEndpoint.sealRotation(rotationId)),
      {
        outcome: "resealed",
        sealKey: k2Public,
        credentials: await Promise.all(
          work.credentials.map(async (c) => ({
            id: c.id,
            sealed: await sealSecret(k2Public, "old-password"),
            was: await sha256(c.sealed),
          })),
        ),
        unopenable: [],
        deliveries: [],
      },
    );
    expect(swapped.status).toBe(200);

    // 4. The restarted connector resends its spooled answer, sealed to K1 (the key it held when it spooled it).
    const late = await post(connectorEndpoint.rotation(jobId), await site.token(connectorEndpoint.rotation(jobId)), {
      outcome: "rotated",
      sealed: spooled,
    });
    const vaulted = (await env.DB.prepare("SELECT sealed FROM credentials WHERE id = ?")
      .bind(site.credentialId)
      .first<{ sealed: string }>())!.sealed;
    // The guarantee: a blob sealed to the replaced key K1 is refused (as every other route refuses it) and the vault
    // keeps a blob sealed to the site's current key K2. (It used to take the late answer, and the credential held a
    // blob sealed to K1, which every connector forgot at the swap: unopenable for good.) The connector, told
    // `seal_key_changed`, keeps its spool, which it re-sealed to K2 when it adopted it (connector/rotation/job.ts).
    expect(sealedKid(vaulted)).toBe(k2Public.kid);
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ error: { code: "seal_key_changed" } });
    // Sealed to the current key, the same late answer is taken.
    const resent = await post(connectorEndpoint.rotation(jobId), await site.token(connectorEndpoint.rotation(jobId)), {
      outcome: "rotated",
      sealed: await sealSecret(k2Public, "new-password-the-target-now-has"),
    });
    expect(resent.status).toBe(200);
    control.ws.close();
  });
});
