// Site seal key rotation (issue 17, worker/access/seal-keys.ts): admins see a site's key, its history, its
// rotations and which key each connector holds, and ask for a rotation; the rotating connector fetches its
// work and answers at /connector/seal-rotations/:id.
import { z } from "zod";
import {
  connectorEndpoint,
  type SealKeyInfo,
  SealKeyInfo as SealKeyInfoSchema,
  SealRotationResult,
  SealRotationWork,
  SealKeyRotationStarted,
} from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { applySealRotation, currentSealKey, requestSealRotation, sealRotationWork } from "../access/seal-keys.ts";
import { actorOf } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { requireConnectorFor } from "../connector-auth.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

/** Mounted at /api: the admin's side. */
export const sealKeys = newApi();
/** Mounted at /: the rotating connector's side. */
export const connectorSealKeys = newApi();

const tags = ["sites"];
const RotationParam = z.object({ id: z.uuid() });

sealKeys.openapi(
  route({
    method: "get",
    path: "/sites/{id}/seal-key",
    summary: "A site's seal key: its id, history, rotations, and which key each connector holds",
    tags,
    middleware: [requireUser],
    params: IdParam,
    response: SealKeyInfoSchema,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const siteId = c.req.valid("param").id;
    const db = c.env.DB;
    if (!(await db.prepare("SELECT 1 FROM sites WHERE id = ?").bind(siteId).first())) throw new ApiFailure("not_found");
    const [key, keys, rotations, connectors] = await Promise.all([
      currentSealKey(db, siteId),
      db
        .prepare("SELECT kid, created_at, retired_at FROM site_seal_keys WHERE site_id = ? ORDER BY created_at DESC")
        .bind(siteId)
        .all<{ kid: string; created_at: number; retired_at: number | null }>(),
      db
        .prepare(
          `SELECT id, state, connector_id, requested_at, finished_at, error, resealed, unopenable
           FROM seal_rotations WHERE site_id = ? ORDER BY requested_at DESC LIMIT 10`,
        )
        .bind(siteId)
        .all<{
          id: string;
          state: "running" | "done" | "failed";
          connector_id: string | null;
          requested_at: number;
          finished_at: number | null;
          error: SealKeyInfo["rotations"][number]["error"];
          resealed: number | null;
          unopenable: number | null;
        }>(),
      db
        .prepare(
          `SELECT c.id, c.name, c.seal_kid, c.transport_key IS NOT NULL AS can_receive,
             EXISTS (SELECT 1 FROM seal_key_deliveries d WHERE d.connector_id = c.id AND d.sealed IS NOT NULL) AS pending
           FROM connectors c WHERE c.site_id = ? AND c.revoked_at IS NULL ORDER BY c.enrolled_at`,
        )
        .bind(siteId)
        .all<{ id: string; name: string; seal_kid: string | null; can_receive: number; pending: number }>(),
    ]);
    return c.json(
      {
        kid: key?.kid ?? null,
        keys: keys.results.map((k) => ({ kid: k.kid, createdAt: k.created_at, retiredAt: k.retired_at })),
        rotations: rotations.results.map((r) => ({
          id: r.id,
          state: r.state,
          connectorId: r.connector_id,
          requestedAt: r.requested_at,
          finishedAt: r.finished_at,
          error: r.error,
          resealed: r.resealed,
          unopenable: r.unopenable,
        })),
        connectors: connectors.results.map((r) => ({
          id: r.id,
          name: r.name,
          kid: r.seal_kid,
          deliveryPending: r.pending === 1,
          canReceive: r.can_receive === 1,
        })),
      } satisfies SealKeyInfo,
      200,
    );
  },
);

sealKeys.openapi(
  route({
    method: "post",
    path: "/sites/{id}/seal-key/rotate",
    summary: "Rotate the site's seal key: a connector makes a new one on-prem and re-seals every credential",
    tags,
    middleware: [requireUser],
    params: IdParam,
    response: SealKeyRotationStarted,
  }),
  async (c) => {
    const user = c.get("user");
    requireAdmin(user);
    const siteId = c.req.valid("param").id;
    if (!(await c.env.DB.prepare("SELECT 1 FROM sites WHERE id = ?").bind(siteId).first()))
      throw new ApiFailure("not_found");
    const rotationId = await requestSealRotation(c.env, siteId, actorOf(user));
    return c.json({ rotationId }, 200);
  },
);

/** The token must have been minted for this rotation's own path. */
const requireRotationConnector = requireConnectorFor(connectorEndpoint.sealRotation);

connectorSealKeys.openapi(
  route({
    method: "get",
    path: "/connector/seal-rotations/{id}",
    summary: "The rotating connector fetches the blobs to re-seal and the connectors to deliver the key to",
    tags,
    middleware: [requireRotationConnector],
    params: RotationParam,
    response: SealRotationWork,
  }),
  async (c) => {
    const work = await sealRotationWork(c.env, c.get("connector"), c.req.valid("param").id);
    if (!work) throw new ApiFailure("not_found", "no such seal rotation for this connector");
    return c.json(work, 200);
  },
);

connectorSealKeys.openapi(
  route({
    method: "post",
    path: "/connector/seal-rotations/{id}",
    summary: "The rotating connector answers: every blob re-sealed, and the new key for each other connector",
    tags,
    middleware: [requireRotationConnector],
    params: RotationParam,
    body: SealRotationResult,
    // Thousands of credentials at about 1 KiB each.
    bodyLimit: 32 * 1024 * 1024,
  }),
  async (c) => {
    const verdict = await applySealRotation(c.env, c.get("connector"), c.req.valid("param").id, c.req.valid("json"));
    if (verdict === "unknown") throw new ApiFailure("not_found", "no such seal rotation for this connector");
    if (verdict !== "rotated" && verdict !== "recorded")
      throw new ApiFailure("conflict", `seal rotation not applied: ${verdict}`);
    return c.json({ ok: true }, 200);
  },
);
