// Site seal key rotation on the connector (issue 17, protocol/seal-rotation.ts).
//
// Asked by the edge, this connector makes the site's new key pair, keeps it on disk as pending before anything
// else, opens every credential the edge holds for the site with the current key and seals it to the new one,
// and seals the new private key for each other connector: to that connector's transport key, around the old
// site key. The edge swaps everything at once; only when it says so does the new key replace the old one here.
// A crash or a lost answer is settled from the edge's record at the next start. The old key is then forgotten:
// a blob or grant sealed to it no longer opens.
//
// A connector that receives a delivered key opens it with its transport key and the old site key it holds,
// checks it is the key the edge announced, keeps it, and tells the hub.
import { createHash } from "node:crypto";
import type { JWK } from "jose";
import {
  connectorEndpoint,
  type ConnectorToHub,
  type PublicSealKey,
  type SealRotationResult,
  SealRotationWork,
} from "../protocol/index.ts";
import { sealKid } from "../keys/seal-kid.ts";
import { connectorToken, generateSealKey, publicJwk, publicWithKid } from "./keys.ts";
import type { Log } from "./log.ts";
import { openSealed, sealSecret } from "./seal.ts";
import { type ConnectorState, saveState } from "./state.ts";
import { resealSpooled } from "./rotation/job.ts";

export type SealRotationDeps = {
  state: ConnectorState;
  stateDir: string;
  log: Log;
  /** Sends on the control socket (a no-op while it is down). */
  send: (message: ConnectorToHub) => void;
};

/** Makes this connector's transport key if it has none yet. */
export async function ensureTransportKey(stateDir: string, state: ConnectorState): Promise<void> {
  if (state.transportKey) return;
  state.transportKey = await generateSealKey();
  await saveState(stateDir, state);
}

/** What the hello tells the hub: where to seal a rotated key for this connector, and which key it holds. */
export async function sealIdentity(state: ConnectorState): Promise<{ transportKey?: PublicSealKey; sealKid: string }> {
  return {
    ...(state.transportKey ? { transportKey: publicJwk(state.transportKey as JWK) as PublicSealKey } : {}),
    sealKid: await sealKid(state.sealKey),
  };
}

