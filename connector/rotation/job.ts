// One rotation job, from the edge's signed request to the answer: verify the job, open the vaulted
// secret (and the rotation credential's) in memory, generate the new secret here, seal it to the site
// key, spool the sealed answer to disk, change the secret on the target, and report. The spool is
// written before the target changes, so a crash or an unreachable edge after the change cannot lose
// the new secret: `resendSpooled` delivers it at the next start. The edge never gets a plaintext.
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt, type JWK } from "jose";
import { connectorEndpoint } from "../../protocol/index.ts";
import type { RotationClaims, RotationResult } from "../../protocol/rotation.ts";
import { connectorToken, publicJwk } from "../keys.ts";
import type { Log } from "../log.ts";
import { openSealed, sealSecret } from "../seal.ts";
import type { ConnectorState } from "../state.ts";
import { TargetRefused } from "../target-connect.ts";
import { changeDirectoryPassword, directoryLogsIn } from "./directory-account.ts";
import { RotationFailure } from "./failure.ts";
import { generatePassword, generateSshKey, publicBlob } from "./secret.ts";
import { verifyRotationJob } from "./verify.ts";
import { changeSshKey, changeSshPassword, type SshLogin, sshLogsIn } from "./ssh-account.ts";

export type RotationDeps = {
  state: ConnectorState;
  stateDir: string;
  log: Log;
  /** The connector's address policy: the checked address, or TargetRefused. */
  resolveTarget: (host: string) => Promise<string>;
  /** CA bundle for directory TLS (config `directoryCaFile`); the system's CAs otherwise. */
  caFile?: string;
};

const SPOOL = "rotations";
const JOB_ID = /^[A-Za-z0-9-]{1,64}$/;

/** Runs one job and reports its outcome. Never throws: a failure is an answer too. */
export async function runRotationJob(job: string, deps: RotationDeps): Promise<void> {
  let claims: RotationClaims & { job: string };
  try {
    claims = { ...(await verifyRotationJob(job, deps.state)), job };
  } catch (err) {
    // An unverifiable job has no trustworthy id to answer: the edge times it out.
    deps.log("rotation.rejected", { error: (err as { code?: string }).code ?? (err as Error).name });
    return;
  }
  const jobId = claims.sub;
  if (!JOB_ID.test(jobId)) return;
  deps.log("rotation.start", { job: jobId, credential: claims.cid, op: claims.op, account: claims.acct.type });
  let result: RotationResult;
  try {
    result = await perform(claims, deps);
  } catch (err) {
    const code =
      err instanceof RotationFailure ? err.code : err instanceof TargetRefused ? "target_refused" : "internal_error";
    if (code === "internal_error") deps.log("rotation.internal_error", { job: jobId, error: (err as Error).name });
    result = { outcome: "failed", error: code };
    await rm(spoolFile(deps.stateDir, jobId), { force: true });
  }
  deps.log("rotation.done", {
    job: jobId,
    credential: claims.cid,
    outcome: result.outcome,
    ...(result.outcome === "failed" ? { error: result.error } : {}),
  });
  await deliver(jobId, result, deps);
}

async function perform(claims: RotationClaims & { job: string }, deps: RotationDeps): Promise<RotationResult> {
  const current = (await openSealed(deps.state.sealKey as JWK, claims.cred.sealed)).toString("utf8");
  const via = claims.via
    ? { ...claims.via, secret: (await openSealed(deps.state.sealKey as JWK, claims.via.sealed)).toString("utf8") }
    : undefined;
  const acct = claims.acct;
  if (claims.op === "verify") return { outcome: (await logsIn(claims, current, deps)) ? "in_sync" : "out_of_sync" };
  // Sealed and spooled before the target is touched; the answer carries the same blob.
  let sealed: string;
  if (acct.type === "ssh") {
    const target = { address: await deps.resolveTarget(acct.host), port: acct.port, hostKey: acct.hostKey };
    if (claims.cred.kind === "private_key") {
      const next = generateSshKey();
      sealed = await spool(claims, next.privateKey, deps);
      await changeSshKey(target, claims.cred.username, { privateKey: current, blob: publicBlob(current) }, next);
    } else {
      const next = generatePassword();
      sealed = await spool(claims, next, deps);
      const viaLogin: SshLogin | undefined = via
        ? via.kind === "private_key"
          ? { username: via.username, privateKey: via.secret }
          : { username: via.username, password: via.secret }
        : undefined;
      await changeSshPassword(target, { username: claims.cred.username, current }, next, viaLogin);
    }
  } else {
    await deps.resolveTarget(urlHost(acct.url));
    if (claims.cred.kind !== "password") throw new RotationFailure("unsupported");
    const next = generatePassword();
    sealed = await spool(claims, next, deps);
    await changeDirectoryPassword(acct, current, next, {
      ...(via ? { via: { dn: via.dn ?? via.username, password: via.secret } } : {}),
      caFile: deps.caFile,
    });
  }
  return { outcome: "rotated", sealed };
}

