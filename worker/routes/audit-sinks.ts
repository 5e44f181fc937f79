// Admin › Audit › Streaming (docs/audit.md "Streaming to a SIEM"): the sinks every ledger entry also goes out to,
// with how far each is and why one fails. An HEC token is write-only: sealed at rest here, never shown or audited.
import { z } from "zod";
import { AuditSink, AuditSinkInput, Ok } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange, ledger } from "../audit.ts";
import { sealAtRest } from "../auth/hash.ts";
import { requireUser } from "../auth/user-token.ts";
import { hecTokenContext, progressOf } from "../audit-stream/deliver.ts";
import {
  anySinkEnabled,
  deleteSink,
  insertSink,
  listSinks,
  loadSink,
  type NewSink,
  type SinkRow,
  sinkNameTaken,
  updateSink,
} from "../audit-stream/sink-store.ts";
import type { Env } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const auditSinks = newApi();
const tags = ["audit"];
const middleware = [requireUser];

function view(row: SinkRow, count: number): AuditSink {
  const p = progressOf(row);
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    enabled: !!row.enabled,
    url: row.url,
    tokenSet: !!row.token_enc,
    siteId: row.site_id,
    host: row.host,
    port: row.port,
    afterIdx: p.afterIdx,
    behind: Math.max(0, count - 1 - p.afterIdx),
    lastOkAt: p.lastOkAt,
    failingSince: p.failingSince,
    lastError: p.lastError,
    nextAttemptAt: p.attempts ? p.nextAttemptAt : null,
  };
}

/** What the ledger keeps of a sink: its settings, never the token (only whether one is set). */
const shown = (s: AuditSink) => ({
  name: s.name,
  kind: s.kind,
  enabled: s.enabled,
  url: s.url,
  tokenSet: s.tokenSet,
  siteId: s.siteId,
  host: s.host,
  port: s.port,
});

/** Tells the ledger whether any sink is on, so appends wake delivery (or stop waking it). */
async function streamChanged(env: Env): Promise<void> {
  await ledger(env).streamChanged(await anySinkEnabled(env.DB));
}

async function requireSite(db: D1Database, siteId: string): Promise<void> {
  const site = await db.prepare("SELECT 1 AS ok FROM sites WHERE id = ?").bind(siteId).first();
  if (!site) throw new ApiFailure("bad_request", `audit sink: no site ${siteId}`);
}

auditSinks.openapi(
  route({
    method: "get",
    path: "/audit/sinks",
    summary: "The audit stream's sinks, with how far each has acknowledged and why one fails",
    tags,
    middleware,
    response: z.array(AuditSink),
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const [sinks, count] = await Promise.all([listSinks(c.env.DB), ledger(c.env).count()]);
    return c.json(
      sinks.map((row) => view(row, count)),
      200,
    );
  },
);

auditSinks.openapi(
  route({
    method: "post",
    path: "/audit/sinks",
    summary: "Add a sink: an HTTPS event collector (HEC) or a syslog collector reached by a site's connectors",
    tags,
    middleware,
    body: AuditSinkInput,
    response: AuditSink,
    status: 201,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const body = c.req.valid("json");
    const id = crypto.randomUUID();
    const now = Date.now();
    const count = await ledger(c.env).count();
    // `now`: entries written before the sink existed are not owed to it.
    const start = body.from === "now" ? count - 1 : -1;
    if (body.kind === "hec") {
      if (!body.token) throw new ApiFailure("bad_request", "audit sink: an HEC sink needs its token");
      const token = await sealAtRest(c.env.USER_TOKEN_SECRET, body.token, hecTokenContext(id));
      await insert(c.env.DB, {
        id,
        name: body.name,
        kind: "hec",
        enabled: body.enabled,
        url: body.url,
        token,
        start,
        now,
      });
    } else {
      await requireSite(c.env.DB, body.siteId);
      await insert(c.env.DB, {
        id,
        name: body.name,
        kind: "syslog",
        enabled: body.enabled,
        siteId: body.siteId,
        host: body.host,
        port: body.port,
        start,
        now,
      });
    }
    const after = view((await loadSink(c.env.DB, id))!, count);
    await adminChange(c, {
      target: { type: "audit_sink", id, name: body.name },
      data: { before: null, after: shown(after) },
    });
    await streamChanged(c.env);
    return c.json(after, 201);
  },
);

auditSinks.openapi(
  route({
    method: "put",
    path: "/audit/sinks/{id}",
    summary:
      "Change a sink; an HEC token left out is kept (a new URL needs it again). Where it resumes does not change",
    tags,
    middleware,
    params: IdParam,
    body: AuditSinkInput,
    response: AuditSink,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const before = await loadSink(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found", `audit sink ${id}`);
    if (before.kind !== body.kind) throw new ApiFailure("bad_request", "audit sink: its kind cannot change");
    // The stored token goes only to the URL it was given for: kept for another URL, it would be sent to whatever
    // collector an admin names, and the write-only token read back there.
    if (body.kind === "hec" && !body.token && body.url !== before.url)
      throw new ApiFailure("bad_request", "audit sink: a new URL needs the token again");
    const now = Date.now();
    if (body.kind === "hec") {
      const token = body.token ? await sealAtRest(c.env.USER_TOKEN_SECRET, body.token, hecTokenContext(id)) : null;
      await updateSink(c.env.DB, id, {
        kind: "hec",
        name: body.name,
        enabled: body.enabled,
        url: body.url,
        token,
        now,
      });
    } else {
      await requireSite(c.env.DB, body.siteId);
      await updateSink(c.env.DB, id, {
        kind: "syslog",
        name: body.name,
        enabled: body.enabled,
        siteId: body.siteId,
        host: body.host,
        port: body.port,
        now,
      });
    }
    const count = await ledger(c.env).count();
    const after = view((await loadSink(c.env.DB, id))!, count);
    await adminChange(c, {
      target: { type: "audit_sink", id, name: after.name },
      data: {
        before: shown(view(before, count)),
        after: shown(after),
        tokenChanged: body.kind === "hec" && !!body.token,
      },
    });
    await streamChanged(c.env);
    return c.json(after, 200);
  },
);

auditSinks.openapi(
  route({
    method: "delete",
    path: "/audit/sinks/{id}",
    summary: "Remove a sink: nothing more goes to it",
    tags,
    middleware,
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const { id } = c.req.valid("param");
    const before = await loadSink(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found", `audit sink ${id}`);
    await deleteSink(c.env.DB, id);
    const count = await ledger(c.env).count();
    await adminChange(c, {
      target: { type: "audit_sink", id, name: before.name },
      data: { before: shown(view(before, count)), after: null },
    });
    await streamChanged(c.env);
    return c.json({ ok: true as const }, 200);
  },
);

async function insert(db: D1Database, s: NewSink): Promise<void> {
  if (await sinkNameTaken(db, s.name)) throw new ApiFailure("conflict", `audit sink: the name ${s.name} is taken`);
  await insertSink(db, s);
}
