// psm-connector: the on-prem agent. `enroll` once with a one-time token, then `run` (as a service).
// `seal` seals a secret to the site's key locally, for admins who add credentials from a shell.
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import type { JWK } from "jose";
import { EnrollResponse } from "../protocol/index.ts";
import { rdpUnavailable } from "./rdp/engine.ts";
import { AGENT, ControlLink } from "./control.ts";
import { GrantRejected, verifyGrant } from "./grant.ts";
import { generateIdentityKey, generateSealKey, publicJwk } from "./keys.ts";
import { log } from "./log.ts";
import { sealSecret } from "./seal.ts";
import { TargetSession } from "./session.ts";
import { loadState, saveState } from "./state.ts";

const USAGE = `usage:
  psm-connector enroll --url <edge url> --token <enrollment token> [--name <name>] [--seal-key <file>] [--state <dir>]
  psm-connector run [--state <dir>]
  psm-connector seal [--state <dir>]      (reads the secret from stdin, prints the sealed blob)
state dir defaults to $PSM_CONNECTOR_STATE or ./.psm/connector`;

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
    },
  });
  const stateDir = values.state ?? process.env.PSM_CONNECTOR_STATE ?? ".psm/connector";
  switch (command) {
    case "enroll":
      if (!values.url || !values.token) throw new UsageError("enroll needs --url and --token");
      return enroll(values.url, values.token, values.name ?? hostname(), values["seal-key"], stateDir);
    case "run":
      return run(stateDir);
    case "seal":
      return seal(stateDir);
    default:
      throw new UsageError(command ? `unknown command ${command}` : "no command");
  }
}

async function enroll(edgeUrl: string, token: string, name: string, sealKeyFile: string | undefined, stateDir: string) {
  const identityKey = await generateIdentityKey();
  // A site's connectors share one seal key: the first generates it, the others are given a copy.
  const sealKey = sealKeyFile ? (JSON.parse(await readFile(sealKeyFile, "utf8")) as JWK) : await generateSealKey();
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

async function run(stateDir: string): Promise<void> {
  const state = await loadState(stateDir);
  const sessions = new Map<string, TargetSession>();
  const control = new ControlLink(
    state,
    (open) => {
      if (sessions.has(open.sessionId)) return;
      verifyGrant(open.grant, { edgeKey: state.edgeKey, siteId: state.siteId, sessionId: open.sessionId })
        .then((claims) => {
          const session = new TargetSession(state, open.sessionId, claims, log, (id) => sessions.delete(id));
          sessions.set(open.sessionId, session);
          log("session.open", { session: open.sessionId, user: claims.usr.name, host: claims.tgt.host });
          return session.start();
        })
        .catch((err: Error) => {
          log("session.rejected", { session: open.sessionId, error: err.message });
          control.send({
            type: "rejected",
            sessionId: open.sessionId,
            reason: err instanceof GrantRejected ? "grant_rejected" : "internal_error",
          });
        });
    },
    log,
  );
  log("connector.start", { agent: AGENT, connector: state.connectorId, edge: state.edgeUrl });
  const rdpMissing = rdpUnavailable();
  log("connector.rdp", rdpMissing ? { available: false, reason: rdpMissing } : { available: true });
  control.start();
  const shutdown = () => {
    log("connector.stop", { sessions: sessions.size });
    for (const session of sessions.values()) session.end("connector_lost");
    control.stop();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

async function seal(stateDir: string): Promise<void> {
  const state = await loadState(stateDir);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const secret = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  process.stdout.write(`${await sealSecret(publicJwk(state.sealKey), secret)}\n`);
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`psm-connector: ${err.message}\n${err instanceof UsageError ? `${USAGE}\n` : ""}`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
