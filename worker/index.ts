// The edge Worker: authenticates and routes. Sockets are upgraded here and handed to Durable Objects.
import { AuditLedger } from "../durable/audit-ledger.ts";
import { ConnectorHub } from "../durable/connector-hub.ts";
import { SessionRoom } from "../durable/session-room.ts";
import { provideWorkerEffects } from "../durable/worker-effects.ts";
import { notifyCommandReview } from "./notify/command-review.ts";
import { countMasterPasswordFailure } from "./auth/connect-gate.ts";
import { deliverAuditStream } from "./audit-stream/deliver.ts";
import type { Env } from "./env.ts";
import { errorBody, onError } from "./errors.ts";
import { newApi } from "./openapi.ts";
import { adminAuth } from "./routes/admin-auth.ts";
import { audit } from "./routes/audit.ts";
import { auditSinks } from "./routes/audit-sinks.ts";
import { commandReviews } from "./routes/command-reviews.ts";
import { sharing } from "./routes/sharing.ts";
import { commands } from "./routes/commands.ts";
import { auth } from "./routes/auth.ts";
import { checkouts } from "./routes/checkouts.ts";
import { connectors } from "./routes/connectors.ts";
import { directory } from "./routes/directory.ts";
import { connectorInventory, discovery } from "./routes/discovery.ts";
import { connectorIdentity, connectorKeys } from "./routes/connector-identity.ts";
import { inventory } from "./routes/inventory.ts";
import { keyboardLayout } from "./routes/keyboard-layout.ts";
import { extensions } from "./routes/extensions.ts";
import { recordings } from "./routes/recordings.ts";
import { connectorRotations, rotations } from "./routes/rotations.ts";
import { recordingUpload } from "./routes/recording-upload.ts";
import { connectorSealKeys, sealKeys } from "./routes/seal-keys.ts";
import { duo } from "./routes/duo.ts";
import { notifications } from "./routes/notifications.ts";
import { mfa } from "./routes/mfa.ts";
import { scim, scimErrorResponse } from "./routes/scim.ts";
import { scimTokens } from "./routes/scim-tokens.ts";
import { sessions } from "./routes/sessions.ts";
import { oidc } from "./routes/oidc.ts";
import { push } from "./routes/push.ts";
import { sites } from "./routes/sites.ts";
import { stepUp } from "./routes/step-up.ts";
import { tickets } from "./routes/tickets.ts";
import { webauthn } from "./routes/webauthn.ts";
import { zones } from "./routes/zones.ts";
import { sweep } from "./scheduler.ts";
import { securityHeaders } from "./security-headers.ts";

export const app = newApi();
// Every Worker response (API, connector routes, errors) gets the hardening headers; pages and assets get
// theirs from web/public/_headers. Request bodies are limited per route (worker/body-limit.ts via route()).
app.use("*", securityHeaders);
for (const part of [
  auth,
  oidc,
  mfa,
  webauthn,
  push,
  duo,
  tickets,
  stepUp,
  adminAuth,
  sites,
  directory,
  zones,
  inventory,
  checkouts,
  sessions,
  extensions,
  audit,
  auditSinks,
  commands,
  commandReviews,
  sharing,
  discovery,
  recordings,
  connectorKeys,
  rotations,
  sealKeys,
  scimTokens,
  notifications,
  keyboardLayout,
])
  app.route("/api", part);
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
  deliverAuditStream,
  commandReviewWaiting: notifyCommandReview,
});

export { AuditLedger, ConnectorHub, SessionRoom };
