// Credential rotation at the edge (issue 17): asks for rotations and verifications, sends each due job to
// a live connector of the credential's site, and applies the connector's answer. The lifecycle itself is
// worker/access/rotation.ts (pure). The edge handles sealed blobs only: the connector generates the new
// secret, changes it on the target and answers with it sealed to the site key.
import {
  grantAudience,
  ROTATION_TTL_SECONDS,
  ROTATION_TYP,
  type RotationAccount,
  type RotationClaims,
  type RotationError,
  type RotationOp,
  type RotationResult,
  type RotationState,
  ROTATION_ERROR_TEXT,
} from "../../protocol/index.ts";
import { record } from "../audit.ts";
import type { Env } from "../env.ts";
import { signEdgeJwt } from "../../edge-shared/keys.ts";
import { enqueueStatements, planNotifications } from "../notify/outbox.ts";
import { adminIds, emailsFor, mailRelayOn } from "../notify/people.ts";
import { OPEN_STATUSES } from "./checkout-store.ts";
import { saveRotation } from "./credential-store.ts";
import { currentSealKey, requireSealedToCurrent } from "./seal-keys.ts";
import {
  applyRotation,
  handedOut,
  JOB_TIMEOUT_MS,
  type Rotation,
  VERIFY_INTERVAL_MS,
  type RotationCause,
  type RotationEvent,
} from "./rotation.ts";

type Actor = { id: string; name: string } | null;

export type RotationRow = {
  id: string;
  name: string;
  site_id: string;
  username: string;
  kind: "password" | "private_key";
  sealed: string | null;
  rotation_state: RotationState;
  rotation_op: RotationOp | null;
  rotation_cause: RotationCause | null;
  rotation_job: string | null;
  rotation_due_at: number | null;
  rotation_attempts: number;
  rotation_error: RotationError | null;
  rotation_generation: number;
  verified_at: number | null;
  rotation_account: string | null;
  rotate_with: string | null;
};

const SELECT_ROTATION = `SELECT id, name, site_id, username, kind, sealed, rotation_state, rotation_op, rotation_cause,
  rotation_job, rotation_due_at, rotation_attempts, rotation_error, rotation_generation, verified_at, rotation_account,
  rotate_with FROM credentials`;

export const rotationOf = (row: RotationRow): Rotation => ({
  state: row.rotation_state,
  op: row.rotation_op,
  cause: row.rotation_cause,
  job: row.rotation_job,
  dueAt: row.rotation_due_at,
  attempts: row.rotation_attempts,
  error: row.rotation_error,
  generation: row.rotation_generation,
  verifiedAt: row.verified_at,
});

/** The account settings stored for a credential: `ssh` unless a directory entry is named. */
export function accountOf(row: Pick<RotationRow, "rotation_account">) {
  return (row.rotation_account ? JSON.parse(row.rotation_account) : { type: "ssh" }) as
    | { type: "ssh" }
    | Extract<RotationAccount, { type: "ldap" | "ad" }>;
}

async function load(db: D1Database, id: string): Promise<RotationRow | null> {
  return db.prepare(`${SELECT_ROTATION} WHERE id = ?`).bind(id).first<RotationRow>();
}

async function step(db: D1Database, row: RotationRow, event: RotationEvent, sealed?: string) {
  const before = rotationOf(row);
  const after = applyRotation(before, event);
  if (!after) return null;
  return (await saveRotation(db, row.id, before, after, sealed)) ? after : null;
}

/** Whether a credential may be handed out now (new checkouts, session starts). */
export async function credentialHandedOut(db: D1Database, credentialId: string): Promise<boolean> {
  const row = await db
    .prepare("SELECT rotation_state FROM credentials WHERE id = ?")
    .bind(credentialId)
    .first<{ rotation_state: RotationState }>();
  return !row || handedOut({ state: row.rotation_state });
}

/**
 * Asks for a rotation or a verification of a vaulted credential and sends it at once if it may run.
 * False when nothing was asked: an EmpowerID credential (EmpowerID rotates its own), or a job in flight.
 */
export async function requestRotation(
  env: Env,
  credentialId: string,
  op: RotationOp,
  cause: RotationCause,
  actor: Actor,
  now = Date.now(),
): Promise<boolean> {
  const row = await load(env.DB, credentialId);
  if (!row?.sealed) return false;
  const after = await step(env.DB, row, { type: "request", op, cause, at: now });
  if (!after) return false;
  await record(env, {
    actor,
    action: "credential.rotation_requested",
    target: { type: "credential", id: row.id, name: row.name },
    data: { op, cause },
  });
  await driveRotations(env, now, row.id);
  return true;
}

