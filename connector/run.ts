// `psm-connector run`: the agent. Holds the control link, verifies and starts sessions with the
// site's address policy and credential provider, reports health to the hub, writes status.json
// for `psm-connector status`, serves Prometheus metrics on loopback, runs discovery jobs, and
// records sessions at the source (spool on disk, uploaded to the edge: connector/recording/), relays mail and
// writes the audit stream to the on-prem syslog collector.
import { rdpUnavailable, sandboxStatus } from "./rdp/engine.ts";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connectorEndpoint, HEARTBEAT_INTERVAL_MS } from "../protocol/index.ts";
import { loadConfig } from "./config.ts";
import { AGENT, ControlLink } from "./control.ts";
import { type CredentialProvider, SealedProvider } from "./credentials.ts";
import { discoverOnce, reportInventory } from "./discovery/runner.ts";
import { EmpowerIdProvider } from "./empowerid.ts";
import { containProcessFaults } from "./fault.ts";
import { GrantRejected, GrantsSeen, verifyGrant } from "./grant.ts";
import { Health } from "./health.ts";
import { MailRelayer } from "./mail.ts";
import { SyslogForwarder } from "./audit-syslog.ts";
import { connectorToken } from "./keys.ts";
import { type Log, log as writeLog } from "./log.ts";
import { startMetrics } from "./metrics.ts";
import { Recordings, recordingSettings } from "./recording/recordings.ts";
import { TargetSession } from "./session.ts";
import type { SessionHooks } from "./session-hooks.ts";
import { loadState } from "./state.ts";
import { resolveTarget } from "./target-connect.ts";
import { probeHostKey } from "./host-key-probe.ts";
import { parseCidr } from "./target-policy.ts";
import { takeKeyAnnouncement, trustedEdgeKeys } from "./edge-trust.ts";
import { finishIdentityRotation, rotateIdentity } from "./identity.ts";
import { type RotationDeps, resendSpooled, runRotationJob } from "./rotation/job.ts";
import {
  ensureTransportKey,
  receiveSealKey,
  resumeSealRotation,
  runSealRotation,
  type SealRotationDeps,
  sealIdentity,
} from "./seal-rotation.ts";
import type { JWK } from "jose";

export const STATUS_FILE = "status.json";
/** status.json is rewritten this often (and on every session start/end): 5 s. */
const STATUS_INTERVAL_MS = 5_000;

