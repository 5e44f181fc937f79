// Site seal key rotation at the edge (issue 17, protocol/seal-rotation.ts). An admin asks; one live connector
// that holds the current key makes the new pair, re-seals the site's credentials on-prem and answers. The edge
// checks the answer covers exactly the blobs it holds, swaps every blob, the site's public key and its key
// history in one D1 transaction (refused whole if any blob changed meanwhile), and relays the new private key,
// sealed to each other connector, through the site's hub. The edge only ever handles sealed blobs.
import {
  SEAL_ROTATION_TIMEOUT_MS,
  type SealRotationError,
  type SealRotationResult,
  type SealRotationWork,
} from "../../protocol/index.ts";
import { sealedKid, sealKid } from "../../keys/seal-kid.ts";
import { insertSealKeyDelivery, setSealKid } from "../../edge-shared/connector-store.ts";
import { record } from "../audit.ts";
import type { Env } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { sha256 } from "../random.ts";
import { resealCredentials } from "./credential-store.ts";
import { replaceSealKey } from "./site-store.ts";

type Actor = { id: string; name: string } | null;
type Connector = { id: string; siteId: string };
type RotationRow = {
  id: string;
  site_id: string;
  state: "running" | "done" | "failed";
  old_kid: string;
  new_kid: string | null;
  connector_id: string | null;
};

/** The site's public seal key (JSON as stored) and its id, or null before its first connector enrolled. */
export async function currentSealKey(db: D1Database, siteId: string): Promise<{ json: string; kid: string } | null> {
  const site = await db.prepare("SELECT seal_key FROM sites WHERE id = ?").bind(siteId).first<{ seal_key: string }>();
  if (!site?.seal_key) return null;
  return { json: site.seal_key, kid: await sealKid(JSON.parse(site.seal_key) as Record<string, unknown>) };
}

/**
 * Refuses a blob a browser or connector sealed to a site key that has since been replaced: stored, it would
 * never open again. A key that was never rotated may have no `kid` (sealed before kids): then neither has the blob.
 */
export async function requireSealedToCurrent(sealKeyJson: string | null, sealed: string): Promise<void> {
  if (!sealKeyJson) return;
  const key = JSON.parse(sealKeyJson) as Record<string, unknown>;
  const kid = sealedKid(sealed);
  const current = await sealKid(key);
  const ok = kid === undefined ? typeof key.kid !== "string" : kid === current;
  if (!ok) throw new ApiFailure("seal_key_changed", `sealed to key ${kid ?? "(none)"}, the site's is ${current}`);
}

/** Marks rotations that went unanswered as failed (`timeout`); the scheduler sweeps, and a new request does. */
export async function expireSealRotations(env: Env, now: number, siteId?: string): Promise<void> {
  const { results } = await env.DB.prepare(
    `UPDATE seal_rotations SET state = 'failed', error = 'timeout', finished_at = ?
     WHERE state = 'running' AND requested_at < ? AND (? IS NULL OR site_id = ?) RETURNING id, site_id`,
  )
    .bind(now, now - SEAL_ROTATION_TIMEOUT_MS, siteId ?? null, siteId ?? null)
    .all<{ id: string; site_id: string }>();
  for (const r of results) await recordFailed(env, r.site_id, r.id, "timeout");
}

/**
 * An admin asks for a new seal key for `siteId`. One rotation at a time per site; refused while a credential
 * rotation of the site is in flight (its answer would be sealed to the old key). Returns the rotation's id.
 */
