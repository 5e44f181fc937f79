// Connector identity keys rotate: an admin asks (POST /api/sites/:id/connectors/:connectorId/rotate-key),
// the site's hub tells the connector on its control socket, and the connector, proving itself with the
// key it holds, registers a new public key here (POST /connector/identity). From then on only tokens
// signed with the new key authenticate it. The private key never leaves the connector.
import { connectorEndpoint, IdentityKeyRotation, Ok } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange, record } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { requireConnector } from "../connector-auth.ts";
import { retireCurrentKey } from "../../edge-shared/connector-keys.ts";
import { replaceIdentityKey } from "../../edge-shared/connector-store.ts";
import { ApiFailure } from "../errors.ts";
import { ConnectorParam, newApi, route } from "../openapi.ts";

/** Mounted at /: the connector's side. */
export const connectorIdentity = newApi();
/** Mounted at /api: the admin's side. */
export const connectorKeys = newApi();

connectorIdentity.openapi(
  route({
    method: "post",
    path: "/connector/identity",
    summary: "A connector replaces its identity key (signed with the current one)",
    tags: ["sites"],
    middleware: [requireConnector(connectorEndpoint.identity)],
    body: IdentityKeyRotation,
  }),
  async (c) => {
    const connector = c.get("connector");
    const { publicKey } = c.req.valid("json");
    // The old key is kept (worker/connector-keys.ts): recording chunks it signed still verify.
    const [, updated] = await c.env.DB.batch([
      retireCurrentKey(c.env.DB, connector.id, Date.now()),
      replaceIdentityKey(c.env.DB, connector.id, JSON.stringify(publicKey)),
    ]);
    if (!updated?.meta.changes) throw new ApiFailure("unauthorized", `connector ${connector.id} revoked meanwhile`);
    await record(c.env, {
      actor: { id: connector.id, name: "connector" },
      action: "admin.change",
      target: { type: "connector", id: connector.id },
      data: { identityKeyRotated: true, x: publicKey.x },
    });
    return c.json({ ok: true }, 200);
  },
);

connectorKeys.openapi(
  route({
    method: "post",
    path: "/sites/{id}/connectors/{connectorId}/rotate-key",
    summary: "Ask an online connector to replace its identity key",
    tags: ["sites"],
    middleware: [requireUser],
    params: ConnectorParam,
    response: Ok,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { id: siteId, connectorId } = c.req.valid("param");
    const row = await c.env.DB.prepare(
      "SELECT name FROM connectors WHERE id = ? AND site_id = ? AND revoked_at IS NULL",
    )
      .bind(connectorId, siteId)
      .first<{ name: string }>();
    if (!row) throw new ApiFailure("not_found");
    const asked = await c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(siteId)).rotateIdentity(connectorId);
    if (!asked) throw new ApiFailure("conflict", `connector ${connectorId} is offline: it rotates when asked online`);
    await adminChange(c, {
      target: { type: "connector", id: connectorId, name: row.name },
      data: { identityKeyRotationRequested: true },
    });
    return c.json({ ok: true }, 200);
  },
);