async function edgeRequest(state: ConnectorState, rotationId: string, body?: SealRotationResult): Promise<Response> {
  const endpoint = connectorEndpoint.sealRotation(rotationId);
  const token = await connectorToken(state.connectorId, state.identityKey as JWK, endpoint);
  return fetch(new URL(endpoint, state.edgeUrl), {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

async function fetchWork(state: ConnectorState, rotationId: string): Promise<SealRotationWork> {
  const res = await edgeRequest(state, rotationId);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`the edge answered ${res.status} for seal rotation ${rotationId}`);
  }
  return SealRotationWork.parse(await res.json());
}

/** Runs the rotation the edge asked for. Never throws: what fails is logged, and settled later. */
export async function runSealRotation(rotationId: string, deps: SealRotationDeps): Promise<void> {
  try {
    await rotate(rotationId, deps);
  } catch (err) {
    deps.log("seal_rotation.failed", { rotation: rotationId, error: (err as Error).message });
  }
}

async function rotate(rotationId: string, deps: SealRotationDeps): Promise<void> {
  const { state, log } = deps;
  const pending = state.pendingSealKey;
  if (pending && pending.rotationId !== rotationId) await settleSealRotation(deps);
  const work = await fetchWork(state, rotationId);
  if (work.state !== "running") return settle(rotationId, work, deps);
  const oldKey = state.sealKey as JWK;
  if (work.oldKid !== (await sealKid(oldKey))) {
    log("seal_rotation.not_holder", { rotation: rotationId, asked: work.oldKid });
    await answer(rotationId, { outcome: "failed", error: "not_holder" }, deps);
    return;
  }
  // The new key is on disk before anything is sealed to it: a crash after the edge swapped cannot lose it.
  if (state.pendingSealKey?.rotationId !== rotationId) {
    state.pendingSealKey = { rotationId, key: await generateSealKey() };
    await saveState(deps.stateDir, state);
  }
  const newKey = state.pendingSealKey!.key as JWK;
  const newPublic = await publicWithKid(newKey);
  const credentials: Array<{ id: string; sealed: string; was: string }> = [];
  const unopenable: string[] = [];
  for (const c of work.credentials) {
    let secret: Buffer;
    try {
      secret = await openSealed(oldKey, c.sealed);
    } catch {
      unopenable.push(c.id);
      continue;
    }
    try {
      const sealed = await sealSecret(newPublic, secret.toString("utf8"));
      credentials.push({ id: c.id, sealed, was: createHash("sha256").update(c.sealed).digest("base64url") });
    } finally {
      secret.fill(0);
    }
  }
  // Each other connector's copy: to its transport key, around the old site key (protocol/seal-rotation.ts).
  const inner = await sealSecret(await publicWithKid(oldKey), JSON.stringify(newKey));
  const deliveries = await Promise.all(
    work.recipients.map(async (r) => ({ connectorId: r.connectorId, sealed: await sealSecret(r.transportKey, inner) })),
  );
  const taken = await answer(
    rotationId,
    { outcome: "resealed", sealKey: newPublic as PublicSealKey, credentials, unopenable, deliveries },
    deps,
  );
  log("seal_rotation.answered", {
    rotation: rotationId,
    resealed: credentials.length,
    unopenable: unopenable.length,
    deliveries: deliveries.length,
    status: taken,
  });
  // Taken: the swap is done. Anything else: what the edge recorded decides (a lost answer may have landed).
  if (taken === 200) await adopt(newKey, rotationId, deps);
  else await settleSealRotation(deps);
}

async function answer(rotationId: string, result: SealRotationResult, deps: SealRotationDeps): Promise<number> {
  const res = await edgeRequest(deps.state, rotationId, result);
  await res.body?.cancel();
  return res.status;
}

/**
 * Settles a rotation this connector made a key for and did not see confirmed (a lost answer): the edge's
 * record says whether the key is the site's now.
 */
async function settleSealRotation(deps: SealRotationDeps): Promise<void> {
  const pending = deps.state.pendingSealKey;
  if (!pending) return;
  await settle(pending.rotationId, await fetchWork(deps.state, pending.rotationId), deps);
}

/**
 * At start: a rotation cut short by a crash is finished with the key already on disk if the edge still
 * waits for it, adopted if the edge swapped, dropped if it failed. Never throws.
 */
export async function resumeSealRotation(deps: SealRotationDeps): Promise<void> {
  const pending = deps.state.pendingSealKey;
  if (!pending) return;
  try {
    const work = await fetchWork(deps.state, pending.rotationId);
    if (work.state === "running") await rotate(pending.rotationId, deps);
    else await settle(pending.rotationId, work, deps);
  } catch (err) {
    deps.log("seal_rotation.failed", { rotation: pending.rotationId, error: (err as Error).message });
  }
}

async function settle(rotationId: string, work: SealRotationWork, deps: SealRotationDeps): Promise<void> {
  const pending = deps.state.pendingSealKey;
  if (!pending || pending.rotationId !== rotationId) return;
  if (work.state === "running") return; // still open: resumed at the next start, or timed out by the edge
  if (work.state === "done" && work.newKid === (await sealKid(pending.key))) {
    await adopt(pending.key as JWK, rotationId, deps);
    return;
  }
  delete deps.state.pendingSealKey;
  await saveState(deps.stateDir, deps.state);
  deps.log("seal_rotation.discarded", { rotation: rotationId });
}

/**
 * The new key replaces the old one, on disk first; the hub hears it. New secrets of rotations still spooled are
 * re-sealed to it first: sealed to the old key, they would never open again.
 */
async function adopt(key: JWK, rotationId: string, deps: SealRotationDeps): Promise<void> {
  const kid = await sealKid(key);
  const resealed = await resealSpooled(deps.stateDir, deps.state.sealKey as JWK, key);
  if (resealed) deps.log("seal_rotation.spool_resealed", { rotation: rotationId, rotations: resealed });
  deps.state.sealKey = key;
  delete deps.state.pendingSealKey;
  await saveState(deps.stateDir, deps.state);
  deps.log("seal_rotation.adopted", { rotation: rotationId, kid });
  deps.send({ type: "seal_key_adopted", rotationId, kid });
}

/** A key another connector made, delivered by the hub: opened, checked against `kid`, kept. */
export async function receiveSealKey(
  delivery: { rotationId: string; kid: string; sealed: string },
  deps: SealRotationDeps,
): Promise<void> {
  const { state, log } = deps;
  try {
    if ((await sealKid(state.sealKey)) === delivery.kid) {
      deps.send({ type: "seal_key_adopted", rotationId: delivery.rotationId, kid: delivery.kid });
      return;
    }
    if (!state.transportKey) throw new Error("this connector has no transport key");
    const inner = await openSealed(state.transportKey as JWK, delivery.sealed);
    let key: JWK;
    try {
      key = JSON.parse((await openSealed(state.sealKey as JWK, inner.toString("utf8"))).toString("utf8")) as JWK;
    } finally {
      inner.fill(0);
    }
    if (typeof key.d !== "string" || (await sealKid(key)) !== delivery.kid)
      throw new Error("the delivered key is not the key announced");
    await adopt(key, delivery.rotationId, deps);
  } catch (err) {
    log("seal_key.refused", { rotation: delivery.rotationId, error: (err as Error).message });
  }
}
