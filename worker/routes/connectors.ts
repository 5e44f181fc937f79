// Connector enrollment and the connector's two socket routes (control and per-session data).
// Connectors are not browsers: they authenticate with a proof-of-key token, never a cookie.
import { connectorEndpoint, EnrollRequest, EnrollResponse, MAX_SIGN_IN_BODY } from "../../protocol/index.ts";
import { sealKid } from "../../keys/seal-kid.ts";
import { claimEnrollmentToken, offerFirstSealKey } from "../access/site-store.ts";
import { authenticateConnector } from "../connector-auth.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";
import { insertConnector } from "../../edge-shared/connector-store.ts";
import { edgeKey } from "../../edge-shared/keys.ts";
import { sha256 } from "../random.ts";
import { forwardSocket, requireUpgrade } from "../sockets.ts";

export const connectors = newApi();

connectors.openapi(
  route({
    method: "post",
    path: "/api/connectors/enroll",
    summary: "Enroll a connector with a one-time token",
    tags: ["connectors"],
    body: EnrollRequest,
    bodyLimit: MAX_SIGN_IN_BODY,
    response: EnrollResponse,
    status: 201,
  }),
  async (c) => {
    const body = c.req.valid("json");
    const identity = body.identityKey;
    if (identity.kty !== "OKP" || identity.crv !== "Ed25519" || typeof identity.x !== "string") {
      throw new ApiFailure("bad_request", "identity key must be a public Ed25519 JWK");
    }
    if (body.sealKey && (body.sealKey.kty !== "EC" || body.sealKey.crv !== "P-256")) {
      throw new ApiFailure("bad_request", "seal key must be a public P-256 JWK");
    }
    // Claim the token atomically: single use, unexpired.
    const siteId = await claimEnrollmentToken(c.env.DB, await sha256(body.token), Date.now());
    if (!siteId) throw new ApiFailure("unauthorized", "enrollment token unknown, used or expired");

    // The site's first connector sets the seal key; later ones must already hold the same key.
    // The stored key names itself (`kid`, its thumbprint), so whatever is sealed to it does too and a rotated
    // key's leftovers are recognised (protocol/seal-rotation.ts).
    if (body.sealKey) {
      const kid = await sealKid(body.sealKey);
      await offerFirstSealKey(c.env.DB, siteId, { kid, json: JSON.stringify({ ...publicOnly(body.sealKey), kid }) });
    }
    const site = await c.env.DB.prepare("SELECT seal_key FROM sites WHERE id = ?")
      .bind(siteId)
      .first<{ seal_key: string | null }>();
    if (!site?.seal_key) throw new ApiFailure("bad_request", "site has no seal key and none was offered");

    const connectorId = crypto.randomUUID();
    await insertConnector(c.env.DB, {
      id: connectorId,
      siteId,
      name: body.name,
      publicKey: JSON.stringify(publicOnly(identity)),
    });
    const { publicJwk } = await edgeKey(c.env.EDGE_SIGNING_KEY);
    return c.json({ connectorId, siteId, edgeKey: publicJwk, sealKey: JSON.parse(site.seal_key) }, 201);
  },
);

/** The connector's long-lived control socket, held by its site's ConnectorHub. */
connectors.get("/connector/control", requireUpgrade, async (c) => {
  const connector = await authenticateConnector(c.env.DB, c.req.header("Authorization"), connectorEndpoint.control);
  const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName(connector.siteId));
  return forwardSocket(hub, c.req.raw, { role: "connector", connectorId: connector.id, siteId: connector.siteId });
});

/** A connector's data socket for one session, paired by the session's room with the browser. */
connectors.get("/connector/sessions/:id", requireUpgrade, async (c) => {
  const sessionId = c.req.param("id");
  const connector = await authenticateConnector(
    c.env.DB,
    c.req.header("Authorization"),
    connectorEndpoint.session(sessionId),
  );
  const session = await c.env.DB.prepare("SELECT site_id, status FROM sessions WHERE id = ?")
    .bind(sessionId)
    .first<{ site_id: string; status: string }>();
  if (!session || session.site_id !== connector.siteId)
    throw new ApiFailure("not_found", "session not of connector's site");
  const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(sessionId));
  return forwardSocket(room, c.req.raw, { role: "connector", connectorId: connector.id, siteId: connector.siteId });
});

function publicOnly(jwk: Record<string, unknown>): Record<string, unknown> {
  const { d: _d, ...rest } = jwk;
  return rest;
}
