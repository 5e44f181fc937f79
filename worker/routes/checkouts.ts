// The requester's catalog and cart, their requests, the approvers' inbox and decisions, and revocation.
import { z } from "zod";
import {
  AdminCheckoutQuery,
  ApprovalItem,
  CartResult,
  CatalogEntry,
  CatalogQuery,
  CheckoutSummary,
  DecisionRequest,
  RevokeRequest,
  SubmitCartRequest,
} from "../../protocol/index.ts";
import { entitledCatalog } from "../access/catalog.ts";
import {
  decide,
  inbox,
  listForAdmin,
  listMine,
  loadRow,
  requesterAction,
  revoke,
  submitCart,
} from "../access/checkouts.ts";
import { adminScope, requireAnyAdmin, requireZone } from "../access/scope.ts";
import { requireUser } from "../auth/user-token.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

export const checkouts = newApi();
const tags = ["checkouts"];
const middleware = [requireUser];

checkouts.openapi(
  route({
    method: "get",
    path: "/catalog",
    summary: "Servers and credentials the caller may request",
    tags,
    middleware,
    query: CatalogQuery,
    response: z.array(CatalogEntry),
  }),
  async (c) => c.json(await entitledCatalog(c.env.DB, c.get("user"), c.req.valid("query")), 200),
);

checkouts.openapi(
  route({
    method: "post",
    path: "/checkouts",
    summary: "Submit a cart of checkout requests",
    tags,
    middleware,
    body: SubmitCartRequest,
    response: CartResult,
    status: 201,
  }),
  async (c) => c.json(await submitCart(c.env, c.get("user"), c.req.valid("json").items, Date.now()), 201),
);

checkouts.openapi(
  route({
    method: "get",
    path: "/checkouts",
    summary: "The caller's checkouts",
    tags,
    middleware,
    response: z.array(CheckoutSummary),
  }),
  async (c) => c.json(await listMine(c.env, c.get("user"), Date.now()), 200),
);

checkouts.openapi(
  route({
    method: "get",
    path: "/admin/checkouts",
    summary: "Everyone's checkouts in the caller's zones, by state and a partial user, server or account name",
    tags,
    middleware,
    query: AdminCheckoutQuery,
    response: z.array(CheckoutSummary),
  }),
  async (c) => {
    const user = c.get("user");
    requireAnyAdmin(user);
    const scope = await adminScope(c.env.DB, user);
    return c.json(await listForAdmin(c.env, scope, c.req.valid("query"), Date.now()), 200);
  },
);

checkouts.openapi(
  route({
    method: "get",
    path: "/approvals",
    summary: "Requests the caller may decide, each with the context to decide it",
    tags,
    middleware,
    response: z.array(ApprovalItem),
  }),
  async (c) => c.json(await inbox(c.env, c.get("user"), Date.now()), 200),
);

for (const verdict of ["approve", "deny"] as const) {
  checkouts.openapi(
    route({
      method: "post",
      path: `/checkouts/{id}/${verdict}`,
      summary: `${verdict === "approve" ? "Approve" : "Deny"} a request`,
      tags,
      middleware,
      params: IdParam,
      body: DecisionRequest,
      response: CheckoutSummary,
    }),
    async (c) =>
      c.json(
        await decide(c.env, c.get("user"), c.req.valid("param").id, verdict, c.req.valid("json").comment, Date.now()),
        200,
      ),
  );
}

checkouts.openapi(
  route({
    method: "post",
    path: "/checkouts/{id}/withdraw",
    summary: "Withdraw a pending request",
    tags,
    middleware,
    params: IdParam,
    response: CheckoutSummary,
  }),
  async (c) =>
    c.json(await requesterAction(c.env, c.get("user"), c.req.valid("param").id, "withdraw", Date.now()), 200),
);

checkouts.openapi(
  route({
    method: "post",
    path: "/checkouts/{id}/check-in",
    summary: "Check a checkout in early",
    tags,
    middleware,
    params: IdParam,
    response: CheckoutSummary,
  }),
  async (c) =>
    c.json(await requesterAction(c.env, c.get("user"), c.req.valid("param").id, "check_in", Date.now()), 200),
);

checkouts.openapi(
  route({
    method: "post",
    path: "/checkouts/{id}/revoke",
    summary: "Revoke a checkout and end its sessions",
    tags,
    middleware,
    params: IdParam,
    body: RevokeRequest,
    response: CheckoutSummary,
  }),
  async (c) => {
    const row = await loadRow(c.env.DB, c.req.valid("param").id);
    if (!row) throw new ApiFailure("not_found");
    requireZone(await adminScope(c.env.DB, c.get("user")), row.zone_id);
    return c.json(await revoke(c.env, c.get("user"), row, c.req.valid("json").reason, Date.now()), 200);
  },
);
