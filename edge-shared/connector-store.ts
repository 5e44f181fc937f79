// The one owner of `connectors` and `seal_key_deliveries` (AGENTS.md, "One owner per table"): every INSERT, UPDATE
// and DELETE on them is a named function here. It lives in edge-shared/ because the site's ConnectorHub writes both
// (what a connector's hello says it holds, a rotated seal key adopted) as well as the Worker's routes and seal key
// rotation. A function returning a D1PreparedStatement is for the caller's batch, or for it to run.

// ---- Connectors ------------------------------------------------------------------------------------------

/** An enrolled connector: its site, name and public identity key (JWK as JSON). */
export async function insertConnector(
  db: D1Database,
  c: { id: string; siteId: string; name: string; publicKey: string },
): Promise<void> {
  await db
    .prepare("INSERT INTO connectors (id, site_id, name, public_key, enrolled_at) VALUES (?, ?, ?, ?, ?)")
    .bind(c.id, c.siteId, c.name, c.publicKey, Date.now())
    .run();
}

/**
 * What a connector's hello says: where a rotated site key can be sealed to (its transport key, JWK as JSON) and
 * which site key it holds. A value not given keeps the stored one.
 */
export async function noteConnectorHello(
  db: D1Database,
  connectorId: string,
  hello: { transportKey: string | null; sealKid: string | null },
): Promise<void> {
  await db
    .prepare(
      "UPDATE connectors SET transport_key = COALESCE(?, transport_key), seal_kid = COALESCE(?, seal_kid) WHERE id = ?",
    )
    .bind(hello.transportKey, hello.sealKid, connectorId)
    .run();
}

/** The connector holds site seal key `kid` now (it made it, or adopted a delivered copy). */
export function setSealKid(db: D1Database, connectorId: string, kid: string): D1PreparedStatement {
  return db.prepare("UPDATE connectors SET seal_kid = ? WHERE id = ?").bind(kid, connectorId);
}

/**
 * A connector's new identity key (JWK as JSON), for the batch that first keeps the old one (`retireCurrentKey`,
 * connector-keys.ts); it changes no row if the connector was revoked meanwhile.
 */
export function replaceIdentityKey(db: D1Database, connectorId: string, publicKey: string): D1PreparedStatement {
  return db
    .prepare("UPDATE connectors SET public_key = ? WHERE id = ? AND revoked_at IS NULL")
    .bind(publicKey, connectorId);
}

/** Revokes a connector (there is no un-revoke); one revoked already keeps its time. */
export async function revokeConnector(db: D1Database, connectorId: string, now: number): Promise<void> {
  await db
    .prepare("UPDATE connectors SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
    .bind(now, connectorId)
    .run();
}

// ---- Seal key deliveries ---------------------------------------------------------------------------------

/** A rotated site key's private half, sealed to one other connector of the site, for the rotation's swap batch. */
export function insertSealKeyDelivery(
  db: D1Database,
  delivery: { rotationId: string; connectorId: string; sealed: string },
): D1PreparedStatement {
  return db
    .prepare("INSERT INTO seal_key_deliveries (rotation_id, connector_id, sealed) VALUES (?, ?, ?)")
    .bind(delivery.rotationId, delivery.connectorId, delivery.sealed);
}

export type PendingSealKey = { rotation_id: string; connector_id: string; sealed: string; new_kid: string };

/** The rotated keys of a site's finished rotations that wait for their connectors, oldest rotation first. */
export async function pendingSealKeys(db: D1Database, siteId: string): Promise<PendingSealKey[]> {
  const { results } = await db
    .prepare(
      `SELECT d.rotation_id, d.connector_id, d.sealed, r.new_kid FROM seal_key_deliveries d
       JOIN seal_rotations r ON r.id = d.rotation_id
       WHERE d.sealed IS NOT NULL AND r.state = 'done' AND r.site_id = ?
       ORDER BY r.finished_at`,
    )
    .bind(siteId)
    .all<PendingSealKey>();
  return results;
}

/** The connector adopted its delivered key: the sealed copy is dropped. Whether one was waiting. */
export async function adoptSealKeyDelivery(
  db: D1Database,
  rotationId: string,
  connectorId: string,
  now: number,
): Promise<boolean> {
  const { meta } = await db
    .prepare(
      "UPDATE seal_key_deliveries SET adopted_at = ?, sealed = NULL WHERE rotation_id = ? AND connector_id = ? AND sealed IS NOT NULL",
    )
    .bind(now, rotationId, connectorId)
    .run();
  return meta.changes > 0;
}
