// Recordings API: list with filters, one recording, its .cast and manifest, verification,
// deletion after retention, and each zone's recording policy. Every route answers not_found for a
// recording the caller may not see, exactly as for one that does not exist.
import { z } from "zod";
import {
  EdgePublicJwks,
  FilterName,
  FilterNamesQuery,
  IntegrityReport,
  Ok,
  RecordingQuery,
  RecordingSummary,
  ZoneRecordingPolicy,
} from "../../protocol/index.ts";
import { adminScope, requireAnyAdmin, requireZone } from "../access/scope.ts";
import { loadRecordingPolicy, setRecordingPolicy } from "../access/zone-store.ts";
import { actorOf, adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { LIKE_ESCAPE, likeContains, recordingNames } from "../filter-names.ts";
import { publicKeySet } from "../../edge-shared/keys.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import {
  castStream,
  deleteRecording,
  manifestText,
  RECORDING_SELECT,
  type RecordingRow,
  recordingViewer,
  toSummary,
  verifyStored,
  visibleRecording,
} from "../recordings.ts";

export const recordings = newApi();
const tags = ["recordings"];
const middleware = [requireUser];

recordings.openapi(
  route({
    method: "get",
    path: "/recordings",
    summary: "Recordings the caller may see, newest first (user, server, zone by id or name in part; time)",
    tags,
    middleware,
    query: RecordingQuery,
    response: z.array(RecordingSummary),
  }),
  async (c) => {
    const q = c.req.valid("query");
    const where = ["r.status != 'deleted'"];
    const args: (string | number)[] = [];
    // An id, or part of a name in any case: "ali" finds alice and Alibek.
    const match = (idColumn: string, nameColumn: string, value: string | undefined) => {
      const text = value?.trim();
      if (!text) return;
      where.push(`(${idColumn} = ? OR ${nameColumn} LIKE ? ${LIKE_ESCAPE})`);
      args.push(text, likeContains(text));
    };
    match("r.user_id", "u.username", q.user);
    match("r.server_id", "sv.name", q.server);
    match("r.zone_id", "z.name", q.zone);
    if (q.from !== undefined) {
      where.push("r.started_at >= ?");
      args.push(q.from);
    }
    if (q.to !== undefined) {
      where.push("r.started_at <= ?");
      args.push(q.to);
    }
    const { results } = await c.env.DB.prepare(
      `${RECORDING_SELECT} WHERE ${where.join(" AND ")} ORDER BY r.started_at DESC LIMIT 500`,
    )
      .bind(...args)
      .all<RecordingRow>();
    const visible = await recordingViewer(c.env.DB, c.get("user"));
    return c.json(results.filter(visible).map(toSummary), 200);
  },
);

// Before /recordings/{id}, which would take "names" for an id.
recordings.openapi(
  route({
    method: "get",
    path: "/recordings/names",
    summary: "Users, servers or zones of the recordings the caller may see whose name contains q, for the pickers",
    tags,
    middleware,
    query: FilterNamesQuery,
    response: z.array(FilterName),
  }),
  async (c) => c.json(await recordingNames(c.env.DB, c.get("user"), c.req.valid("query")), 200),
);

recordings.openapi(
  route({
    method: "get",
    path: "/recordings/{id}",
    summary: "One recording",
    tags,
    middleware,
    params: IdParam,
    response: RecordingSummary,
  }),
  async (c) => c.json(toSummary(await visibleRecording(c.env, c.get("user"), c.req.valid("param").id)), 200),
);

recordings.openapi(
  route({
    method: "post",
    path: "/recordings/{id}/verify",
    summary: "Verify a recording against its signed manifest",
    tags,
    middleware,
    params: IdParam,
    response: IntegrityReport,
  }),
  async (c) => {
    const row = await visibleRecording(c.env, c.get("user"), c.req.valid("param").id);
    return c.json(await verifyStored(c.env, row.id), 200);
  },
);

