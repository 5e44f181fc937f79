// Browser hardening headers on every response the Worker makes (API, connector routes, errors).
// Pages and assets served by the assets layer get theirs from web/public/_headers (copied to web/dist).
import type { MiddlewareHandler } from "hono";

/** The Worker answers JSON, redirects and socket upgrades: nothing in them may load, run or be framed. */
export const WORKER_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const HEADERS: Record<string, string> = {
  "Content-Security-Policy": WORKER_CSP,
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/**
 * Sets the headers after the handler. A 101 is left alone (its headers are immutable, and a socket is
 * not a document). A response that already has a CSP came from the assets layer (the SPA fallback) and
 * keeps the page's own policy. Responses from a binding's fetch are immutable, so the headers go on a copy.
 */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.res.status === 101 || c.res.headers.has("Content-Security-Policy")) return;
  const res = new Response(c.res.body, c.res);
  for (const [name, value] of Object.entries(HEADERS)) res.headers.set(name, value);
  c.res = res;
};