/**
 * The schedule: every enabled vaulted credential that a connector can check (one SSH server, or a directory
 * entry) and that nobody checked for VERIFY_INTERVAL_MS gets a verification, a few per sweep.
 */
export async function scheduleVerifications(env: Env, now: number, limit = 20): Promise<number> {
  const { results } = await env.DB.prepare(
    `SELECT c.id FROM credentials c WHERE c.enabled = 1 AND c.sealed != '' AND c.rotation_op IS NULL
       AND c.rotation_job IS NULL AND c.rotation_state IN ('ok', 'out_of_sync') AND COALESCE(c.verified_at, c.created_at) < ?
       AND (c.rotation_account IS NOT NULL OR (SELECT COUNT(*) FROM server_credentials sc JOIN servers s ON s.id = sc.server_id
            WHERE sc.credential_id = c.id AND s.protocol = 'ssh') = 1)
     ORDER BY COALESCE(c.verified_at, c.created_at) LIMIT ?`,
  )
    .bind(now - VERIFY_INTERVAL_MS, limit)
    .all<{ id: string }>();
  let asked = 0;
  for (const { id } of results) if (await requestRotation(env, id, "verify", "schedule", null, now)) asked++;
  return asked;
}

/**
 * Times out unanswered jobs, then sends every due job that may run: a rotation only once no checkout of
 * the credential is open and no session on it is live. `only` limits it to one credential.
 */
export async function driveRotations(env: Env, now: number, only?: string): Promise<number> {
  const overdue = await env.DB.prepare(
    `SELECT r.id AS job, c.* FROM credential_rotations r JOIN (${SELECT_ROTATION}) c ON c.id = r.credential_id
     WHERE r.finished_at IS NULL AND r.deadline < ? AND c.rotation_job = r.id`,
  )
    .bind(now)
    .all<RotationRow & { job: string }>();
  for (const row of overdue.results) {
    const after = await step(env.DB, row, { type: "timeout", job: row.job, at: now });
    if (!after) continue;
    await finish(env.DB, row.job, "timeout", now);
    await recordFailure(env, row, row.job, "no_answer", after);
  }
  const { results } = await env.DB.prepare(
    `${SELECT_ROTATION} c WHERE c.rotation_op IS NOT NULL AND c.rotation_job IS NULL AND c.rotation_due_at <= ?
       AND (? IS NULL OR c.id = ?)
       -- Not while the site's seal key rotates: the answer would be sealed to the key being replaced.
       AND NOT EXISTS (SELECT 1 FROM seal_rotations sr WHERE sr.site_id = c.site_id AND sr.state = 'running')
       AND (c.rotation_op = 'verify' OR (
         NOT EXISTS (SELECT 1 FROM checkouts ch WHERE ch.credential_id = c.id AND ch.status IN ${OPEN_STATUSES} AND ch.ends_at > ?)
         AND NOT EXISTS (SELECT 1 FROM sessions se WHERE se.credential_id = c.id AND se.status != 'ended')))
     ORDER BY c.rotation_due_at LIMIT 50`,
  )
    .bind(now, only ?? null, only ?? null, now)
    .all<RotationRow>();
  let sent = 0;
  for (const row of results) if (await dispatch(env, row, now)) sent++;
  return sent;
}

async function dispatch(env: Env, row: RotationRow, now: number): Promise<boolean> {
  const op = row.rotation_op!;
  const cause = row.rotation_cause ?? "manual";
  const jobId = crypto.randomUUID();
  const claims = await jobClaims(env.DB, row, jobId, op);
  if (!claims) {
    // Nothing a connector could do (no single SSH server, no sealed secret): failed now, retried later.
    const after = await step(env.DB, row, { type: "unrunnable", error: "unsupported", at: now });
    if (after) await recordFailure(env, row, null, "unsupported", after);
    return false;
  }
  const hub = env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(row.site_id));
  // The job is stored as in flight before it is sent, so an answer can never arrive for an unknown job.
  if (!(await step(env.DB, row, { type: "dispatched", job: jobId, at: now }))) return false;
  await env.DB.prepare(
    "INSERT INTO credential_rotations (id, credential_id, op, cause, requested_at, deadline) VALUES (?, ?, ?, ?, ?, ?)",
  )
    .bind(jobId, row.id, op, cause, now, now + JOB_TIMEOUT_MS)
    .run();
  const job = await signJob(env, row.site_id, claims);
  const connectorId = await hub.rotate(job);
  if (connectorId) {
    await env.DB.prepare("UPDATE credential_rotations SET connector_id = ? WHERE id = ?")
      .bind(connectorId, jobId)
      .run();
    return true;
  }
  // No live connector: the job is taken back whole and waits for the next sweep.
  const sent = (await load(env.DB, row.id))!;
  await saveRotation(env.DB, row.id, rotationOf(sent), { ...rotationOf(row), dueAt: now });
  await env.DB.prepare("DELETE FROM credential_rotations WHERE id = ?").bind(jobId).run();
  return false;
}

