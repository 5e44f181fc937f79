// Zones (the micro-segmentation unit, each at one site) and the policies attached to them.
// Zone admins may read their zones and the policies; only admins create or change either.
import { z } from "zod";
import {
  CreatePolicyRequest,
  CreateZoneRequest,
  Policy,
  UpdatePolicyRequest,
  UpdateZoneRequest,
  Zone,
} from "../../protocol/index.ts";
import { POLICY_COLUMNS, type PolicyRow, policyFromRow, policyValues } from "../access/policy.ts";
import { adminScope, inScope, requireAdmin, requireAnyAdmin } from "../access/scope.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const zones = newApi();
const tags = ["zones"];
const middleware = [requireUser];

type ZoneRow = {
  id: string;
  name: string;
  site_id: string;
  description: string;
  policy_id: string | null;
  sensitivity: Zone["sensitivity"];
};
const toZone = (z: ZoneRow): Zone => ({
  id: z.id,
  name: z.name,
  siteId: z.site_id,
  description: z.description,
  policyId: z.policy_id,
  sensitivity: z.sensitivity,
});

zones.openapi(
  route({
    method: "get",
    path: "/zones",
    summary: "List zones in the caller's scope",
    tags,
    middleware,
    response: z.array(Zone),
  }),
  async (c) => {
    const user = c.get("user");
    requireAnyAdmin(user);
    const scope = await adminScope(c.env.DB, user);
    const { results } = await c.env.DB.prepare(
      "SELECT id, name, site_id, description, policy_id, sensitivity FROM zones ORDER BY name",
    ).all<ZoneRow>();
    return c.json(results.filter((z) => inScope(scope, z.id)).map(toZone), 200);
  },
);

zones.openapi(
  route({
    method: "post",
    path: "/zones",
    summary: "Create a zone",
    tags,
    middleware,
    body: CreateZoneRequest,
    response: Zone,
    status: 201,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const body = c.req.valid("json");
    const id = crypto.randomUUID();
    await insertOrConflict(
      c.env.DB.prepare(
        "INSERT INTO zones (id, name, site_id, description, policy_id, sensitivity, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).bind(id, body.name, body.siteId, body.description, body.policyId, body.sensitivity, Date.now()),
    );
    const zone: Zone = {
      id,
      name: body.name,
      siteId: body.siteId,
      description: body.description,
      policyId: body.policyId,
      sensitivity: body.sensitivity,
    };
    await adminChange(c, {
      target: { type: "zone", id, name: body.name },
      data: { after: zone },
    });
    return c.json(zone, 201);
  },
);

zones.openapi(
  route({
    method: "patch",
    path: "/zones/{id}",
    summary: "Change a zone's description, policy or sensitivity",
    tags,
    middleware,
    params: IdParam,
    body: UpdateZoneRequest,
    response: Zone,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const id = c.req.valid("param").id;
    const body = c.req.valid("json");
    const before = await c.env.DB.prepare(
      "SELECT id, name, site_id, description, policy_id, sensitivity FROM zones WHERE id = ?",
    )
      .bind(id)
      .first<ZoneRow>();
    if (!before) throw new ApiFailure("not_found");
    const after: Zone = {
      ...toZone(before),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.policyId !== undefined ? { policyId: body.policyId } : {}),
      ...(body.sensitivity !== undefined ? { sensitivity: body.sensitivity } : {}),
    };
    await c.env.DB.prepare("UPDATE zones SET description = ?, policy_id = ?, sensitivity = ? WHERE id = ?")
      .bind(after.description, after.policyId, after.sensitivity, id)
      .run();
    await adminChange(c, {
      target: { type: "zone", id, name: before.name },
      data: { before: toZone(before), after },
    });
    return c.json(after, 200);
  },
);

async function loadPolicy(db: D1Database, id: string): Promise<Policy | null> {
  const row = await db.prepare("SELECT * FROM policies WHERE id = ?").bind(id).first<PolicyRow>();
  return row ? policyFromRow(row) : null;
}

zones.openapi(
  route({ method: "get", path: "/policies", summary: "List policies", tags, middleware, response: z.array(Policy) }),
  async (c) => {
    requireAnyAdmin(c.get("user"));
    const { results } = await c.env.DB.prepare("SELECT * FROM policies ORDER BY name").all<PolicyRow>();
    return c.json(results.map(policyFromRow), 200);
  },
);

zones.openapi(
  route({
    method: "post",
    path: "/policies",
    summary: "Create a policy",
    tags,
    middleware,
    body: CreatePolicyRequest,
    response: Policy,
    status: 201,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const body = c.req.valid("json");
    const id = crypto.randomUUID();
    await insertOrConflict(
      c.env.DB.prepare(
        `INSERT INTO policies (id, ${POLICY_COLUMNS.join(", ")}, created_at) VALUES (?, ${POLICY_COLUMNS.map(() => "?").join(", ")}, ?)`,
      ).bind(id, ...policyValues(body), Date.now()),
    );
    const policy = { id, ...body };
    await adminChange(c, {
      target: { type: "policy", id, name: body.name },
      data: { after: policy },
    });
    return c.json(policy, 201);
  },
);

zones.openapi(
  route({
    method: "patch",
    path: "/policies/{id}",
    summary: "Change a policy",
    tags,
    middleware,
    params: IdParam,
    body: UpdatePolicyRequest,
    response: Policy,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const id = c.req.valid("param").id;
    const before = await loadPolicy(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    const after: Policy = { ...before, ...c.req.valid("json") };
    await c.env.DB.prepare(`UPDATE policies SET ${POLICY_COLUMNS.map((col) => `${col} = ?`).join(", ")} WHERE id = ?`)
      .bind(...policyValues(after), id)
      .run();
    await adminChange(c, {
      target: { type: "policy", id, name: before.name },
      data: { before, after },
    });
    return c.json(after, 200);
  },
);