export async function requestSealRotation(env: Env, siteId: string, actor: Actor): Promise<string> {
  const now = Date.now();
  await expireSealRotations(env, now, siteId);
  const key = await currentSealKey(env.DB, siteId);
  if (!key) throw new ApiFailure("conflict", `site ${siteId} has no seal key yet`);
  const busy = await env.DB.prepare(
    "SELECT 1 FROM credentials WHERE site_id = ? AND rotation_state = 'rotating' AND rotation_job IS NOT NULL LIMIT 1",
  )
    .bind(siteId)
    .first();
  if (busy) throw new ApiFailure("credential_rotating", `site ${siteId}: a credential rotation is in flight`);
  const id = crypto.randomUUID();
  const inserted = await env.DB.prepare(
    `INSERT INTO seal_rotations (id, site_id, state, old_kid, requested_by, requested_at)
     VALUES (?, ?, 'running', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
  )
    .bind(id, siteId, key.kid, actor?.id ?? null, now)
    .first();
  if (!inserted) throw new ApiFailure("conflict", `site ${siteId}: a seal key rotation is already running`);
  const hub = env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(siteId));
  const connectorId = await hub.rotateSealKey(id, key.kid);
  if (!connectorId) {
    await env.DB.prepare("DELETE FROM seal_rotations WHERE id = ?").bind(id).run();
    throw new ApiFailure("connector_unavailable", `site ${siteId}: no live connector holds seal key ${key.kid}`);
  }
  await env.DB.prepare("UPDATE seal_rotations SET connector_id = ? WHERE id = ?").bind(connectorId, id).run();
  await record(env, {
    actor,
    action: "site.seal_key_rotation_requested",
    target: { type: "site", id: siteId },
    data: { rotation: id, connector: connectorId, oldKid: key.kid },
  });
  return id;
}

async function rotationFor(db: D1Database, connector: Connector, id: string): Promise<RotationRow | null> {
  const row = await db
    .prepare("SELECT id, site_id, state, old_kid, new_kid, connector_id FROM seal_rotations WHERE id = ?")
    .bind(id)
    .first<RotationRow>();
  return row && row.site_id === connector.siteId && row.connector_id === connector.id ? row : null;
}

/** The vaulted blobs of a site (EmpowerID credentials have none). */
async function siteBlobs(db: D1Database, siteId: string): Promise<Array<{ id: string; sealed: string }>> {
  const { results } = await db
    .prepare("SELECT id, sealed FROM credentials WHERE site_id = ? AND sealed != '' ORDER BY id")
    .bind(siteId)
    .all<{ id: string; sealed: string }>();
  return results;
}

/** The site's other connectors that can receive a key: enrolled, not revoked, with a transport key. */
async function recipients(db: D1Database, connector: Connector) {
  const { results } = await db
    .prepare(
      "SELECT id, transport_key FROM connectors WHERE site_id = ? AND id != ? AND revoked_at IS NULL AND transport_key IS NOT NULL",
    )
    .bind(connector.siteId, connector.id)
    .all<{ id: string; transport_key: string }>();
  return results.map((r) => ({ connectorId: r.id, transportKey: JSON.parse(r.transport_key) }));
}

/** What the rotating connector re-seals, or where its rotation stands; null if it is not this connector's. */
export async function sealRotationWork(env: Env, connector: Connector, id: string): Promise<SealRotationWork | null> {
  const row = await rotationFor(env.DB, connector, id);
  if (!row) return null;
  if (row.state === "done") return { state: "done", newKid: row.new_kid! };
  if (row.state === "failed") return { state: "failed" };
  return {
    state: "running",
    oldKid: row.old_kid,
    credentials: await siteBlobs(env.DB, connector.siteId),
    recipients: await recipients(env.DB, connector),
  };
}

/** `rotated`: swapped; `recorded`: the connector's failure is on record; otherwise why nothing was swapped. */
export type SealAnswerVerdict = "unknown" | "stale" | "rotated" | "recorded" | SealRotationError;

/** Applies the rotating connector's answer: the swap, whole or not at all. */
export async function applySealRotation(
  env: Env,
  connector: Connector,
  id: string,
  result: SealRotationResult,
): Promise<SealAnswerVerdict> {
  const row = await rotationFor(env.DB, connector, id);
  if (!row) return "unknown";
  if (row.state !== "running") return "stale";
  const now = Date.now();
  if (result.outcome === "failed") {
    await fail(env, row, result.error, now);
    return "recorded";
  }

  const newKid = await sealKid(result.sealKey);
  if (result.sealKey.kid !== newKid || newKid === row.old_kid)
    throw new ApiFailure("bad_request", "the new seal key's kid must be its thumbprint, and it must be new");
  if (result.credentials.some((c) => sealedKid(c.sealed) !== newKid))
    throw new ApiFailure("bad_request", "every credential must be sealed to the new key");
  const targets = new Set((await recipients(env.DB, connector)).map((r) => r.connectorId));
  if (result.deliveries.some((d) => !targets.has(d.connectorId)))
    throw new ApiFailure("bad_request", "a delivery names a connector that cannot receive one");

  // The answer must cover exactly the blobs held now, each re-sealed from the one held now (`was` hashes).
  const held = await siteBlobs(env.DB, connector.siteId);
  const answered = new Map(result.credentials.map((c) => [c.id, c]));
  const unopenable = new Set(result.unopenable);
  if (held.length !== answered.size + unopenable.size) return fail(env, row, "changed", now);
  for (const h of held) {
    const a = answered.get(h.id);
    if (!a && !unopenable.has(h.id)) return fail(env, row, "changed", now);
    if (a && a.was !== (await sha256(h.sealed))) return fail(env, row, "changed", now);
  }
  const swaps = held
    .filter((h) => answered.has(h.id))
    .map((h) => ({ id: h.id, was: h.sealed, sealed: answered.get(h.id)!.sealed }));
  const site = await currentSealKey(env.DB, connector.siteId);
  if (site?.kid !== row.old_kid) return fail(env, row, "changed", now);
  const newKey = JSON.stringify({ kty: "EC", crv: "P-256", x: result.sealKey.x, y: result.sealKey.y, kid: newKid });
  const db = env.DB;
  try {
    await db.batch([
      // The guard: every blob (by its GCM tag, unique per sealing, and length), the site key and the rotation are
      // as read above, or the whole batch rolls back (json() of a non-JSON string raises).
      db
        .prepare(
          `SELECT json(CASE WHEN
             (SELECT count(*) FROM credentials c JOIN json_each(?1) j
                ON c.id = json_extract(j.value, '$.id') AND length(c.sealed) = json_extract(j.value, '$.len')
                AND substr(c.sealed, -22) = json_extract(j.value, '$.tag')) = json_array_length(?1)
             AND (SELECT seal_key FROM sites WHERE id = ?2) = ?3
             AND (SELECT state FROM seal_rotations WHERE id = ?4) = 'running'
           THEN '1' ELSE 'changed' END)`,
        )
        .bind(
          JSON.stringify(swaps.map((w) => ({ id: w.id, len: w.was.length, tag: w.was.slice(-22) }))),
          connector.siteId,
          site.json,
          id,
        ),
      // In slices: D1 binds at most 2 MB per value.
      ...chunks(swaps, 500).map((slice) =>
        resealCredentials(
          db,
          connector.siteId,
          slice.map(({ id, sealed }) => ({ id, sealed })),
        ),
      ),
      ...replaceSealKey(db, connector.siteId, {
        old: { kid: row.old_kid, json: site.json },
        next: { kid: newKid, json: newKey },
        now,
      }),
      db
        .prepare(
          "UPDATE seal_rotations SET state = 'done', new_kid = ?, finished_at = ?, resealed = ?, unopenable = ? WHERE id = ?",
        )
        .bind(newKid, now, swaps.length, unopenable.size, id),
      setSealKid(db, connector.id, newKid),
      ...result.deliveries.map((d) => insertSealKeyDelivery(db, { rotationId: id, ...d })),
    ]);
  } catch (err) {
    console.warn(`seal rotation ${id}: swap refused: ${(err as Error).message}`);
    return fail(env, row, "changed", now);
  }
  await record(env, {
    actor: null,
    action: "site.seal_key_rotated",
    target: { type: "site", id: connector.siteId },
    data: {
      rotation: id,
      connector: connector.id,
      oldKid: row.old_kid,
      newKid,
      resealed: swaps.length,
      unopenable: unopenable.size,
      deliveries: result.deliveries.length,
    },
  });
  // The other connectors get the new key now if they are online, else when they next say hello.
  await env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(connector.siteId)).deliverSealKeys();
  return "rotated";
}

async function fail(env: Env, row: RotationRow, error: SealRotationError, now: number): Promise<SealRotationError> {
  const { meta } = await env.DB.prepare(
    "UPDATE seal_rotations SET state = 'failed', error = ?, finished_at = ? WHERE id = ? AND state = 'running'",
  )
    .bind(error, now, row.id)
    .run();
  if (meta.changes > 0) await recordFailed(env, row.site_id, row.id, error);
  return error;
}

async function recordFailed(env: Env, siteId: string, rotation: string, error: SealRotationError): Promise<void> {
  await record(env, {
    actor: null,
    action: "site.seal_key_rotation_failed",
    target: { type: "site", id: siteId },
    data: { rotation, error },
  });
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
