// Typed API errors: a stable code and a generic message to the browser, the detail to the log only.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiError, ErrorCode } from "../protocol/index.ts";

const MESSAGES: Record<ErrorCode, string> = {
  bad_request: "The request was not valid.",
  unauthorized: "Sign in to continue.",
  forbidden: "You are not allowed to do that.",
  not_found: "Not found.",
  conflict: "That conflicts with existing data.",
  rate_limited: "Too many attempts. Wait a moment and try again.",
  step_up_required: "Confirm it is you before connecting.",
  connector_unavailable: "No connector is online for this server's site. Ask an admin to check the connector.",
  recording_unavailable: "Recording is required for this server and cannot be stored right now. Try again later.",
  protocol_error: "Protocol error.",
  too_large: "The request is too large.",
  internal: "Something went wrong on our side.",
  unknown_policy: "That policy does not exist.",
  policy_not_allowed: "That policy is not allowed in this zone. Ask a global admin to allow it.",
  policy_weaker_than_zone: "That policy is weaker than the zone's own policy.",
  credential_rotating: "This credential is being changed after its last use. Try again in a few minutes.",
  seal_key_changed: "The site's seal key has changed since this page loaded. Reload and enter the secret again.",
  second_factor_needed: "Changing your master password needs a second factor. Set one up, or ask an admin to reset it.",
  code_not_accepted: "That code was not accepted. Try again.",
  policy_inconsistent: "The policy's limits contradict each other, e.g. an extension longer than the session.",
  still_enabled: "Turn it off first: that ends what is open on it. Then delete it.",
  duo_unavailable: "Duo cannot be reached right now. Try again later, or use another second factor.",
  duo_refused: "Duo did not accept these settings. Check the API hostname, client ID and client secret.",
  command_rule_refused: "A command rule was refused: an unsafe or too long pattern, or too many rules.",
  sharing_off: "This session's policy does not allow inviting anyone.",
  not_eligible: "That person cannot join this session.",
};

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  step_up_required: 403,
  connector_unavailable: 503,
  recording_unavailable: 503,
  protocol_error: 400,
  too_large: 413,
  internal: 500,
  unknown_policy: 400,
  policy_not_allowed: 403,
  policy_weaker_than_zone: 403,
  credential_rotating: 409,
  seal_key_changed: 409,
  second_factor_needed: 403,
  code_not_accepted: 403,
  policy_inconsistent: 400,
  still_enabled: 409,
  duo_unavailable: 503,
  duo_refused: 409,
  command_rule_refused: 400,
  sharing_off: 403,
  not_eligible: 422,
};

export class ApiFailure extends HTTPException {
  constructor(
    readonly code: ErrorCode,
    /** Logged on the server, never sent. */
    readonly detail?: string,
  ) {
    super(STATUS[code]);
  }
}

export function errorBody(code: ErrorCode): ApiError {
  return { error: { code, message: MESSAGES[code] } };
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof ApiFailure) {
    if (err.detail) console.warn(`api ${c.req.method} ${new URL(c.req.url).pathname}: ${err.code}: ${err.detail}`);
    return c.json(errorBody(err.code), STATUS[err.code]);
  }
  if (err instanceof HTTPException) {
    const code: ErrorCode = err.status === 401 ? "unauthorized" : err.status === 404 ? "not_found" : "bad_request";
    return c.json(errorBody(code), STATUS[code]);
  }
  console.error(`api ${c.req.method} ${new URL(c.req.url).pathname}: unhandled`, err);
  return c.json(errorBody("internal"), 500);
}

/** Runs an INSERT whose failure means a name or key is taken: a 409, with the database's words in the log only. */
export async function insertOrConflict(statement: D1PreparedStatement): Promise<void> {
  try {
    await statement.run();
  } catch (err) {
    throw new ApiFailure("conflict", (err as Error).message);
  }
}
