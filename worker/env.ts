// Bindings and secrets of the edge Worker. What wrangler.toml declares is typed by `wrangler types` in
// worker/worker-configuration.d.ts (`npm run types`; CI fails when it is stale); secrets and optional vars,
// which wrangler.toml does not list, are typed here.
import type { AuthConnector } from "./connector-auth.ts";

/**
 * Secrets and optional vars, which wrangler.toml does not list, so `wrangler types` cannot type them.
 * worker/test/env.d.ts adds them to Cloudflare.Env for `env` from cloudflare:test.
 */
export interface Secrets {
  EDGE_SIGNING_KEY: string;
  /** The next signing key (private JWK), announced to connectors ahead of a rotation (edge-shared/keys.ts). */
  EDGE_SIGNING_KEY_NEXT?: string;
  /** JSON array of retired public JWKs: old manifests still verify against them. */
  EDGE_SIGNING_KEYS_RETIRED?: string;
  USER_TOKEN_SECRET: string;
  BOOTSTRAP_TOKEN?: string;
  /** Notifications (see worker/notify/): a Slack-compatible webhook, its HMAC secret, and email. */
  NOTIFY_WEBHOOK_URL?: string;
  NOTIFY_WEBHOOK_SECRET?: string;
  NOTIFY_EMAIL_FROM?: string;
  APP_URL?: string;
  /** Web Push (worker/notify/push.ts): the VAPID key, a private P-256 JWK (`npx tsx scripts/vapid-key.ts`). */
  PUSH_VAPID_KEY?: string;
  /** VAPID contact for push services, mailto: or https: (default APP_URL). */
  PUSH_VAPID_SUBJECT?: string;
  /** Recordings: "r2" (default) or "s3". */
  RECORDING_STORE?: "r2" | "s3";
  /** How long the edge waits for a recording's last chunk after the session ended, in ms (tests shorten it). */
  RECORDING_TAIL_WAIT_MS?: string;
  RECORDING_S3_ENDPOINT?: string;
  RECORDING_S3_REGION?: string;
  RECORDING_S3_BUCKET?: string;
  RECORDING_S3_ACCESS_KEY_ID?: string;
  RECORDING_S3_SECRET_ACCESS_KEY?: string;
  /** OIDC single sign-on (docs/auth.md): issuer URL, client, and how IdP groups map to ours. */
  OIDC_ISSUER?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_CLIENT_SECRET?: string;
  /** The ID token / userinfo claim holding the user's groups (default "groups"). */
  OIDC_GROUPS_CLAIM?: string;
  /** JSON: IdP group -> list of our group names and/or "role:<role>". */
  OIDC_GROUP_MAP?: string;
  /** Scopes asked for (default "openid profile email"; add e.g. "groups" where the IdP needs it). */
  OIDC_SCOPES?: string;
  /** Label of the sign-in button, e.g. "Microsoft Entra ID". */
  OIDC_LABEL?: string;
  /** "true" only in tests: lets the client talk to an http:// issuer on loopback. */
  OIDC_ALLOW_HTTP?: string;
  /** The ID token claim that names the person (e.g. an employee number): links a person's accounts (docs/access-model.md). */
  OIDC_PERSON_CLAIM?: string;
  /** WebAuthn relying party id (default: the host of APP_URL or of the request). */
  WEBAUTHN_RP_ID?: string;
  /** Working hours for step-up, "HH-HH" in UTC (default 07-19, Monday to Friday). */
  WORK_HOURS_UTC?: string;
}

/** Everything the Worker and its objects get: the generated bindings and the secrets. */
export interface Env extends Cloudflare.Env, Secrets {}

export type AppContext = {
  Bindings: Env;
  Variables: { user: AuthUser; signIn: SignIn; connector: AuthConnector };
};

/** The server-side sign-in the request's cookie names (auth_sessions row). */
export type SignIn = {
  id: string;
  stage: "mfa" | "full";
  /** How it was proven: pwd, oidc, otp, hwk, push, rec. */
  amr: string[];
  createdAt: number;
  mfaAt: number | null;
  mfaFailures: number;
  /** What was new when this sign-in started, carried across rotations (step-up reads it). */
  risk: SignInRisk;
};

export type SignInRisk = { newDevice?: boolean; newCountry?: boolean; newNetwork?: boolean; country?: string | null };

export type AuthUser = { id: string; username: string; roles: string[] };
