// A connector's identity keys, current and retired, by RFC 7638 thumbprint (the `kid` a connector puts on
// what it signs, such as recording chunks). Owner of the connector_keys table: a rotation retires the old
// key here instead of forgetting it, so what the connector signed before still verifies.
import { calculateJwkThumbprint, type JWK } from "jose";

export type ConnectorKey = { kid: string; jwk: JWK; current: boolean };

export async function connectorKeys(db: D1Database, connectorId: string): Promise<ConnectorKey[]> {
  const [current, retired] = await db.batch<{ public_key: string }>([
    db.prepare("SELECT public_key FROM connectors WHERE id = ?").bind(connectorId),
    db
      .prepare("SELECT public_key FROM connector_keys WHERE connector_id = ? ORDER BY retired_at DESC")
      .bind(connectorId),
  ]);
  const keys: ConnectorKey[] = [];
  for (const [rows, isCurrent] of [
    [current!.results, true],
    [retired!.results, false],
  ] as const)
    for (const row of rows) {
      const jwk = JSON.parse(row.public_key) as JWK;
      keys.push({ kid: await calculateJwkThumbprint(jwk), jwk, current: isCurrent });
    }
  return keys;
}

/** The statement that keeps the connector's current key before a rotation replaces it (run in the same batch). */
export function retireCurrentKey(db: D1Database, connectorId: string, now: number): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO connector_keys (connector_id, public_key, retired_at) SELECT id, public_key, ? FROM connectors WHERE id = ?",
    )
    .bind(now, connectorId);
}
