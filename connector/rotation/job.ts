// One rotation job, from the edge's signed request to the answer: verify the job, open the vaulted
// secret (and the rotation credential's) in memory, generate the new secret here, seal it to the site
// key, spool the sealed answer to disk, change the secret on the target, and report. The spool is
// written before the target changes, so a crash or an unreachable edge after the change cannot lose
// the new secret: `resendSpooled` delivers it at the next start. The edge never gets a plaintext.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt, type JWK } from "jose";
import { connectorEndpoint } from "../../protocol/index.ts";
import type { RotationClaims, RotationResult } from "../../protocol/rotation.ts";
import { connectorToken, publicWithKid } from "../keys.ts";
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
  /** Whether the target's secret is known: false keeps the spooled new secret until the target can say. */
  let settled = true;
  /** Set once the command that changes the secret was sent: a failure before it left the target untouched. */
  const progress = { changing: false };
  try {
    result = await perform(claims, deps, () => {
      progress.changing = true;
    });
  } catch (err) {
    const code =
      err instanceof RotationFailure ? err.code : err instanceof TargetRefused ? "target_refused" : "internal_error";
    if (code === "internal_error") deps.log("rotation.internal_error", { job: jobId, error: (err as Error).name });
    // The step that failed may have come after the target took the new secret (the check after a change that went
    // through, a timeout after the command ran): the target itself says which secret it holds, as at a restart.
    const after = progress.changing ? await afterFailure(claims, deps) : "not_taken";
    if (typeof after === "object") result = { outcome: "rotated", sealed: after.taken };
    else {
      result = { outcome: "failed", error: code };
      settled = after === "not_taken";
      if (settled) await rm(spoolFile(deps.stateDir, jobId), { force: true });
      else retrySpooledLater(jobId, deps);
    }
  }
  deps.log("rotation.done", {
    job: jobId,
    credential: claims.cid,
    outcome: result.outcome,
    ...(result.outcome === "failed" ? { error: result.error } : {}),
    ...(settled ? {} : { kept: true }),
  });
  await deliver(jobId, result, deps, settled);
}

/**
 * After a failed rotation: `{ taken }` (the spooled blob) when the spooled new secret logs in, so the change went
 * through; `not_taken` when nothing was spooled or it does not log in; `unknown` when the target cannot be asked now.
 */
async function afterFailure(
  claims: RotationClaims & { job: string },
  deps: RotationDeps,
): Promise<{ taken: string } | "not_taken" | "unknown"> {
  let spooled: Spooled;
  try {
    spooled = await readSpool(deps.stateDir, claims.sub);
  } catch {
    return "not_taken"; // nothing spooled: the target was never touched
  }
  try {
    return (await spooledLogsIn(claims, spooled, deps)) ? { taken: spooled.sealed } : "not_taken";
  } catch {
    return "unknown";
  }
}

/** Whether the spooled new secret logs in to the job's account now: whether the target took the change. */
async function spooledLogsIn(claims: RotationClaims, spooled: Spooled, deps: RotationDeps): Promise<boolean> {
  const next = (await openSealed(deps.state.sealKey as JWK, spooled.sealed)).toString("utf8");
  return logsIn(claims, next, deps);
}

