// The audit log for auditors and admins: query (by names in part, with each entry's names and replay
// link), the names the filter pickers offer, NDJSON export of what the filter selects, and chain verification.
import { z } from "zod";
import {
  AuditFilterQuery,
  AuditListEntry,
  AuditQuery,
  AuditVerifyResult,
  FilterName,
  FilterNamesQuery,
} from "../../protocol/index.ts";
import { ledger } from "../audit.ts";
import { ledgerFilter, withContext } from "../audit-filter.ts";
import { requireUser } from "../auth/user-token.ts";
import type { AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { auditNames } from "../filter-names.ts";
import { newApi, route } from "../openapi.ts";

export const audit = newApi();
const tags = ["audit"];
const middleware = [requireUser];

/** The audit log's right (auditors and admins), shared with the commands timeline (routes/commands.ts). */
export function requireAuditor(user: AuthUser): void {
  if (!user.roles.includes("auditor") && !user.roles.includes("admin"))
    throw new ApiFailure("forbidden", "not an auditor");
}

/** Export pages through the ledger 500 entries at a time. */
const EXPORT_PAGE = 500;

audit.openapi(
  route({
    method: "get",
    path: "/audit",
    summary: "Query the audit log, newest first (user, server and zone by name in part)",
    tags,
    middleware,
    query: AuditQuery,
    response: z.array(AuditListEntry),
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    const { before, limit, ...q } = c.req.valid("query");
    const filter = await ledgerFilter(c.env.DB, q);
    if (!filter) return c.json([], 200);
    const entries = await ledger(c.env).query({ ...filter, before, limit });
    return c.json(await withContext(c.env.DB, entries), 200);
  },
);

audit.openapi(
  route({
    method: "get",
    path: "/audit/names",
    summary: "Users, servers or zones whose name contains q, for the audit filter's pickers",
    tags,
    middleware,
    query: FilterNamesQuery,
    response: z.array(FilterName),
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    return c.json(await auditNames(c.env.DB, c.req.valid("query")), 200);
  },
);

audit.openapi(
  route({
    method: "get",
    path: "/audit/export",
    summary: "The audit log as NDJSON, oldest first: all of it, or what the filter selects",
    tags,
    middleware,
    query: AuditFilterQuery,
    download: ["application/x-ndjson"],
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    const filter = await ledgerFilter(c.env.DB, c.req.valid("query"));
    const stub = ledger(c.env);
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const encoder = new TextEncoder();
    c.executionCtx.waitUntil(
      (async () => {
        const writer = writable.getWriter();
        let after = -1;
        // The entries exactly as stored (no context): each one's hash still checks.
        for (;;) {
          if (!filter) break;
          const page = await stub.page(after, EXPORT_PAGE, filter);
          if (page.length === 0) break;
          await writer.write(encoder.encode(page.map((e) => `${JSON.stringify(e)}\n`).join("")));
          after = page[page.length - 1]!.idx;
        }
        await writer.close();
      })(),
    );
    return new Response(readable, {
      headers: { "content-type": "application/x-ndjson", "content-disposition": 'attachment; filename="audit.ndjson"' },
    });
  },
);

audit.openapi(
  route({
    method: "get",
    path: "/audit/verify",
    summary: "Verify the hash chain",
    tags,
    middleware,
    response: AuditVerifyResult,
  }),
  async (c) => {
    requireAuditor(c.get("user"));
    return c.json(await ledger(c.env).verify(), 200);
  },
);
