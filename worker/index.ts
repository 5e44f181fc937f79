// The edge Worker: authenticates and routes. Sockets are upgraded here and handed to Durable Objects.
import { AuditLedger } from "../durable/audit-ledger.ts";
import { ConnectorHub } from "../durable/connector-hub.ts";
import { SessionRoom } from "../durable/session-room.ts";
import { provideWorkerEffects } from "../durable/worker-effects.ts";
import { notifyCommandReview } from "./notify/command-review.ts";
import { countMasterPasswordFailure, settleMasterPasswordGuess } from "./auth/connect-gate.ts";
import { deliverAuditStream } from "./audit-stream/deliver.ts";
import type { Env } from "./env.ts";
import { errorBody, onError } from "./errors.ts";
import { newApi } from "./openapi.ts";
import { connectors } from "./routes/connectors.ts";
import { connectorInventory } from "./routes/discovery.ts";
import { connectorIdentity } from "./routes/connector-identity.ts";
import { connectorRotations } from "./routes/rotations.ts";
import { recordingUpload } from "./routes/recording-upload.ts";
import { connectorSealKeys } from "./routes/seal-keys.ts";
import { scim, scimErrorResponse } from "./routes/scim.ts";
import { apiParts } from "./api-parts.ts";
import { sweep } from "./scheduler.ts";
import { securityHeaders } from "./security-headers.ts";

export const app = newApi();
// Every Worker response (API, connector routes, errors) gets the hardening headers; pages and assets get
// theirs from web/public/_headers. Request bodies are limited per route (worker/body-limit.ts via route()).
app.use("*", securityHeaders);
for (const part of apiParts) app.route("/api", part);
app.route("/", connectors);
app.route("/", connectorInventory);
app.route("/", connectorIdentity);
app.route("/", connectorRotations);
app.route("/", connectorSealKeys);
app.route("/", recordingUpload);
// SCIM 2.0 provisioning: its own token kind and its own error shape (worker/routes/scim.ts).
app.route("/", scim);
app.doc31("/api/openapi.json", { openapi: "3.1.0", info: { title: "edge-psm API", version: "1" } });
app.notFound((c) => {
  const path = new URL(c.req.url).pathname;
  if (path.startsWith("/scim/")) return scimErrorResponse(404, undefined, "no such SCIM endpoint");
  return path.startsWith("/api/") ? c.json(errorBody("not_found"), 404) : c.env.ASSETS.fetch(c.req.raw);
});
app.onError(onError);

export default {
  fetch: app.fetch,
  /** Every minute: expire and activate checkouts, deliver due notifications. */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext) {
    ctx.waitUntil(sweep(env, Date.now()));
  },
} satisfies ExportedHandler<Env>;

// What the objects ask of the Worker's code, which they may not import (durable/worker-effects.ts).
provideWorkerEffects({
  masterPasswordWrong: countMasterPasswordFailure,
  masterPasswordSettled: settleMasterPasswordGuess,
  deliverAuditStream,
  commandReviewWaiting: notifyCommandReview,
});

export { AuditLedger, ConnectorHub, SessionRoom };
