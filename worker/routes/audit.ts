// The audit log for auditors and admins: query, NDJSON export and chain verification.
import { z } from "zod";
import { AuditEntry, AuditQuery } from "../../protocol/index.ts";
import { ledger } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";

export const audit = newApi();
const tags = ["audit"];
const middleware = [requireUser];

function requireAuditor(user: AuthUser): void {
  if (!user.roles.includes("auditor") && !user.roles.includes("admin"))
    throw new ApiFailure("forbidden", "not an auditor");
}

/** Export pages through the ledger 500 entries at a time. */
const EXPORT_PAGE = 500;

audit.openapi(
  route({
    method: "get",
    path: "/audit",
    summary: "Query the audit log, newest first",
    tags,
    middleware,
    query: AuditQuery,
    response: z.array(AuditEntry),
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    return c.json(await ledger(c.env).query(c.req.valid("query")), 200);
  },
);

audit.openapi(
  route({
    method: "get",
    path: "/audit/export",
    summary: "The whole audit log as NDJSON, oldest first",
    tags,
    middleware,
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    const stub = ledger(c.env);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const encoder = new TextEncoder();
    c.executionCtx.waitUntil(
      (async () => {
        const writer = writable.getWriter();
        let after = -1;
        for (;;) {
          const page = await stub.page(after, EXPORT_PAGE);
          if (page.length === 0) break;
          await writer.write(encoder.encode(page.map((e) => `${JSON.stringify(e)}\n`).join("")));
          after = page[page.length - 1]!.idx;
        }
        await writer.close();
      })(),
    );
    return new Response(readable, {
      headers: { "content-type": "application/x-ndjson", "content-disposition": 'attachment; filename="audit.ndjson"' },
    }) as never;
  },
);

audit.openapi(
  route({ method: "get", path: "/audit/verify", summary: "Verify the hash chain", tags, middleware }),
  async (c) => {
    requireAuditor(c.get("user"));
    return c.json(await ledger(c.env).verify(), 200);
  },
);