/** `psm-connector discover`: one discovery round now, reported to the edge; prints the counts. */
export async function discoverNow(stateDir: string): Promise<void> {
  const state = await loadState(stateDir);
  const config = await loadConfig(stateDir);
  if (!config.discovery) throw new Error(`no "discovery" section in ${join(stateDir, "config.json")}`);
  const result = await discoverOnce(config.discovery, {
    allowed: config.allowedTargets.map(parseCidr),
    log: writeLog,
    report: (servers) =>
      reportInventory(
        state.edgeUrl,
        () => connectorToken(state.connectorId, state.identityKey, connectorEndpoint.inventory),
        servers,
      ),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (result.failedSources.length > 0) process.exitCode = 1;
}

export async function run(stateDir: string): Promise<void> {
  const state = await loadState(stateDir);
  const config = await loadConfig(stateDir);
  const health = new Health(AGENT);
  // Every log line also feeds health: link state and the last errors come from the same events.
  const log: Log = (event, fields) => {
    writeLog(event, fields);
    health.observe(event, fields);
  };
  // A key rotation cut short by a crash is settled before anything dials with a key.
  await finishIdentityRotation(stateDir, state, log).catch((err: Error) =>
    log("identity.rotation_failed", { error: err.name }),
  );
  await ensureTransportKey(stateDir, state);
  // The agent outlives any one session's bug: an escaped failure is logged and contained, not fatal.
  containProcessFaults(process, log);
  const allowed = config.allowedTargets.map(parseCidr);
  const credentials: CredentialProvider =
    config.credentialProvider === "empowerid" && config.empowerid
      ? new EmpowerIdProvider(config.empowerid, () => state.sealKey as JWK, log)
      : new SealedProvider(() => state.sealKey as JWK);
  const hooks: SessionHooks = {
    resolveTarget: (host) => resolveTarget(host, allowed),
    credentials,
  };
  const sessions = new Map<string, TargetSession>();
  // A grant opens one session: an `open` replayed, or repeated while the first is verified, is refused.
  const grantsSeen = new GrantsSeen();
  const mail = new MailRelayer({
    stateDir,
    sealKey: () => state.sealKey as JWK,
    ...(config.mail?.caFile ? { caFile: config.mail.caFile } : {}),
    log,
  });
  // The audit stream's syslog sink: TLS files from the config, read at each connect.
  const syslog = new SyslogForwarder({
    ...(config.syslog?.caFile ? { caFile: config.syslog.caFile } : {}),
    ...(config.syslog?.certFile ? { certFile: config.syslog.certFile } : {}),
    ...(config.syslog?.keyFile ? { keyFile: config.syslog.keyFile } : {}),
    ...(config.syslog?.hostname ? { hostname: config.syslog.hostname } : {}),
    ...(config.syslog ? { overlap: config.syslog.overlap, enterpriseNumber: config.syslog.enterpriseNumber } : {}),
    log,
  });
  // The spool is opened (a crash's debris removed) and its leftovers uploaded before any session runs.
  // Without it the connector still runs: required recordings are refused, optional ones go unrecorded.
  const recordings = await Recordings.open(stateDir, state, log, recordingSettings()).catch((err: Error) => {
    log("recording.spool_unavailable", { error: err.name });
    return undefined;
  });
  if (recordings) {
    health.spool = () => recordings.health();
    recordings.start();
  }
  const rotation: RotationDeps = {
    state,
    stateDir,
    log,
    resolveTarget: (host) => resolveTarget(host, allowed),
    ...(config.directoryCaFile ? { caFile: config.directoryCaFile } : {}),
  };

  let metrics: Awaited<ReturnType<typeof startMetrics>> | undefined;
  let statusDirty = true;
  const writeStatus = async () => {
    statusDirty = false;
    const tmp = join(stateDir, `${STATUS_FILE}.tmp`);
    const body = {
      ...health.snapshot(),
      connectorId: state.connectorId,
      siteId: state.siteId,
      edge: state.edgeUrl,
      metricsPort: metrics?.port ?? null,
    };
    await writeFile(tmp, JSON.stringify(body, null, 2), { mode: 0o600 });
    await rename(tmp, join(stateDir, STATUS_FILE));
  };
  const report = () =>
    control.send({
      type: "report",
      sessions: health.live.size,
      errors: health.lastErrors(),
      ...(recordings ? { spool: recordings.health() } : {}),
    });

  const control = new ControlLink(state, log, {
    open: (open) => {
      if (sessions.has(open.sessionId)) return;
      verifyGrant(open.grant, {
        edgeKey: trustedEdgeKeys(state),
        siteId: state.siteId,
        sessionId: open.sessionId,
        seen: grantsSeen,
      })
        .then((claims) => {
          const session = new TargetSession(
            state,
            open.sessionId,
            claims,
            log,
            (id) => {
              sessions.delete(id);
              statusDirty = true;
            },
            {
              ...hooks,
              onStage: (stage, reason) => {
                if (stage === "ended") health.sessionEnded(open.sessionId, reason ?? "closed");
                statusDirty = true;
              },
            },
            recordings,
          );
          sessions.set(open.sessionId, session);
          health.sessionStarted(open.sessionId);
          statusDirty = true;
          control.send({ type: "accepted", sessionId: open.sessionId });
          log("session.open", { session: open.sessionId, user: claims.usr.name, host: claims.tgt.host });
          return session.start();
        })
        .catch((err: Error) => {
          log("session.rejected", {
            session: open.sessionId,
            reason: err instanceof GrantRejected ? "grant_rejected" : "internal_error",
            error: err.message,
          });
          control.send({
            type: "rejected",
            sessionId: open.sessionId,
            reason: err instanceof GrantRejected ? "grant_rejected" : "internal_error",
          });
        });
    },
    ready: () => {
      statusDirty = true;
      report();
    },
    rotateIdentity: () => {
      rotateIdentity(stateDir, state, log).catch((err: Error) => log("identity.rotation_failed", { error: err.name }));
    },
    rotationJob: (job) => void runRotationJob(job, rotation),
    edgeKeys: (announcement) => void takeKeyAnnouncement(stateDir, state, announcement, log),
    rotateSealKey: (rotationId) => void runSealRotation(rotationId, sealing),
    sealKey: (delivery) => void receiveSealKey(delivery, sealing),
    probeHostKey: (probe) => {
      probeHostKey(probe, { resolve: (host) => resolveTarget(host, allowed) })
        .then((answer) => {
          log("host_key.probed", { ok: answer.result.ok });
          control.send(answer);
        })
        .catch((err: Error) => log("host_key.probe_failed", { error: err.name }));
    },
    mail: (job) => {
      mail
        .handle(job)
        .then((answer) => control.send(answer))
        .catch((err: Error) => log("mail.job_failed", { job: job.jobId, error: err.name }));
    },
    auditSyslog: (job) => {
      syslog
        .handle(job)
        .then((answer) => control.send(answer))
        .catch((err: Error) => log("audit_syslog.job_failed", { job: job.jobId, error: err.name }));
    },
    hello: () => sealIdentity(state),
  });
  const sealing: SealRotationDeps = { state, stateDir, log, send: (m) => control.send(m) };
  void resendSpooled(rotation);
  void resumeSealRotation(sealing);

  metrics = await startMetrics(health, config.metricsPort).catch((err: Error) => {
    log("metrics.unavailable", { port: config.metricsPort, error: err.message });
    return undefined;
  });
  log("connector.start", {
    agent: AGENT,
    connector: state.connectorId,
    edge: state.edgeUrl,
    credentials: credentials.name,
    allowedTargets: config.allowedTargets.join(","),
    metrics: metrics ? `127.0.0.1:${metrics.port}` : undefined,
  });
  // Whether RDP runs here, and sandboxed: said at start, kept in health (status.json, metrics).
  const rdpMissing = rdpUnavailable();
  const sandbox = sandboxStatus();
  health.rdp = {
    engine: !rdpMissing,
    sandbox: sandbox.available,
    ...(rdpMissing ? { reason: rdpMissing } : sandbox.available ? {} : { reason: sandbox.reason }),
  };
  log("connector.rdp", rdpMissing ? { available: false, reason: rdpMissing } : { available: true });
  if (!rdpMissing)
    log(
      "connector.rdp_sandbox",
      sandbox.available
        ? { available: true }
        : {
            available: false,
            reason: sandbox.reason,
            effect: "RDP bridges run unsandboxed; rdpRequireSandbox refuses",
          },
    );
  control.start();
  let discoveryTimer: NodeJS.Timeout | undefined;
  if (config.discovery) {
    const discovery = config.discovery;
    const round = () =>
      discoverOnce(discovery, {
        allowed,
        log,
        report: (servers) =>
          reportInventory(
            state.edgeUrl,
            () => connectorToken(state.connectorId, state.identityKey, connectorEndpoint.inventory),
            servers,
          ),
      }).catch((err: Error) => log("discovery.report_failed", { error: err.message }));
    // First round shortly after start, then every intervalMinutes.
    discoveryTimer = setTimeout(function again() {
      void round().finally(() => {
        discoveryTimer = setTimeout(again, discovery.intervalMinutes * 60_000);
      });
    }, 5_000);
  }
  const reportTimer = setInterval(report, HEARTBEAT_INTERVAL_MS);
  let lastWrite = 0;
  const statusTimer = setInterval(() => {
    if (!statusDirty && Date.now() - lastWrite < STATUS_INTERVAL_MS) return;
    lastWrite = Date.now();
    writeStatus().catch((err: Error) => writeLog("status.write_failed", { error: err.message }));
  }, 500);
  const shutdown = () => {
    log("connector.stop", { sessions: sessions.size });
    clearInterval(reportTimer);
    clearTimeout(discoveryTimer);
    clearInterval(statusTimer);
    for (const session of sessions.values()) session.end("connector_lost");
    control.stop();
    syslog.close();
    metrics?.server.close();
    health.link = "disconnected";
    // Ended sessions' last chunks reach the spool before the process goes (uploaded at the next start).
    void (recordings?.drain() ?? Promise.resolve())
      .then(() => {
        recordings?.stop();
        return writeStatus();
      })
      .catch((err: Error) => writeLog("status.write_failed", { error: err.message }))
      .finally(() => setTimeout(() => process.exit(0), 200).unref());
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}
