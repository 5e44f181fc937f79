// The browser's API: every route group mounted under /api, in the order the Worker mounts them. The Worker
// (index.ts) mounts them; scripts/api-client.ts reads the same list to generate the browser's typed client
// (web/src/shared/api-routes.ts) from the routes' own schemas. The connector's and SCIM's routes are not here.
import { adminAuth } from "./routes/admin-auth.ts";
import { audit } from "./routes/audit.ts";
import { auditSinks } from "./routes/audit-sinks.ts";
import { commandReviews } from "./routes/command-reviews.ts";
import { sharing } from "./routes/sharing.ts";
import { commands } from "./routes/commands.ts";
import { auth } from "./routes/auth.ts";
import { checkouts } from "./routes/checkouts.ts";
import { directory } from "./routes/directory.ts";
import { discovery } from "./routes/discovery.ts";
import { connectorKeys } from "./routes/connector-identity.ts";
import { inventory } from "./routes/inventory.ts";
import { keyboardLayout } from "./routes/keyboard-layout.ts";
import { extensions } from "./routes/extensions.ts";
import { recordings } from "./routes/recordings.ts";
import { rotations } from "./routes/rotations.ts";
import { sealKeys } from "./routes/seal-keys.ts";
import { duo } from "./routes/duo.ts";
import { notifications } from "./routes/notifications.ts";
import { mfa } from "./routes/mfa.ts";
import { scimTokens } from "./routes/scim-tokens.ts";
import { sessions } from "./routes/sessions.ts";
import { oidc } from "./routes/oidc.ts";
import { push } from "./routes/push.ts";
import { sites } from "./routes/sites.ts";
import { stepUp } from "./routes/step-up.ts";
import { tickets } from "./routes/tickets.ts";
import { webauthn } from "./routes/webauthn.ts";
import { zones } from "./routes/zones.ts";

export const apiParts = [
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
];
