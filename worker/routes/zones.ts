// Zones (the micro-segmentation unit, each at one site), the policies attached to them, and each zone's
// allow-list of policies its zone admins may attach (docs/access-model.md, "Policy scope").
// Zone admins may read their zones, their allow-lists and the policies; only admins create or change any.
import { z } from "zod";
import {
  CreatePolicyRequest,
  CreateZoneRequest,
  Policy,
  policyProblems,
  SetZoneAllowedPoliciesRequest,
  UpdatePolicyRequest,
  UpdateZoneRequest,
  Zone,
  ZoneAllowedPolicies,
} from "../../protocol/index.ts";
import { requireKnownPolicy, zoneFloor } from "../access/policy-scope.ts";
import {
  allowedPolicyIds,
  insertPolicy,
  listPolicies,
  loadPolicy,
  replaceAllowedPolicies,
  updatePolicy,
} from "../access/policy-store.ts";
import { weakerOn } from "../access/policy-strength.ts";
import { adminScope, inScope, requireAdmin, requireAnyAdmin, requireZone } from "../access/scope.ts";
import { insertZone, listZones, loadZone, updateZone } from "../access/zone-store.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure, insertOrConflict } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";
import { enforceAccess } from "../access/revocation.ts";

export const zones = newApi();
const tags = ["zones"];
const middleware = [requireUser];

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
    const inView = (await listZones(c.env.DB)).filter((z) => inScope(scope, z.id));
    return c.json(inView, 200);
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
    if (body.policyId !== null) await requireKnownPolicy(c.env.DB, body.policyId);
    const id = crypto.randomUUID();
    const zone: Zone = {
      id,
      name: body.name,
      siteId: body.siteId,
      description: body.description,
      policyId: body.policyId,
      sensitivity: body.sensitivity,
    };
    await insertOrConflict(insertZone(c.env.DB, zone));
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
    const before = await loadZone(c.env.DB, id);
    if (!before) throw new ApiFailure("not_found");
    if (body.policyId) await requireKnownPolicy(c.env.DB, body.policyId);
    const after: Zone = {
      ...before,
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.policyId !== undefined ? { policyId: body.policyId } : {}),
      ...(body.sensitivity !== undefined ? { sensitivity: body.sensitivity } : {}),
    };
    await updateZone(c.env.DB, after);
    await adminChange(c, {
      target: { type: "zone", id, name: before.name },
      data: { before, after },
    });
    if (after.policyId !== before.policyId)
      await enforceAccess(c.env, { kind: "zone", zoneId: id }, "zone policy changed", c.get("user"));
    return c.json(after, 200);
  },
);

/** The zone's allow-list, with the controls on which each listed policy is weaker than the zone's own. */
async function allowedView(db: D1Database, zoneId: string): Promise<ZoneAllowedPolicies> {
  const floor = await zoneFloor(db, zoneId);
  if (!floor) throw new ApiFailure("not_found", `zone ${zoneId}`);
  const policyIds = await allowedPolicyIds(db, zoneId);
  const weaker: Record<string, string[]> = {};
  for (const id of policyIds) {
    const policy = await loadPolicy(db, id);
    const controls = policy ? weakerOn(policy, floor.policy) : [];
    if (controls.length > 0) weaker[id] = controls;
  }
  return { policyIds, weaker };
}

zones.openapi(
  route({
    method: "get",
    path: "/zones/{id}/allowed-policies",
    summary: "The policies a zone admin may attach to the zone's credentials",
    tags,
    middleware,
    params: IdParam,
    response: ZoneAllowedPolicies,
  }),
  async (c) => {
    const user = c.get("user");
    requireAnyAdmin(user);
    const id = c.req.valid("param").id;
    requireZone(await adminScope(c.env.DB, user), id);
    return c.json(await allowedView(c.env.DB, id), 200);
  },
);

zones.openapi(
  route({
    method: "put",
    path: "/zones/{id}/allowed-policies",
    summary: "Replace the policies a zone admin may attach in the zone",
    tags,
    middleware,
    params: IdParam,
    body: SetZoneAllowedPoliciesRequest,
    response: ZoneAllowedPolicies,
  }),
  async (c) => {
    requireAdmin(c.get("user"));
    const id = c.req.valid("param").id;
    const policyIds = [...new Set(c.req.valid("json").policyIds)].sort();
    const before = await allowedView(c.env.DB, id);
    for (const policyId of policyIds) await requireKnownPolicy(c.env.DB, policyId);
    await replaceAllowedPolicies(c.env.DB, id, policyIds);
    const after = await allowedView(c.env.DB, id);
    await adminChange(c, {
      target: { type: "zone", id },
      data: { before: { allowedPolicies: before.policyIds }, after: { allowedPolicies: after.policyIds } },
    });
    return c.json(after, 200);
  },
);

zones.openapi(
  route({ method: "get", path: "/policies", summary: "List policies", tags, middleware, response: z.array(Policy) }),
  async (c) => {
    requireAnyAdmin(c.get("user"));
    return c.json(await listPolicies(c.env.DB), 200);
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
    await insertOrConflict(insertPolicy(c.env.DB, id, body));
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
    // The merged policy may not contradict itself in a way it did not before (a contradiction stored earlier does
    // not block an unrelated change, such as turning recording on).
    const known = new Set(policyProblems(before).map((p) => p.rule));
    const added = policyProblems(after).filter((p) => !known.has(p.rule));
    if (added.length > 0)
      throw new ApiFailure("policy_inconsistent", `policy ${id}: ${added.map((p) => p.rule).join(", ")}`);
    await updatePolicy(c.env.DB, after);
    await adminChange(c, {
      target: { type: "policy", id, name: before.name },
      data: { before, after },
    });
    // Open checkouts under it are checked against the policy as it now is (any zone or credential may name it).
    await enforceAccess(c.env, { kind: "all" }, `policy ${before.name} changed`, c.get("user"));
    return c.json(after, 200);
  },
);
