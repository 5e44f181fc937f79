// The deployment's Duo settings in D1 (duo_config, one row): the client secret sealed at rest with the edge's
// USER_TOKEN_SECRET, opened only to sign Duo's JWTs. Whether Duo is offered decides who gets a second step.
// The one owner of `duo_config` (AGENTS.md, "One owner per table").
import type { Context } from "hono";
import type { DuoFailMode } from "../../protocol/index.ts";
import type { AppContext, Env } from "../env.ts";
import type { DuoClient } from "./duo.ts";
import { openAtRest, sealAtRest } from "./hash.ts";

/** Associated data of the sealed secret: a blob from another table or user does not open here. */
const SECRET_CONTEXT = "duo_config:client_secret";

export type DuoConfigRow = {
  enabled: number;
  api_host: string;
  client_id: string;
  secret_enc: string;
  fail_mode: DuoFailMode;
  updated_at: number;
};

export const loadDuoRow = (db: D1Database) =>
  db
    .prepare("SELECT enabled, api_host, client_id, secret_enc, fail_mode, updated_at FROM duo_config WHERE id = 1")
    .first<DuoConfigRow>();

/** Sets the one row (created on the first save); `secretEnc` sealed with `sealDuoSecret`, or the stored one kept. */
export async function saveDuoConfig(
  db: D1Database,
  config: {
    enabled: boolean;
    apiHost: string;
    clientId: string;
    secretEnc: string;
    failMode: DuoFailMode;
    now: number;
  },
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO duo_config (id, enabled, api_host, client_id, secret_enc, fail_mode, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET enabled = excluded.enabled, api_host = excluded.api_host, client_id = excluded.client_id,
         secret_enc = excluded.secret_enc, fail_mode = excluded.fail_mode, updated_at = excluded.updated_at`,
    )
    .bind(config.enabled ? 1 : 0, config.apiHost, config.clientId, config.secretEnc, config.failMode, config.now)
    .run();
}

/** Duo is configured and turned on for this deployment. */
export async function duoOffered(db: D1Database): Promise<boolean> {
  const row = await db.prepare("SELECT enabled FROM duo_config WHERE id = 1").first<{ enabled: number }>();
  return !!row?.enabled;
}

/** Duo's callback on this edge: the redirect URI entered in Duo's Admin Panel. */
export const duoRedirectUri = (c: Context<AppContext>) =>
  new URL("/api/mfa/duo/callback", c.env.APP_URL ?? c.req.url).toString();

export const sealDuoSecret = (env: Env, secret: string) => sealAtRest(env.USER_TOKEN_SECRET, secret, SECRET_CONTEXT);

/** The enabled Duo client with its secret opened, or null when Duo is off. */
export async function duoClient(
  c: Context<AppContext>,
  row?: DuoConfigRow | null,
): Promise<{ client: DuoClient; failMode: DuoFailMode } | null> {
  const config = row === undefined ? await loadDuoRow(c.env.DB) : row;
  if (!config?.enabled) return null;
  return {
    client: {
      apiHost: config.api_host,
      clientId: config.client_id,
      clientSecret: await openAtRest(c.env.USER_TOKEN_SECRET, config.secret_enc, SECRET_CONTEXT),
      redirectUri: duoRedirectUri(c),
    },
    failMode: config.fail_mode,
  };
}

export const openDuoSecret = (env: Env, sealed: string) => openAtRest(env.USER_TOKEN_SECRET, sealed, SECRET_CONTEXT);
