// The browser's route table (web/src/shared/api-routes.ts) is generated from the edge's own route definitions and kept
// current: a route added, removed or given another schema without `npm run api:client` fails here. A route whose
// schema is inline (not a protocol/ export) cannot be generated, so it is reported instead of silently typed `unknown`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LoginRequest, LoginResult } from "../protocol/index.ts";
import { routes } from "../web/src/shared/api-routes.ts";
import { newApi, route } from "../worker/openapi.ts";
import { collect, generate, ROUTES_FILE } from "./api-client.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("the browser's route table", () => {
  it("is what the edge's routes generate now", () => {
    expect(readFileSync(join(ROOT, ROUTES_FILE), "utf8")).toBe(generate());
  });

  it("names every /api route the Worker mounts, each schema by its protocol/ export", () => {
    const { entries, unnamed } = collect();
    expect(unnamed).toEqual([]);
    expect(Object.keys(routes)).toEqual(entries.map((e) => e.key));
    expect(routes["POST /api/login"]).toEqual({ body: LoginRequest, response: LoginResult });
    // Not browser routes: the connector's, SCIM's, and the socket upgrades.
    expect(Object.keys(routes).every((key) => / \/api\//.test(key))).toBe(true);
  });

  it("refuses a route whose response schema is written inline", () => {
    const app = newApi();
    app.openapi(
      route({ method: "get", path: "/inline", summary: "x", tags: [], response: z.object({ ok: z.boolean() }) }),
      (c) => c.json({ ok: true }, 200),
    );
    expect(collect([app]).unnamed).toEqual(["GET /api/inline (response)"]);
  });
});
