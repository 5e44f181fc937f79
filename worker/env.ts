// Bindings and secrets of the edge Worker (see wrangler.toml).
import type { AuditLedger } from "../durable/audit-ledger.ts";
import type { ConnectorHub } from "../durable/connector-hub.ts";
import type { SessionRoom } from "../durable/session-room.ts";

export interface Env {
  DB: D1Database;
  ASSETS: Fetcher;
  SESSION_ROOM: DurableObjectNamespace<SessionRoom>;
  CONNECTOR_HUB: DurableObjectNamespace<ConnectorHub>;
  AUDIT_LEDGER: DurableObjectNamespace<AuditLedger>;
  EDGE_SIGNING_KEY: string;
  USER_TOKEN_SECRET: string;
  BOOTSTRAP_TOKEN?: string;
  MAX_SESSION_MINUTES: string;
  /** Notifications (see worker/notify/): a Slack-compatible webhook, its HMAC secret, and email. */
  NOTIFY_WEBHOOK_URL?: string;
  NOTIFY_WEBHOOK_SECRET?: string;
  NOTIFY_EMAIL_FROM?: string;
  EMAIL?: SendEmail;
  APP_URL?: string;
  /** Recordings (docs/recording.md): the R2 bucket by default, or any S3-compatible store. */
  RECORDINGS?: R2Bucket;
  RECORDING_STORE?: "r2" | "s3";
  RECORDING_S3_ENDPOINT?: string;
  RECORDING_S3_REGION?: string;
  RECORDING_S3_BUCKET?: string;
  RECORDING_S3_ACCESS_KEY_ID?: string;
  RECORDING_S3_SECRET_ACCESS_KEY?: string;
}

export type AppContext = {
  Bindings: Env;
  Variables: { user: AuthUser };
};

export type AuthUser = { id: string; username: string; roles: string[] };
