// psm-connector: the on-prem agent. `install` (enroll + config + systemd unit) or `enroll` once with a
// one-time token, then `run` as a service; `status` reads what the running agent last wrote;
// `seal` seals a secret to the site's key locally, for admins who add credentials from a shell.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { JWK } from "jose";
import { CredentialKind, EnrollResponse } from "../protocol/index.ts";
import { CONFIG_FILE, ConnectorConfig, loadConfig } from "./config.ts";
import type { HealthSnapshot } from "./health.ts";
import { generateIdentityKey, generateSealKey, publicJwk } from "./keys.ts";
import { log } from "./log.ts";
import { discoverNow, run, STATUS_FILE } from "./run.ts";
import { sealingProblem, sealSecret } from "./seal.ts";
import {
  DEFAULT_STATE_DIR,
  hasSystemd,
  SERVICE_USER,
  serviceUserCommands,
  systemdUnit,
  UNIT_NAME,
  UNIT_PATH,
} from "./service.ts";
import { backupSealKey, generateRecoveryKey, restoreSealKey, SealKeyBackup } from "./seal-backup.ts";
import { loadState, saveState } from "./state.ts";
import { readSecretJson } from "./json-file.ts";

const USAGE = `usage:
  psm-connector install --url <edge url> --token <enrollment token> [--name <name>] [--seal-key <file>]
                        [--allow <cidr>]... [--state <dir>] [--user <account>] [--print-unit]
                        (the service runs as --user, default ${SERVICE_USER}: created if missing; root opts out)
  psm-connector enroll --url <edge url> --token <enrollment token> [--name <name>] [--seal-key <file>] [--state <dir>]
  psm-connector run [--state <dir>]
  psm-connector status [--state <dir>] [--json]
  psm-connector discover [--state <dir>]  (one discovery round now, reported to the edge)
  psm-connector seal [--kind password|private_key] [--state <dir>]
                                          (reads the secret from stdin, prints the sealed blob; a private key
                                          that the connector could not load is refused)
  psm-connector recovery-key --out <file>   (a recovery key pair for seal key backups: the private half goes
                                          to <file>, to keep offline; the public half is printed)
  psm-connector backup-seal-key --recovery-public <file> [--out <file>] [--state <dir>]
                                          (the site's seal key sealed to the recovery key; keep it off this host)
  psm-connector restore-seal-key --backup <file> --recovery-key <file> --out <file>
                                          (writes the site's seal key for enroll --seal-key, after all connectors died)
state dir defaults to $PSM_CONNECTOR_STATE, else ${DEFAULT_STATE_DIR} for install/status as root, else ./.psm/connector`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      name: { type: "string" },
      "seal-key": { type: "string" },
      state: { type: "string" },
      allow: { type: "string", multiple: true },
      "print-unit": { type: "boolean" },
      user: { type: "string" },
      json: { type: "boolean" },
      kind: { type: "string" },
      out: { type: "string" },
      "recovery-public": { type: "string" },
      "recovery-key": { type: "string" },
      backup: { type: "string" },
    },
  });
  const serviceDefault = process.getuid?.() === 0 ? DEFAULT_STATE_DIR : ".psm/connector";
  const stateDir =
    values.state ??
    process.env.PSM_CONNECTOR_STATE ??
    (command === "install" || command === "status" ? serviceDefault : ".psm/connector");
  switch (command) {
    case "install":
      if (!values.url || !values.token) throw new UsageError("install needs --url and --token");
      return install({
        url: values.url,
        token: values.token,
        name: values.name ?? hostname(),
        sealKeyFile: values["seal-key"],
        allow: values.allow,
        printUnit: values["print-unit"] ?? false,
        user: values.user ?? SERVICE_USER,
        stateDir: resolve(stateDir),
      });
    case "enroll":
      if (!values.url || !values.token) throw new UsageError("enroll needs --url and --token");
      return enroll(values.url, values.token, values.name ?? hostname(), values["seal-key"], stateDir);
    case "run":
      return run(stateDir);
    case "status":
      return status(stateDir, values.json ?? false);
    case "discover":
      return discoverNow(stateDir);
    case "seal": {
      const kind = values.kind === undefined ? undefined : CredentialKind.safeParse(values.kind);
      if (kind && !kind.success) throw new UsageError("--kind is password or private_key");
      return seal(stateDir, kind?.data);
    }
    case "recovery-key": {
      if (!values.out) throw new UsageError("recovery-key needs --out");
      const { privateKey, publicKey } = await generateRecoveryKey();
      await writeNew(values.out, `${JSON.stringify(privateKey)}\n`);
      process.stdout.write(`${JSON.stringify(publicKey)}\n`);
      return;
    }
    case "backup-seal-key": {
      if (!values["recovery-public"]) throw new UsageError("backup-seal-key needs --recovery-public");
      const state = await loadState(stateDir);
      const recovery = (await readSecretJson(values["recovery-public"])) as JWK;
      const backup = `${JSON.stringify(await backupSealKey(state, recovery), null, 2)}\n`;
      if (values.out) await writeNew(values.out, backup);
      else process.stdout.write(backup);
      return;
    }
    case "restore-seal-key": {
      if (!values.backup || !values["recovery-key"] || !values.out)
        throw new UsageError("restore-seal-key needs --backup, --recovery-key and --out");
      const backup = SealKeyBackup.parse(await readSecretJson(values.backup));
      const recovery = (await readSecretJson(values["recovery-key"])) as JWK;
      await writeNew(values.out, `${JSON.stringify(await restoreSealKey(backup, recovery))}\n`);
      log("restore.done", { site: backup.siteId, out: values.out, next: "enroll --seal-key <out>" });
      return;
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : "no command");
  }
}

