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
import { apiParts } from "../worker/api-parts.ts";
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

  it("says what every /api route answers: a JSON schema, or a download's content types", () => {
    const app = newApi();
    for (const part of apiParts) app.route("/api", part);
    const answers = app.openAPIRegistry.definitions.flatMap((d) => {
      if (d.type !== "route") return [];
      const [, success] = Object.entries(d.route.responses).find(([status]) => status !== "default") ?? [];
      const types = Object.keys((success as { content?: object } | undefined)?.content ?? {});
      return [[`${d.route.method.toUpperCase()} ${d.route.path}`, types] as const];
    });
    expect(answers.filter(([, types]) => types.length === 0)).toEqual([]);
    // The files: not JSON, so the browser links to them (auditExportUrl, recordingCastUrl) instead of typing an answer.
    expect(answers.filter(([, types]) => !types.includes("application/json"))).toEqual([
      ["GET /api/audit/export", ["application/x-ndjson"]],
      ["GET /api/recordings/{id}/cast", ["application/x-asciicast; charset=utf-8", "application/octet-stream"]],
      ["GET /api/recordings/{id}/manifest", ["application/jose"]],
    ]);
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
