// Credential rotation (issue 17). Admins see a credential's rotation state and history, say where its
// account lives and what may rotate it, and ask for "Rotate now" or "Verify". Connectors answer jobs at
// /connector/rotations/:job with the new secret sealed to the site key (worker/access/rotations.ts).
import type { Context } from "hono";
import { z } from "zod";
import {
  connectorEndpoint,
  CredentialRotationInfo,
  CredentialRotationSettings,
  Ok,
  RotationResult,
} from "../../protocol/index.ts";
import { setRotationAccount } from "../access/credential-store.ts";
import { adminScope, requireZone } from "../access/scope.ts";
import { accountOf, applyAnswer, requestRotation, type RotationRow } from "../access/rotations.ts";
import { adminChange } from "../audit.ts";
import { requireUser } from "../auth/user-token.ts";
import { requireConnectorFor } from "../connector-auth.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { IdParam, newApi, route } from "../openapi.ts";

/** Mounted at /api: the admin's side. */
export const rotations = newApi();
/** Mounted at /: the connector's side. */
export const connectorRotations = newApi();

const tags = ["inventory"];
const JobParam = z.object({ id: z.uuid() });

/** The token must have been minted for this job's own path: one answer per token, for one job. */
const requireJobConnector = requireConnectorFor(connectorEndpoint.rotation);

connectorRotations.openapi(
  route({
    method: "post",
    path: "/connector/rotations/{id}",
    summary: "A connector answers a rotation or verification job",
    tags,
    middleware: [requireJobConnector],
    params: JobParam,
    body: RotationResult,
  }),
  async (c) => {
    const verdict = await applyAnswer(c.env, c.get("connector"), c.req.valid("param").id, c.req.valid("json"));
    if (verdict === "unknown") throw new ApiFailure("not_found", "no such rotation job at this connector's site");
    if (verdict === "stale") throw new ApiFailure("conflict", "rotation job already settled");
    return c.json({ ok: true }, 200);
  },
);

type Row = RotationRow & { zone_id: string | null; rotated_at: number | null; external_ref: string | null };

async function credentialInScope(c: Context<AppContext>, id: string): Promise<Row> {
  const row = await c.env.DB.prepare(
    `SELECT id, name, site_id, username, kind, sealed, zone_id, rotated_at, external_ref, rotation_state, rotation_op,
       rotation_cause, rotation_job, rotation_due_at, rotation_attempts, rotation_error, rotation_generation, verified_at,
       rotation_account, rotate_with FROM credentials WHERE id = ? AND deleted_at IS NULL`,
  )
    .bind(id)
    .first<Row>();
  if (!row) throw new ApiFailure("not_found");
  requireZone(await adminScope(c.env.DB, c.get("user")), row.zone_id);
  return row;
}

rotations.openapi(
  route({
    method: "get",
    path: "/credentials/{id}/rotation",
    summary: "A credential's rotation state, settings and last jobs",
    tags,
    middleware: [requireUser],
    params: IdParam,
    response: CredentialRotationInfo,
  }),
  async (c) => {
    const row = await credentialInScope(c, c.req.valid("param").id);
    const { results } = await c.env.DB.prepare(
      "SELECT id, op, cause, requested_at, finished_at, outcome FROM credential_rotations WHERE credential_id = ? ORDER BY requested_at DESC LIMIT 20",
    )
      .bind(row.id)
      .all<{
        id: string;
        op: "rotate" | "verify";
        cause: "checkin";
        requested_at: number;
        finished_at: number | null;
        outcome: string | null;
      }>();
    return c.json(
      {
        credentialId: row.id,
        state: row.rotation_state,
        error: row.rotation_error,
        attempts: row.rotation_attempts,
        dueAt: row.rotation_due_at,
        rotatedAt: row.rotated_at,
        verifiedAt: row.verified_at,
        account: accountOf(row),
        rotateWith: row.rotate_with,
        history: results.map((r) => ({
          id: r.id,
          op: r.op,
          cause: r.cause,
          requestedAt: r.requested_at,
          finishedAt: r.finished_at,
          outcome: r.outcome,
        })),
      } satisfies CredentialRotationInfo,
      200,
    );
  },
);

rotations.openapi(
  route({
    method: "put",
    path: "/credentials/{id}/rotation",
    summary: "Where a credential's account lives (server or directory entry) and what may rotate it",
    tags,
    middleware: [requireUser],
    params: IdParam,
    body: CredentialRotationSettings,
    response: Ok,
  }),
  async (c) => {
    const row = await credentialInScope(c, c.req.valid("param").id);
    const { account, rotateWith } = c.req.valid("json");
    if (account.type !== "ssh" && !account.url.startsWith("ldaps://") && !account.startTls)
      throw new ApiFailure("bad_request", "a directory account is changed over LDAPS or StartTLS only");
    if (account.type !== "ssh" && row.kind !== "password")
      throw new ApiFailure("bad_request", "a directory account's credential is a password");
    if (rotateWith !== null) {
      if (rotateWith === row.id)
        throw new ApiFailure("bad_request", "a credential cannot rotate itself through itself");
      const via = await c.env.DB.prepare(
        "SELECT site_id, zone_id, sealed FROM credentials WHERE id = ? AND deleted_at IS NULL",
      )
        .bind(rotateWith)
        .first<{ site_id: string; zone_id: string | null; sealed: string | null }>();
      if (!via?.sealed || via.site_id !== row.site_id)
        throw new ApiFailure("bad_request", "the rotation credential must be a vaulted credential of the same site");
      requireZone(await adminScope(c.env.DB, c.get("user")), via.zone_id);
    }
    const stored = account.type === "ssh" ? null : JSON.stringify(account);
    await setRotationAccount(c.env.DB, row.id, stored, rotateWith);
    await adminChange(c, {
      target: { type: "credential", id: row.id, name: row.name },
      data: {
        before: { account: accountOf(row), rotateWith: row.rotate_with },
        after: { account, rotateWith },
      },
    });
    return c.json({ ok: true }, 200);
  },
);

for (const op of ["rotate", "verify"] as const) {
  rotations.openapi(
    route({
      method: "post",
      path: `/credentials/{id}/${op}`,
      summary:
        op === "rotate"
          ? "Rotate now: the connector changes the secret once no checkout of it is open"
          : "Verify now: the connector checks that the vaulted secret still logs in",
      tags,
      middleware: [requireUser],
      params: IdParam,
      response: Ok,
    }),
    async (c) => {
      const row = await credentialInScope(c, c.req.valid("param").id);
      if (!row.sealed) throw new ApiFailure("bad_request", "EmpowerID rotates the credentials it vaults");
      const user = c.get("user");
      const asked = await requestRotation(c.env, row.id, op, "manual", { id: user.id, name: user.username });
      if (!asked) throw new ApiFailure("conflict", `credential ${row.id}: a rotation job is already in flight`);
      return c.json({ ok: true }, 200);
    },
  );
}
