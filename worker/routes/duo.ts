// Duo Universal Prompt as a second factor, at sign-in and at step-up (docs/auth.md "Duo"). The page asks
// /mfa/duo/start, which checks Duo's health (failing open or closed by the setting), stores a single-use
// state bound to this sign-in and hands back Duo's authorize URL. Duo sends the browser to /mfa/duo/callback,
// which passes duo_code and state on to the page (the session cookie is SameSite=Strict and does not come
// with Duo's cross-site redirect); the page posts them to /mfa/duo/finish, which spends the state, exchanges
// the code and checks Duo's id_token. Admins set Duo up at /admin/duo.
import type { Context, MiddlewareHandler } from "hono";
import { z } from "zod";
import { DuoFinish, DuoFinished, DuoSettings, DuoSettingsUpdate, DuoStart, DuoStarted } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import {
  type DuoClient,
  duoAuthorizeUrl,
  duoExchange,
  duoHealthCheck,
  type HealthResult,
  randomHex,
} from "../auth/duo.ts";
import { insertDuoState, spendDuoState } from "../auth/duo-state-store.ts";
import {
  duoClient,
  duoRedirectUri,
  loadDuoRow,
  openDuoSecret,
  saveDuoConfig,
  sealDuoSecret,
} from "../auth/duo-config.ts";
import { sha256Hex } from "../auth/hash.ts";
import { afterSecondFactor, secondFactorSkipped } from "../auth/sign-in.ts";
import { requireAnySignIn, requireUser } from "../auth/user-token.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";
import { beforeSecondFactor, secondFactorFailed, secondFactorPassed } from "./mfa.ts";

export const duo = newApi();
const tags = ["mfa"];
/** Time to finish at Duo, ms: the state and the JWTs we signed (Duo's own five minutes) expire together. */
export const DUO_STATE_TTL_MS = 5 * 60_000;

const adminOnly: MiddlewareHandler<AppContext> = async (c, next) => {
  requireAdmin(c.get("user"));
  await next();
};

const stateHash = (state: string) => sha256Hex(`duo-state:${state}`);

async function settingsView(c: Context<AppContext>, health: HealthResult | null): Promise<DuoSettings> {
  const row = await loadDuoRow(c.env.DB);
  return {
    configured: !!row,
    enabled: !!row?.enabled,
    apiHost: row?.api_host ?? null,
    clientId: row?.client_id ?? null,
    secretSet: !!row,
    failMode: row?.fail_mode ?? "closed",
    redirectUri: duoRedirectUri(c),
    health: health?.health ?? null,
  };
}

duo.openapi(
  route({
    method: "get",
    path: "/admin/duo",
    summary: "The deployment's Duo settings (never the secret) and Duo's health now",
    tags,
    middleware: [requireUser, adminOnly],
    response: DuoSettings,
  }),
  async (c) => {
    const configured = await duoClient(c);
    const health = configured ? await duoHealthCheck(configured.client) : null;
    return c.json(await settingsView(c, health), 200);
  },
);

duo.openapi(
  route({
    method: "put",
    path: "/admin/duo",
    summary: "Set up Duo: API hostname, client id, client secret (write-only), fail mode, on or off",
    tags,
    middleware: [requireUser, adminOnly],
    body: DuoSettingsUpdate,
    response: DuoSettings,
  }),
  async (c) => {
    const body = c.req.valid("json");
    const before = await loadDuoRow(c.env.DB);
    // A secret belongs to a client id: a new client id without its secret could not sign anything Duo accepts.
    if (!body.clientSecret && (!before || before.client_id !== body.clientId))
      throw new ApiFailure("bad_request", "duo: a new client id needs its client secret");
    const secret = body.clientSecret ?? (await openDuoSecret(c.env, before!.secret_enc));
    const client: DuoClient = {
      apiHost: body.apiHost,
      clientId: body.clientId,
      clientSecret: secret,
      redirectUri: duoRedirectUri(c),
    };
    // Turning Duo on with settings Duo itself refuses would lock every user out (fail closed) or wave them
    // through (fail open): refused. Duo being unreachable right now is not the settings' fault: stored.
    const health = body.enabled ? await duoHealthCheck(client) : null;
    if (health?.refused) throw new ApiFailure("duo_refused", `duo settings refused: ${health.detail}`);
    if (health && health.health !== "ok") console.warn(`duo settings saved while Duo is ${health.detail}`);
    await saveDuoConfig(c.env.DB, {
      enabled: body.enabled,
      apiHost: body.apiHost,
      clientId: body.clientId,
      secretEnc: body.clientSecret ? await sealDuoSecret(c.env, body.clientSecret) : before!.secret_enc,
      failMode: body.failMode,
      now: Date.now(),
    });
    const shown = (r: { enabled: boolean; apiHost: string; clientId: string; failMode: string }) => r;
    await adminChange(c, {
      target: { type: "setting", id: "duo", name: "Duo" },
      data: {
        before: before
          ? shown({
              enabled: !!before.enabled,
              apiHost: before.api_host,
              clientId: before.client_id,
              failMode: before.fail_mode,
            })
          : null,
        after: shown({
          enabled: body.enabled,
          apiHost: body.apiHost,
          clientId: body.clientId,
          failMode: body.failMode,
        }),
        // Whether the secret was replaced, never the secret.
        secretChanged: !!body.clientSecret,
        ...(health ? { health: health.health } : {}),
      },
    });
    return c.json(await settingsView(c, health), 200);
  },
);