/**
 * One command: enroll (unless this state dir is already enrolled: a reinstall or upgrade keeps its
 * identity), write config.json (unless present), then install and start the systemd unit, or print
 * it when systemd is absent or --print-unit is given.
 */
async function install(opts: {
  url: string;
  token: string;
  name: string;
  sealKeyFile?: string;
  allow?: string[];
  printUnit: boolean;
  stateDir: string;
  user: string;
}): Promise<void> {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(opts.user)) throw new UsageError("--user must be a plain account name");
  const enrolled = await loadState(opts.stateDir).then(
    () => true,
    () => false,
  );
  if (enrolled) log("install.kept_state", { state: opts.stateDir, hint: "already enrolled; the token was not used" });
  else await enroll(opts.url, opts.token, opts.name, opts.sealKeyFile, opts.stateDir);
  const configPath = join(opts.stateDir, CONFIG_FILE);
  if (!existsSync(configPath)) {
    const config = ConnectorConfig.parse(opts.allow?.length ? { allowedTargets: opts.allow } : {});
    await writeFile(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
    log("install.config_written", { config: configPath, allowedTargets: config.allowedTargets.join(",") });
  } else {
    await loadConfig(opts.stateDir); // refuse to install over an invalid config
  }
  const unit = systemdUnit({
    node: process.execPath,
    // This file: connector/cli.ts in the source tree, dist/psm-connector.mjs in the package; ".." is the
    // project or the package's root either way.
    cli: fileURLToPath(import.meta.url),
    workingDirectory: fileURLToPath(new URL("..", import.meta.url)),
    bundled: BUNDLED,
    stateDir: opts.stateDir,
    user: opts.user,
  });
  // The service's own account: created (unless it exists) and given the state dir before the unit starts.
  const accountExists = () => {
    try {
      execFileSync("id", ["-u", opts.user], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  const account = opts.user === "root" ? [] : serviceUserCommands(opts.user, opts.stateDir, accountExists());
  if (opts.printUnit || !hasSystemd()) {
    process.stdout.write(unit);
    const steps = [
      ...account.map(([cmd, args]) => [cmd, ...args].join(" ")),
      `save the unit above as ${UNIT_PATH}`,
      `systemctl daemon-reload && systemctl enable --now ${UNIT_NAME}`,
    ];
    process.stderr.write(
      `\n${hasSystemd() ? "" : "systemd is not running here: "}then, as root: ${steps.join("; ")}\n`,
    );
    return;
  }
  for (const [cmd, args] of account) execFileSync(cmd, args, { stdio: "inherit" });
  if (account.length) log("install.account", { user: opts.user, state: opts.stateDir });
  await writeFile(UNIT_PATH, unit, { mode: 0o644 });
  execFileSync("systemctl", ["daemon-reload"], { stdio: "inherit" });
  execFileSync("systemctl", ["enable", "--now", UNIT_NAME], { stdio: "inherit" });
  log("install.done", { unit: UNIT_PATH, state: opts.stateDir });
}

/** Prints what the running connector last wrote to status.json, and whether it still runs. */
/** "12.0 MiB of 1024 MiB, 3 chunks waiting (oldest 2026-…), uploads failing since …", or why there is none. */
function spoolLine(spool: HealthSnapshot["spool"], at: (ms: number) => string): string {
  if (!spool) return "unavailable (recorded sessions that require it do not start)";
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const waiting = spool.chunks
    ? `, ${spool.chunks} chunk${spool.chunks === 1 ? "" : "s"} waiting${spool.oldestAt !== null ? ` (oldest ${at(spool.oldestAt)})` : ""}`
    : ", nothing waiting";
  const failing = spool.failingSince !== null ? `, uploads failing since ${at(spool.failingSince)}` : "";
  return `${mib(spool.bytes)} of ${mib(spool.limit)}${waiting}${failing}`;
}

async function status(stateDir: string, json: boolean): Promise<void> {
  const state = await loadState(stateDir);
  const text = await readFile(join(stateDir, STATUS_FILE), "utf8").catch(() => undefined);
  const snap = text ? (JSON.parse(text) as HealthSnapshot) : undefined;
  let running = false;
  if (snap) {
    try {
      process.kill(snap.pid, 0);
      running = true;
    } catch {
      running = false;
    }
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ connectorId: state.connectorId, siteId: state.siteId, running, ...snap })}\n`,
    );
  } else {
    const at = (ms: number) => new Date(ms).toISOString();
    const lines = [
      `connector ${state.connectorId} (site ${state.siteId}) -> ${state.edgeUrl}`,
      snap
        ? `process: ${running ? `running (pid ${snap.pid}, ${snap.agent}, since ${at(snap.startedAt)})` : "not running"}`
        : "process: never ran with this state dir",
    ];
    if (snap) {
      lines.push(
        `link: ${running ? snap.link : "down"} since ${at(snap.linkSince)}`,
        `sessions: ${running ? snap.sessions : 0}`,
      );
      // status.json from before the RDP sandbox existed has no `rdp`.
      if (snap.rdp)
        lines.push(
          `rdp: ${snap.rdp.engine ? (snap.rdp.sandbox ? "available, sandboxed" : "available, NOT sandboxed") : "unavailable"}${snap.rdp.reason ? ` (${snap.rdp.reason})` : ""}`,
        );
      // The recording spool (docs/recording.md); status.json from before recording at the source has none.
      if (snap.spool !== undefined) lines.push(`recording spool: ${spoolLine(snap.spool, at)}`);
      lines.push(snap.errors.length ? "last errors:" : "last errors: none");
      for (const e of snap.errors) lines.push(`  ${at(e.at)} ${e.event}${e.reason ? ` (${e.reason})` : ""}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  if (!running) process.exitCode = 3;
}

async function enroll(edgeUrl: string, token: string, name: string, sealKeyFile: string | undefined, stateDir: string) {
  const identityKey = await generateIdentityKey();
  // A site's connectors share one seal key: the first generates it, the others are given a copy.
  const sealKey = sealKeyFile ? ((await readSecretJson(sealKeyFile)) as JWK) : await generateSealKey();
  const res = await fetch(new URL("/api/connectors/enroll", edgeUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token, name, identityKey: publicJwk(identityKey), sealKey: publicJwk(sealKey) }),
  });
  if (!res.ok) throw new Error(`enrollment refused (HTTP ${res.status}): the token may be used or expired`);
  const enrolled = EnrollResponse.parse(await res.json());
  if (enrolled.sealKey.x !== sealKey.x || enrolled.sealKey.y !== sealKey.y) {
    throw new Error(
      "this site already has a seal key: enroll with --seal-key <file> copied from the site's first connector",
    );
  }
  await saveState(stateDir, {
    edgeUrl,
    connectorId: enrolled.connectorId,
    siteId: enrolled.siteId,
    identityKey,
    sealKey,
    edgeKey: enrolled.edgeKey,
  });
  log("enroll.done", { connector: enrolled.connectorId, site: enrolled.siteId, state: stateDir });
}

async function seal(stateDir: string, kind: CredentialKind | undefined): Promise<void> {
  const state = await loadState(stateDir);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  // Refused here, with the reason, rather than sealed and found out by the first session that uses it.
  const problem = sealingProblem(secret, kind);
  if (problem) throw new Error(`not sealed: ${problem}`);
  process.stdout.write(`${await sealSecret(publicJwk(state.sealKey), secret)}\n`);
}

/** Writes a file only this user reads, never over an existing one (a key must not be clobbered). */
async function writeNew(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600, flag: "wx" });
}

class UsageError extends Error {}

/** Running as the connector package's bundle (dist/psm-connector.mjs), not as the TypeScript source through tsx. */
const BUNDLED = !import.meta.url.endsWith(".ts");

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`psm-connector: ${err.message}\n${err instanceof UsageError ? `${USAGE}\n` : ""}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