recordings.openapi(
  route({
    method: "delete",
    path: "/recordings/{id}",
    summary: "Delete a recording after its retention",
    tags,
    middleware,
    params: IdParam,
    response: Ok,
  }),
  async (c) => {
    const user = c.get("user");
    const row = await visibleRecording(c.env, user, c.req.valid("param").id);
    requireZone(await adminScope(c.env.DB, user), row.zone_id);
    await deleteRecording(c.env, row, actorOf(user), "admin", Date.now());
    return c.json({ ok: true }, 200);
  },
);

recordings.openapi(
  route({
    method: "get",
    path: "/recordings/{id}/cast",
    summary: "The recording's text, streamed: a .cast (asciicast v2), or a .guac for a desktop",
    tags,
    middleware,
    params: IdParam,
    download: ["application/x-asciicast; charset=utf-8", "application/octet-stream"],
  }),
  async (c) => {
    const row = await visibleRecording(c.env, c.get("user"), c.req.valid("param").id);
    const guac = row.format === "guacamole";
    return new Response(await castStream(c.env, row.id), {
      headers: {
        "content-type": guac ? "application/octet-stream" : "application/x-asciicast; charset=utf-8",
        "content-disposition": `attachment; filename="session-${row.session_id}.${guac ? "guac" : "cast"}"`,
        "cache-control": "no-store",
      },
    });
  },
);

recordings.openapi(
  route({
    method: "get",
    path: "/recordings/{id}/manifest",
    summary: "The signed manifest (compact JWS), for offline verification with `npm run recording:verify`",
    tags,
    middleware,
    params: IdParam,
    download: ["application/jose"],
  }),
  async (c) => {
    const row = await visibleRecording(c.env, c.get("user"), c.req.valid("param").id);
    const jws = await manifestText(c.env, row.id);
    if (!jws) throw new ApiFailure("not_found", `recording ${row.id} has no manifest yet`);
    return new Response(jws, {
      headers: {
        "content-type": "application/jose",
        "content-disposition": `attachment; filename="session-${row.session_id}.manifest.jws"`,
        "cache-control": "no-store",
      },
    });
  },
);

/**
 * The edge's public signing keys (a JWK Set), for `npm run recording:verify -- --key` on a downloaded
 * recording: auditors and admins (zone admins too: they replay their zones' recordings). Public members only
 * (publicKeySet parses it strictly).
 */
recordings.openapi(
  route({
    method: "get",
    path: "/edge-keys",
    summary: "The edge's public keys that sign recording manifests (JWK Set), for offline verification",
    tags,
    middleware,
    response: EdgePublicJwks,
  }),
  async (c) => {
    const user = c.get("user");
    if (!user.roles.includes("auditor")) requireAnyAdmin(user);
    c.header("content-disposition", 'attachment; filename="psm-edge-keys.jwks.json"');
    c.header("cache-control", "no-store");
    return c.json(await publicKeySet(c.env), 200);
  },
);

recordings.openapi(
  route({
    method: "get",
    path: "/zones/{id}/recording-policy",
    summary: "A zone's recording retention and owner replay",
    tags,
    middleware,
    params: IdParam,
    response: ZoneRecordingPolicy,
  }),
  async (c) => {
    const user = c.get("user");
    requireAnyAdmin(user);
    const id = c.req.valid("param").id;
    requireZone(await adminScope(c.env.DB, user), id);
    const policy = await loadRecordingPolicy(c.env.DB, id);
    if (!policy) throw new ApiFailure("not_found");
    return c.json(policy, 200);
  },
);

recordings.openapi(
  route({
    method: "put",
    path: "/zones/{id}/recording-policy",
    summary: "Set a zone's recording retention (days) and owner replay",
    tags,
    middleware,
    params: IdParam,
    body: ZoneRecordingPolicy,
    response: ZoneRecordingPolicy,
  }),
  async (c) => {
    const user = c.get("user");
    if (!user.roles.includes("admin")) throw new ApiFailure("forbidden", "not an admin");
    const id = c.req.valid("param").id;
    const body = c.req.valid("json");
    const before = await loadRecordingPolicy(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    await setRecordingPolicy(c.env.DB, id, body);
    await adminChange(c, {
      target: { type: "zone", id },
      data: {
        before: { recordingRetentionDays: before.retentionDays, recordingOwnerReplay: before.ownerReplay },
        after: body,
      },
    });
    return c.json(body, 200);
  },
);