duo.openapi(
  route({
    method: "post",
    path: "/mfa/duo/start",
    summary: "Second factor by Duo (sign-in or step-up): Duo's health, then the URL of Duo's prompt",
    tags,
    middleware: [requireAnySignIn],
    body: DuoStart,
    response: DuoStarted,
  }),
  async (c) => {
    const user = c.get("user");
    const signIn = c.get("signIn");
    const duoNow = await duoClient(c);
    if (!duoNow) throw new ApiFailure("conflict", "duo is not enabled");
    const health = await duoHealthCheck(duoNow.client);
    if (health.health !== "ok") {
      // Failing open lets a sign-in go on without a second factor; a step-up is never waved through (the
      // user can use another factor, or wait for Duo).
      if (duoNow.failMode === "open" && signIn.stage === "mfa") {
        console.warn(`duo fail-open for ${user.id}: ${health.detail}`);
        await secondFactorSkipped(c, health.health);
        return c.json({ next: "done" as const, failOpen: true as const }, 200);
      }
      throw new ApiFailure("duo_unavailable", health.detail);
    }
    const state = randomHex(32);
    const nonce = randomHex(32);
    const now = Date.now();
    await insertDuoState(c.env.DB, {
      stateHash: await stateHash(state),
      userId: user.id,
      authSessionId: signIn.id,
      purpose: signIn.stage === "mfa" ? "sign_in" : "step_up",
      nonce,
      returnTo: c.req.valid("json").returnTo ?? null,
      createdAt: now,
      expiresAt: now + DUO_STATE_TTL_MS,
    });
    const url = await duoAuthorizeUrl(duoNow.client, { username: user.username, state, nonce });
    return c.json({ next: "redirect" as const, url }, 200);
  },
);

const CallbackQuery = z.object({
  state: z.string().max(1024).optional(),
  duo_code: z.string().max(2048).optional(),
  code: z.string().max(2048).optional(),
  error: z.string().max(64).optional(),
});

// Duo's redirect (a cross-site top-level GET: no session cookie). Nothing is decided here: what Duo sent goes
// on to the page, which posts it to /mfa/duo/finish with its cookie. Anything unexpected is an error for the page.
duo.get("/mfa/duo/callback", (c) => {
  const query = CallbackQuery.safeParse(c.req.query());
  const page = new URLSearchParams();
  const code = query.success ? (query.data.duo_code ?? query.data.code) : undefined;
  if (query.success && query.data.state && code && !query.data.error) {
    page.set("state", query.data.state);
    page.set("code", code);
  } else page.set("error", query.success && query.data.error === "access_denied" ? "denied" : "failed");
  return c.redirect(`/#/duo?${page.toString()}`, 302);
});

duo.openapi(
  route({
    method: "post",
    path: "/mfa/duo/finish",
    summary: "Finish the Duo second factor: the state is spent, the code exchanged, Duo's verdict checked",
    tags,
    middleware: [requireAnySignIn],
    body: DuoFinish,
    response: DuoFinished,
  }),
  async (c) => {
    const user = c.get("user");
    const signIn = c.get("signIn");
    const { state, code } = c.req.valid("json");
    const attempt = await beforeSecondFactor(c);
    const now = Date.now();
    // One use: the state is spent before anything else is checked (a replayed callback finds it used).
    const row = await spendDuoState(c.env.DB, await stateHash(state), now);
    const refused = (detail: string) => {
      console.warn(`duo finish refused for ${user.id}: ${detail}`);
      return secondFactorFailed(c, "duo");
    };
    if (!row) return refused("unknown or used state");
    if (row.expires_at <= now) return refused("expired state");
    // Bound to the sign-in that started it: another browser, user or an earlier sign-in cannot finish it.
    if (row.user_id !== user.id || row.auth_session_id !== signIn.id) return refused("state of another sign-in");
    const duoNow = await duoClient(c);
    if (!duoNow) return refused("duo is not enabled");
    const result = await duoExchange(duoNow.client, { code, username: user.username, nonce: row.nonce });
    if (!result.ok) {
      if (result.reason === "unreachable") {
        // Duo's outage is not the user's failure: the attempt is given back (the state is spent: start again).
        await secondFactorPassed(c, attempt);
        throw new ApiFailure("duo_unavailable", result.detail);
      }
      return refused(`${result.reason}: ${result.detail}`);
    }
    await secondFactorPassed(c, attempt);
    await afterSecondFactor(c, "duo");
    return c.json({ returnTo: row.return_to }, 200);
  },
);