const urlHost = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, "");

/** Whether `secret` logs in to the job's account now (through the address policy and the host key pin). */
async function logsIn(claims: RotationClaims, secret: string, deps: RotationDeps): Promise<boolean> {
  const acct = claims.acct;
  if (acct.type !== "ssh") {
    await deps.resolveTarget(urlHost(acct.url));
    return directoryLogsIn(acct, secret, deps.caFile);
  }
  const target = { address: await deps.resolveTarget(acct.host), port: acct.port, hostKey: acct.hostKey };
  const { username, kind } = claims.cred;
  return sshLogsIn(target, kind === "private_key" ? { username, privateKey: secret } : { username, password: secret });
}

const spoolFile = (stateDir: string, jobId: string) => join(stateDir, SPOOL, `${jobId}.json`);

/** Seals the new secret and writes the answer that carries it, before the target is touched. */
async function spool(claims: RotationClaims & { job: string }, next: string, deps: RotationDeps): Promise<string> {
  const sealed = await sealSecret(publicJwk(deps.state.sealKey as JWK), next);
  await mkdir(join(deps.stateDir, SPOOL), { recursive: true, mode: 0o700 });
  const spooled: Spooled = { job: claims.job, sealed };
  await writeFile(spoolFile(deps.stateDir, claims.sub), JSON.stringify(spooled), { mode: 0o600 });
  return sealed;
}

/** A rotation in flight: its signed job and the new secret, sealed to the site key. */
type Spooled = { job: string; sealed: string };

async function readSpool(stateDir: string, jobId: string): Promise<Spooled> {
  return JSON.parse(await readFile(spoolFile(stateDir, jobId), "utf8")) as Spooled;
}

/** Reports to the edge, retrying a few times; a rotated answer stays spooled until the edge took it. */
async function deliver(jobId: string, result: RotationResult, deps: RotationDeps, attempts = 5): Promise<boolean> {
  const endpoint = connectorEndpoint.rotation(jobId);
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const token = await connectorToken(deps.state.connectorId, deps.state.identityKey as JWK, endpoint);
      const res = await fetch(new URL(endpoint, deps.state.edgeUrl), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(result),
      });
      await res.body?.cancel();
      // 2xx: taken; 4xx: the edge decided (a stale or unknown job), so retrying cannot help.
      if (res.status < 500) {
        if (!res.ok) deps.log("rotation.report_refused", { job: jobId, status: res.status });
        await rm(spoolFile(deps.stateDir, jobId), { force: true });
        return res.ok;
      }
    } catch (err) {
      deps.log("rotation.report_failed", { job: jobId, error: (err as Error).message });
    }
    await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
  }
  return false;
}

/**
 * At start: rotations a previous run left spooled (it crashed, or the edge was unreachable). Whether the
 * target took the new secret is asked of the target itself: if the spooled secret logs in, the edge gets
 * it; if not, the change never happened and the edge hears a failure (the vaulted secret still holds).
 */
export async function resendSpooled(deps: RotationDeps): Promise<void> {
  const names = await readdir(join(deps.stateDir, SPOOL)).catch(() => [] as string[]);
  for (const name of names) {
    const jobId = name.replace(/\.json$/, "");
    if (!JOB_ID.test(jobId)) continue;
    try {
      const spooled = await readSpool(deps.stateDir, jobId);
      const claims = await verifyRotationJob(
        spooled.job,
        deps.state,
        new Date((decodeJwt(spooled.job).iat ?? 0) * 1000),
      );
      const next = (await openSealed(deps.state.sealKey as JWK, spooled.sealed)).toString("utf8");
      const taken = await logsIn(claims, next, deps);
      deps.log("rotation.resend", { job: jobId, taken });
      await deliver(
        jobId,
        taken ? { outcome: "rotated", sealed: spooled.sealed } : { outcome: "failed", error: "verify_failed" },
        deps,
      );
    } catch (err) {
      // Unreadable, or the target cannot tell now: kept for the next start.
      deps.log("rotation.resend_failed", { job: jobId, error: (err as Error).name });
    }
  }
}
