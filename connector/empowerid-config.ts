// Settings of the EmpowerID credential provider. EmpowerID does not publish the exact paths and
// field names of its PSM checkout API, so every path and field is here, with the defaults
// docs/empowerid.md explains (what is known, what is assumed). Override any of them in config.json.
import { z } from "zod";
import { inCidr, parseCidr, parseIp } from "./target-policy.ts";

const LOOPBACK = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

/** https, or http to this host only (a local test or a TLS-terminating sidecar): never plaintext over a network. */
function tlsOrLoopback(text: string): boolean {
  const url = new URL(text);
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:") return false;
  if (url.hostname === "localhost") return true;
  const ip = parseIp(url.hostname);
  return ip !== undefined && LOOPBACK.some((range) => inCidr(ip, range));
}

/** Field names of the JSON bodies exchanged with EmpowerID (assumed; see docs/empowerid.md). */
export const EmpowerIdFields = z.strictObject({
  /** Request: the PSM session id, echoed in lifecycle reports. */
  sessionId: z.string().default("SessionId"),
  /** Request: the person checking out (the edge's user name). */
  user: z.string().default("UserName"),
  /** Request: EmpowerID's reference of the vaulted credential (the credential's external ref). */
  credential: z.string().default("CredentialId"),
  /** Request: the user's master password, opened from the grant only for this call. */
  masterPassword: z.string().default("MasterPassword"),
  /** Request: the target host, for EmpowerID's own audit. */
  target: z.string().default("TargetHost"),
  /** Answer: EmpowerID's id of the checkout, used in every lifecycle report. */
  checkoutId: z.string().default("CheckoutId"),
  /** Answer: the released secret (password or private key). */
  secret: z.string().default("Password"),
  /** Answer: true when EmpowerID approved the release. */
  approved: z.string().default("Approved"),
  /** Lifecycle request: the stage (`Connected`, `Ended`). */
  status: z.string().default("Status"),
  /** Lifecycle request: why the session ended. */
  reason: z.string().default("Reason"),
  /** Polling request: when the session was last seen alive (ISO 8601). */
  lastReported: z.string().default("LastReported"),
  /** Polling answer: true when EmpowerID wants the session ended now (checkout revoked). */
  terminate: z.string().default("Terminate"),
});
export type EmpowerIdFields = z.infer<typeof EmpowerIdFields>;

export const EmpowerIdConfig = z
  .strictObject({
    /** EmpowerID's base URL, e.g. https://eid.example.com (http only to a loopback address). */
    baseUrl: z.url().refine(tlsOrLoopback, "baseUrl must be https (http only to a loopback address)"),
    /** OAuth client registered in EmpowerID for the connector (client credentials grant). */
    clientId: z.string().min(1),
    /** The client secret; not needed when the client certificate authenticates the token request. */
    clientSecret: z.string().min(1).optional(),
    /**
     * How the token request authenticates: HTTP Basic with the secret (default), the secret in the body, or the
     * client certificate alone (`tls`: RFC 8705 `tls_client_auth`, a certificate-bound service account).
     */
    clientAuth: z.enum(["basic", "post", "tls"]).default("basic"),
    /**
     * Mutual TLS to EmpowerID: the connector's client certificate and its key (PEM files on the connector host),
     * presented on every call, token request included.
     */
    clientCertFile: z.string().optional(),
    clientKeyFile: z.string().optional(),
    /** CA bundle (PEM) EmpowerID's server certificate chains to; the system's CAs otherwise. */
    caFile: z.string().optional(),
    /** EmpowerID's API key for the OAuth application, sent as `apiKeyHeader` (optional). */
    apiKey: z.string().min(1).optional(),
    apiKeyHeader: z.string().default("X-EmpowerID-API-Key"),
    scope: z.string().optional(),
    /** OAuth token endpoint (known: EmpowerID serves /oauth/v2/token). */
    tokenPath: z.string().default("/oauth/v2/token"),
    /** Authorise this user's checkout of this credential and release it (assumed path). */
    checkoutPath: z.string().default("/api/services/v1/secureaccessgateway/checkout"),
    /** Session stage reports: connected, ended (assumed path). */
    sessionPath: z.string().default("/api/services/v1/secureaccessgateway/session"),
    /** Periodic "still alive" report (public name). */
    pollingPath: z.string().default("/api/services/v1/secureaccessgateway/polling"),
    /** How often a live session is reported: 60 s. */
    pollingIntervalMs: z.number().int().min(1000).default(60_000),
    /** Each EmpowerID call must answer within this: 10 s. */
    timeoutMs: z.number().int().min(100).default(10_000),
    fields: EmpowerIdFields.default(EmpowerIdFields.parse({})),
  })
  .refine((c) => !c.clientCertFile === !c.clientKeyFile, "clientCertFile and clientKeyFile go together")
  .refine((c) => c.clientAuth !== "tls" || c.clientCertFile, "clientAuth tls needs clientCertFile and clientKeyFile")
  .refine((c) => c.clientAuth === "tls" || c.clientSecret, "a clientSecret is needed unless clientAuth is tls");
export type EmpowerIdConfig = z.infer<typeof EmpowerIdConfig>;
