// The edge Worker: authenticates and routes. Sockets are upgraded here and handed to Durable Objects.
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { AuditLedger } from "../durable/audit-ledger.ts";
import { ConnectorHub } from "../durable/connector-hub.ts";
import { SessionRoom } from "../durable/session-room.ts";
import type { AppContext } from "./env.ts";
import { errorBody, onError } from "./errors.ts";
import { admin } from "./routes/admin.ts";
import { auth } from "./routes/auth.ts";
import { connectors } from "./routes/connectors.ts";
import { sessions } from "./routes/sessions.ts";

export const app = new Hono<AppContext>();
const apiHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  crossOriginResourcePolicy: "same-origin",
});
// A 101 response from a Durable Object has immutable headers: sockets skip the header middleware.
app.use("/api/*", (c, next) => (c.req.header("Upgrade") ? next() : apiHeaders(c, next)));
app.route("/api", auth);
app.route("/api", admin);
app.route("/api", sessions);
app.route("/", connectors);
app.notFound((c) =>
  new URL(c.req.url).pathname.startsWith("/api/") ? c.json(errorBody("not_found"), 404) : c.env.ASSETS.fetch(c.req.raw),
);
app.onError(onError);

export default app;
export { AuditLedger, ConnectorHub, SessionRoom };
