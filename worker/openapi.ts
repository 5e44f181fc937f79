// Route definitions with @hono/zod-openapi: every body, query and path parameter is validated by
// its protocol/ schema before a handler runs, and the same definitions produce /api/openapi.json.
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ErrorCode, MAX_JSON_BODY } from "../protocol/index.ts";
import { limitBody } from "./body-limit.ts";
import type { AppContext } from "./env.ts";
import { ApiFailure } from "./errors.ts";

export function newApi() {
  return new OpenAPIHono<AppContext>({
    defaultHook: (result) => {
      if (!result.success) {
        const detail = result.error.issues
          .map((i) => `${i.path.join(".")}: ${i.code === "custom" ? (i.params?.rule ?? i.code) : i.code}`)
          .join("; ");
        // A schema's own rule may name a stable code (e.g. policy_inconsistent); otherwise it is a bad_request.
        const named = result.error.issues
          .map((i) => (i.code === "custom" ? ErrorCode.safeParse(i.params?.apiCode) : null))
          .find((code) => code?.success)?.data;
        throw new ApiFailure(named ?? "bad_request", detail);
      }
    },
  });
}

/** A downloaded file's body: bytes in the content type the route names. */
const Download = z.string().openapi({ format: "binary" });

const ApiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

type Method = "get" | "post" | "put" | "patch" | "delete";

/**
 * A route with a JSON body (optional), a JSON response, and the error shape every route shares. A route
 * with a body reads at most `bodyLimit` bytes of it (default MAX_JSON_BODY, protocol/limits.ts), after
 * its own middleware (authentication first) and before the validator parses it.
 */
export function route<
  M extends Method,
  P extends string,
  B extends z.ZodType | undefined = undefined,
  Q extends z.ZodObject | undefined = undefined,
  R extends z.ZodType = z.ZodType,
  Pa extends z.ZodObject | undefined = undefined,
>(spec: {
  method: M;
  path: P;
  summary: string;
  tags: string[];
  middleware?: MiddlewareHandler<AppContext>[];
  params?: Pa;
  query?: Q;
  body?: B;
  /** Largest body this route reads, in bytes (protocol/limits.ts). */
  bodyLimit?: number;
  response?: R;
  /**
   * A route that answers a file, not JSON: the content types it may answer with (e.g. `application/x-ndjson`). Its
   * body is a stream of bytes in that type, so it has no JSON schema (and no entry in the browser's typed answers).
   */
  download?: readonly string[];
  status?: 200 | 201;
}) {
  const status = spec.status ?? 200;
  const content = spec.response
    ? { "application/json": { schema: spec.response } }
    : spec.download
      ? Object.fromEntries(spec.download.map((type) => [type, { schema: Download }]))
      : undefined;
  return createRoute({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    tags: spec.tags,
    middleware: [...(spec.middleware ?? []), ...(spec.body ? [limitBody(spec.bodyLimit ?? MAX_JSON_BODY)] : [])] as [],
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.body ? { body: { content: { "application/json": { schema: spec.body } }, required: true } } : {}),
    } as {
      params: Pa extends z.ZodObject ? Pa : z.ZodObject;
      query: Q extends z.ZodObject ? Q : z.ZodObject;
      body: { content: { "application/json": { schema: B extends z.ZodType ? B : z.ZodAny } }; required: true };
    },
    responses: {
      [status]: {
        description: spec.summary,
        ...(content ? { content } : {}),
      },
      default: { description: "Error with a stable code", content: { "application/json": { schema: ApiErrorSchema } } },
    },
  } satisfies RouteConfig);
}

export const IdParam = z.object({ id: z.string().min(1).max(64) });
/** One connector of a site: /sites/{id}/connectors/{connectorId}/… */
export const ConnectorParam = IdParam.extend({ connectorId: z.string().min(1).max(64) });
