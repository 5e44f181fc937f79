// Admin › Audit › Streaming (docs/audit.md "Streaming to a SIEM"): the sinks every ledger entry also goes out to,
// with how far each is and why one fails. An HEC token is write-only: sealed at rest here, never shown or audited.
import { z } from "zod";
import { AuditSink, AuditSinkInput, Ok } from "../../protocol/index.ts";
import { requireAdmin } from "../access/scope.ts";
import { adminChange, ledger } from "../audit.ts";
import { sealAtRest } from "../auth/hash.ts";
import { requireUser } from "../auth/user-token.ts";
import { hecTokenContext, progressOf, type SinkRow } from "../audit-stream/deliver.ts";
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

const load = (db: D1Database, id: string) =>
  db.prepare("SELECT * FROM audit_sinks WHERE id = ?").bind(id).first<SinkRow>();

/** Tells the ledger whether any sink is on, so appends wake delivery (or stop waking it). */
async function streamChanged(env: Env): Promise<void> {
  const on = await env.DB.prepare("SELECT 1 AS on_ FROM audit_sinks WHERE enabled = 1 LIMIT 1").first();
  await ledger(env).streamChanged(!!on);
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
    const [{ results }, count] = await Promise.all([
      c.env.DB.prepare("SELECT * FROM audit_sinks ORDER BY name").all<SinkRow>(),
      ledger(c.env).count(),
    ]);
    return c.json(
      results.map((row) => view(row, count)),
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
    const after = view((await load(c.env.DB, id))!, count);
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
    summary: "Change a sink; an HEC token left out is kept. Where it resumes does not change",
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
    const before = await load(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found", `audit sink ${id}`);
    if (before.kind !== body.kind) throw new ApiFailure("bad_request", "audit sink: its kind cannot change");
    const now = Date.now();
    if (body.kind === "hec") {
      const token = body.token ? await sealAtRest(c.env.USER_TOKEN_SECRET, body.token, hecTokenContext(id)) : null;
      await c.env.DB.prepare(
        `UPDATE audit_sinks SET name = ?, enabled = ?, url = ?, token_enc = COALESCE(?, token_enc), attempts = 0,
           next_attempt_at = 0, updated_at = ? WHERE id = ?`,
      )
        .bind(body.name, body.enabled ? 1 : 0, body.url, token, now, id)
        .run();
    } else {
      await requireSite(c.env.DB, body.siteId);
      await c.env.DB.prepare(
        `UPDATE audit_sinks SET name = ?, enabled = ?, site_id = ?, host = ?, port = ?, attempts = 0,
           next_attempt_at = 0, updated_at = ? WHERE id = ?`,
      )
        .bind(body.name, body.enabled ? 1 : 0, body.siteId, body.host, body.port, now, id)
        .run();
    }
    const count = await ledger(c.env).count();
    const after = view((await load(c.env.DB, id))!, count);
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
    const before = await load(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found", `audit sink ${id}`);
    await c.env.DB.prepare("DELETE FROM audit_sinks WHERE id = ?").bind(id).run();
    const count = await ledger(c.env).count();
    await adminChange(c, {
      target: { type: "audit_sink", id, name: before.name },
      data: { before: shown(view(before, count)), after: null },
    });
    await streamChanged(c.env);
    return c.json({ ok: true as const }, 200);
  },
);

type NewSink = { id: string; name: string; enabled: boolean; start: number; now: number } & (
  | { kind: "hec"; url: string; token: string }
  | { kind: "syslog"; siteId: string; host: string; port: number }
);

async function insert(db: D1Database, s: NewSink): Promise<void> {
  const taken = await db.prepare("SELECT 1 AS x FROM audit_sinks WHERE name = ?").bind(s.name).first();
  if (taken) throw new ApiFailure("conflict", `audit sink: the name ${s.name} is taken`);
  await db
    .prepare(
      `INSERT INTO audit_sinks (id, name, kind, enabled, url, token_enc, site_id, host, port, start_idx, after_idx,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      s.id,
      s.name,
      s.kind,
      s.enabled ? 1 : 0,
      s.kind === "hec" ? s.url : null,
      s.kind === "hec" ? s.token : null,
      s.kind === "syslog" ? s.siteId : null,
      s.kind === "syslog" ? s.host : null,
      s.kind === "syslog" ? s.port : null,
      s.start,
      s.start,
      s.now,
      s.now,
    )
    .run();
}