/** What the connector needs for one job, or null when the credential cannot be rotated by a connector. */
async function jobClaims(
  db: D1Database,
  row: RotationRow,
  jobId: string,
  op: RotationOp,
): Promise<RotationClaims | null> {
  if (!row.sealed) return null;
  const account = accountOf(row);
  let acct: RotationAccount;
  if (account.type === "ssh") {
    // A local account lives on one server: a credential shared by several is rotated per server, not here.
    const { results } = await db
      .prepare(
        "SELECT s.host, s.port, s.host_key, s.protocol FROM server_credentials sc JOIN servers s ON s.id = sc.server_id WHERE sc.credential_id = ?",
      )
      .bind(row.id)
      .all<{ host: string; port: number; host_key: string; protocol: string }>();
    const server = results.length === 1 ? results[0]! : undefined;
    if (server?.protocol !== "ssh") return null;
    acct = { type: "ssh", host: server.host, port: server.port, hostKey: server.host_key };
  } else {
    acct = account;
  }
  let via: RotationClaims["via"];
  if (row.rotate_with) {
    const w = await load(db, row.rotate_with);
    if (!w?.sealed || w.site_id !== row.site_id) return null;
    const wAccount = accountOf(w);
    via = {
      username: w.username,
      kind: w.kind,
      sealed: w.sealed,
      ...(wAccount.type !== "ssh" ? { dn: wAccount.dn } : {}),
    };
  }
  return {
    sub: jobId,
    op,
    cid: row.id,
    cred: { username: row.username, kind: row.kind, sealed: row.sealed },
    acct,
    ...(via ? { via } : {}),
  };
}

async function signJob(env: Env, siteId: string, claims: RotationClaims): Promise<string> {
  const { sub, ...rest } = claims;
  return signEdgeJwt(env.EDGE_SIGNING_KEY, rest, {
    typ: ROTATION_TYP,
    audience: grantAudience(siteId),
    subject: sub,
    ttlSeconds: ROTATION_TTL_SECONDS,
  });
}

async function finish(db: D1Database, jobId: string, outcome: string, now: number): Promise<void> {
  await db
    .prepare("UPDATE credential_rotations SET finished_at = ?, outcome = ? WHERE id = ? AND finished_at IS NULL")
    .bind(now, outcome, jobId)
    .run();
}

async function recordFailure(
  env: Env,
  row: RotationRow,
  jobId: string | null,
  error: RotationError,
  after?: Rotation,
): Promise<void> {
  await record(env, {
    actor: null,
    action: "credential.rotation_failed",
    target: { type: "credential", id: row.id, name: row.name },
    data: { job: jobId, error, ...(after ? { attempts: after.attempts, retryAt: after.dueAt } : {}) },
  });
  // Alerted once per run of failures: the first one. The retries are in the ledger and on the admin's page.
  if (after?.state === "failed" && row.rotation_state !== "failed") await alertFailure(env, row, error, after);
}

/** The admins hear of it: the webhook and their email, as for checkouts (worker/notify/). */
async function alertFailure(env: Env, row: RotationRow, error: RotationError, after: Rotation): Promise<void> {
  const emails = await emailsFor(env.DB, await adminIds(env.DB), "rotation_failures");
  const rows = planNotifications(
    {
      event: "credential.rotation_failed",
      credentialId: row.id,
      credential: `${row.name} (${row.username})`,
      reason: ROTATION_ERROR_TEXT[error],
      attempts: after.attempts,
      retryAt: after.dueAt,
    },
    { emails },
    { ...env, mailRelay: await mailRelayOn(env.DB) },
  );
  if (rows.length) await env.DB.batch(enqueueStatements(env.DB, rows, Date.now()));
}