async function perform(
  claims: RotationClaims & { job: string },
  deps: RotationDeps,
  changing: () => void,
): Promise<RotationResult> {
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
      await changeSshKey(
        target,
        claims.cred.username,
        { privateKey: current, blob: publicBlob(current) },
        next,
        changing,
      );
    } else {
      const next = generatePassword();
      sealed = await spool(claims, next, deps);
      const viaLogin: SshLogin | undefined = via
        ? via.kind === "private_key"
          ? { username: via.username, privateKey: via.secret }
          : { username: via.username, password: via.secret }
        : undefined;
      await changeSshPassword(target, { username: claims.cred.username, current }, next, viaLogin, changing);
    }
  } else {
    await deps.resolveTarget(urlHost(acct.url));
    if (claims.cred.kind !== "password") throw new RotationFailure("unsupported");
    const next = generatePassword();
    sealed = await spool(claims, next, deps);
    await changeDirectoryPassword(acct, current, next, {
      ...(via ? { via: { dn: via.dn ?? via.username, password: via.secret } } : {}),
      caFile: deps.caFile,
      changing,
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
  const sealed = await sealSecret(await publicWithKid(deps.state.sealKey as JWK), next);
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

/**
 * Reports to the edge, retrying a few times; a rotated answer stays spooled until the edge took it. `settled`: the
 * outcome is known, so the spool goes once the edge decided; otherwise it stays for the target to say later.
 */
async function deliver(
  jobId: string,
  result: RotationResult,
  deps: RotationDeps,
  settled = true,
  attempts = 5,
): Promise<boolean> {
  const endpoint = connectorEndpoint.rotation(jobId);
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const token = await connectorToken(deps.state.connectorId, deps.state.identityKey as JWK, endpoint);
      const res = await fetch(new URL(endpoint, deps.state.edgeUrl), {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(result),
      });
      const code = await errorCode(res);
      if (code === "seal_key_changed" && result.outcome === "rotated") {
        // Sealed to a site key replaced since: the spool holds it re-sealed to the key adopted then (resealSpooled).
        const spooled = await readSpool(deps.stateDir, jobId).catch(() => null);
        if (spooled && spooled.sealed !== result.sealed) {
          result = { outcome: "rotated", sealed: spooled.sealed };
          continue;
        }
        deps.log("rotation.report_refused", { job: jobId, status: res.status, error: code, kept: true });
        return false;
      }
      // 2xx: taken; 4xx: the edge decided (a stale or unknown job), so retrying cannot help.
      if (res.status < 500) {
        if (!res.ok) deps.log("rotation.report_refused", { job: jobId, status: res.status });
        if (settled) await rm(spoolFile(deps.stateDir, jobId), { force: true });
        return res.ok;
      }
    } catch (err) {
      deps.log("rotation.report_failed", { job: jobId, error: (err as Error).message });
    }
    await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
  }
  return false;
}

/** The stable code of an edge's error answer (`{ error: { code } }`), if it has one; the body is read either way. */
async function errorCode(res: Response): Promise<string | undefined> {
  if (res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  const body = (await res.json().catch(() => null)) as { error?: { code?: unknown } } | null;
  return typeof body?.error?.code === "string" ? body.error.code : undefined;
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
    if (JOB_ID.test(jobId)) await resendOne(jobId, deps);
  }
}

/** One spooled rotation settled by asking the target; false when it cannot tell now (kept). */
async function resendOne(jobId: string, deps: RotationDeps): Promise<boolean> {
  try {
    const spooled = await readSpool(deps.stateDir, jobId);
    const claims = await verifyRotationJob(spooled.job, deps.state, new Date((decodeJwt(spooled.job).iat ?? 0) * 1000));
    const taken = await spooledLogsIn(claims, spooled, deps);
    deps.log("rotation.resend", { job: jobId, taken });
    await deliver(
      jobId,
      taken ? { outcome: "rotated", sealed: spooled.sealed } : { outcome: "failed", error: "verify_failed" },
      deps,
    );
    return true;
  } catch (err) {
    // Unreadable, or the target cannot tell now: kept for the next try, or the next start.
    deps.log("rotation.resend_failed", { job: jobId, error: (err as Error).name });
    return false;
  }
}

/** How long a running connector waits before it asks the target again about a rotation it could not settle. */
const RESETTLE_DELAYS_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];

/** Asks the target again later (a timer that does not keep the process up); after the last try, the next start does. */
function retrySpooledLater(jobId: string, deps: RotationDeps, attempt = 0): void {
  const delay = RESETTLE_DELAYS_MS[attempt];
  if (delay === undefined) return;
  setTimeout(() => {
    void resendOne(jobId, deps).then((done) => {
      if (!done) retrySpooledLater(jobId, deps, attempt + 1);
    });
  }, delay).unref();
}

/**
 * Re-seals every spooled rotation's new secret from `oldKey` to `newKey`, before the connector adopts a new site
 * seal key: a spooled secret sealed to a key the site no longer has would never open again (the edge refuses it,
 * `seal_key_changed`). A file already sealed to the new key (a re-seal cut short by a crash) is left as it is.
 */
export async function resealSpooled(stateDir: string, oldKey: JWK, newKey: JWK): Promise<number> {
  const names = await readdir(join(stateDir, SPOOL)).catch(() => [] as string[]);
  const newPublic = await publicWithKid(newKey);
  let count = 0;
  for (const name of names) {
    const jobId = name.replace(/\.json$/, "");
    if (!JOB_ID.test(jobId)) continue;
    const spooled = await readSpool(stateDir, jobId);
    let secret: Buffer;
    try {
      secret = await openSealed(oldKey, spooled.sealed);
    } catch {
      continue; // sealed to the new key already, or unreadable: nothing this key can do
    }
    try {
      const sealed = await sealSecret(newPublic, secret.toString("utf8"));
      const file = spoolFile(stateDir, jobId);
      await writeFile(`${file}.tmp`, JSON.stringify({ job: spooled.job, sealed } satisfies Spooled), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
      count++;
    } finally {
      secret.fill(0);
    }
  }
  return count;
}