export type AnswerVerdict = "applied" | "unknown" | "stale";

/**
 * A connector's answer to job `jobId`. Only a connector of the credential's site may answer; an answer to
 * a job that was settled already (or replaced) is `stale` and changes nothing.
 */
export async function applyAnswer(
  env: Env,
  connector: { id: string; siteId: string },
  jobId: string,
  result: RotationResult,
  now = Date.now(),
): Promise<AnswerVerdict> {
  const job = await env.DB.prepare(
    `SELECT r.op, r.requested_at, r.finished_at, r.outcome, c.site_id FROM credential_rotations r
     JOIN credentials c ON c.id = r.credential_id WHERE r.id = ?`,
  )
    .bind(jobId)
    .first<{
      op: RotationOp;
      requested_at: number;
      finished_at: number | null;
      outcome: string | null;
      site_id: string;
    }>();
  if (!job || job.site_id !== connector.siteId) return "unknown";
  // Answered once already; a timed-out job may still bring the secret its target now has.
  if (job.finished_at !== null && !(job.outcome === "timeout" && result.outcome === "rotated")) return "stale";
  // A new secret sealed to a site key replaced since (a late answer from a connector's spool) would never open
  // again: refused (409 seal_key_changed) before anything is stored; the connector re-seals its spool when it adopts
  // a key and sends it again.
  if (result.outcome === "rotated")
    await requireSealedToCurrent((await currentSealKey(env.DB, job.site_id))?.json ?? null, result.sealed);
  const row = (await env.DB.prepare(
    `${SELECT_ROTATION} WHERE id = (SELECT credential_id FROM credential_rotations WHERE id = ?)`,
  )
    .bind(jobId)
    .first<RotationRow>())!;
  const event: RotationEvent = { type: "answer", job: jobId, issuedAt: job.requested_at, op: job.op, result, at: now };
  // The job is claimed first, in one statement: of two answers that both read it open above (a connector's racing
  // twins), one settles it and the other is stale. Checking the read alone let both through: the second then met a
  // credential with no job in flight and counted as a late answer.
  const outcome = result.outcome === "failed" ? `failed:${result.error}` : result.outcome;
  const claimed = await env.DB.prepare(
    `UPDATE credential_rotations SET finished_at = ?, outcome = ?
     WHERE id = ? AND (finished_at IS NULL OR (outcome = 'timeout' AND ? = 'rotated'))`,
  )
    .bind(now, outcome, jobId, result.outcome)
    .run();
  if (claimed.meta.changes === 0) return "stale";
  /**
   * The answer did not take effect: the job's row says again what it said before the claim, unless the sweep timed
   * the job out meanwhile (its credential holds it no more, and the sweep found the row claimed): then `timeout`.
   */
  const unclaim = () =>
    env.DB.prepare(
      `UPDATE credential_rotations SET
         outcome = CASE WHEN ?1 IS NULL AND NOT EXISTS (SELECT 1 FROM credentials WHERE rotation_job = ?3) THEN 'timeout' ELSE ?2 END,
         finished_at = CASE WHEN ?1 IS NULL AND NOT EXISTS (SELECT 1 FROM credentials WHERE rotation_job = ?3) THEN ?4 ELSE ?1 END
       WHERE id = ?3 AND finished_at = ?4 AND outcome = ?5`,
    )
      .bind(job.finished_at, job.outcome, jobId, now, outcome)
      .run();
  let after: Rotation | null;
  try {
    // The credential changes only if it is still as read (saveRotation): the sweep may time the job out meanwhile.
    after = await step(env.DB, row, event, result.outcome === "rotated" ? result.sealed : undefined);
  } catch (err) {
    await unclaim();
    throw err;
  }
  // An answer a newer rotation made stale writes nothing: the job's history keeps what it said.
  if (!after) {
    await unclaim();
    return "stale";
  }
  const target = { type: "credential", id: row.id, name: row.name };
  const data = { job: jobId, connector: connector.id, op: job.op };
  if (result.outcome === "rotated") await record(env, { actor: null, action: "credential.rotated", target, data });
  else if (result.outcome === "failed") await recordFailure(env, row, jobId, result.error, after);
  else await record(env, { actor: null, action: "credential.verified", target, data: { ...data, outcome } });
  return "applied";
}
