// The full stack for end-to-end tests, all real: wrangler dev (edge), a private OpenSSH sshd on
// loopback with a real local user whose password is a unique canary, and an enrolled connector process.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import { enrollConnector, runConnector } from "../../scripts/stack/connector.ts";
import { type Edge, generateEdgeSecrets, startEdge } from "../../scripts/stack/edge.ts";
import { freePort, type Proc } from "../../scripts/stack/process.ts";
import { type Sshd, sshdInstalled, startSshd } from "../../scripts/stack/sshd.ts";
import { relayPort } from "./netns.ts";

/** Every stack gets its own target account, so concurrent runs never change each other's password. */
export const TARGET_USER_PREFIX = "psm_e2e_";
export const isRoot = () => process.getuid?.() === 0;

/** Why real-peer tests cannot run here, or undefined when they can. Under CI=true they must. */
export function missingPeers(): string | undefined {
  if (!sshdInstalled()) return "OpenSSH sshd is not installed (apt-get install openssh-server)";
  if (!isRoot()) return "creating the sshd test user needs root";
  return undefined;
}

/** A unique canary password: if it shows up in any browser-bound byte or log, a secret leaked. */
export const newCanary = () => `Canary-${randomBytes(12).toString("hex")}`;

/** Creates a fresh local account with the given password; returns its name. */
export function createTargetUser(password: string): string {
  const name = `${TARGET_USER_PREFIX}${randomBytes(4).toString("hex")}`;
  execFileSync("useradd", ["-m", "-s", "/bin/bash", name]);
  execFileSync("chpasswd", { input: `${name}:${password}\n` });
  return name;
}

export function removeTargetUser(name: string): void {
  try {
    execFileSync("pkill", ["-KILL", "-u", name], { stdio: "ignore" });
  } catch {}
  try {
    execFileSync("userdel", ["-r", name], { stdio: "ignore" });
  } catch {}
}

export type Stack = {
  dir: string;
  /** The target account on the sshd; its password is the canary. */
  targetUser: string;
  edge: Edge;
  sshd: Sshd;
  connector: Proc;
  connectorState: string;
  admin: EdgeClient;
  user: EdgeClient;
  canary: string;
  siteId: string;
  zoneId: string;
  operatorsGroupId: string;
  serverId: string;
  credentialId: string;
  /** Everything the edge and the connector printed so far. */
  logs: () => Promise<string>;
  restartConnector: () => Promise<void>;
  /** Stops the edge and starts it again on the same port and state, with these secrets or vars changed. */
  restartEdge: (vars: Record<string, string>) => Promise<void>;
  stop: () => Promise<void>;
};

export async function startStack(
  opts: {
    vars?: Record<string, string>;
    testScheduled?: boolean;
    /** Run the edge in this network namespace, reached from here through a relayed loopback port. */
    edgeNetns?: string;
    /** A fixed port for the edge (an IdP redirect URI names it); default: a free one. */
    port?: number;
    /** Extra environment for the connector (e.g. PSM_RECORDING_CHUNK_MS). */
    connectorEnv?: Record<string, string>;
    /** Flags for the connector's node (bench: `--cpu-prof`). */
    connectorNodeFlags?: string[];
    /** The sshd offers SFTP (internal-sftp), for file transfer. */
    sftp?: boolean;
  } = {},
): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), "psm-e2e-"));
  const canary = newCanary();
  const targetUser = createTargetUser(canary);
  // What has started so far, stopped if the stack cannot finish starting: a failed start leaves no
  // wrangler, workerd, sshd or connector behind to load the machine for the tests after it.
  const started: Array<{ stop: () => Promise<void> }> = [];
  const stopStarted = async () => {
    await Promise.allSettled(started.map((proc) => proc.stop()));
    removeTargetUser(targetUser);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    return await startStackIn(dir, canary, targetUser, started, stopStarted, opts);
  } catch (err) {
    await stopStarted();
    throw err;
  }
}

async function startStackIn(
  dir: string,
  canary: string,
  targetUser: string,
  started: Array<{ stop: () => Promise<void> }>,
  stopStarted: () => Promise<void>,
  opts: Parameters<typeof startStack>[0] & {},
): Promise<Stack> {
  const secrets = await generateEdgeSecrets();
  const { edgeNetns, connectorEnv, connectorNodeFlags, sftp, ...edgeOpts } = opts;
  const edgePort = edgeNetns ? await freePort() : undefined;
  const edgeRelay = edgeNetns ? await relayPort({ port: edgePort!, to: edgeNetns, dir }) : undefined;
  if (edgeRelay) started.push(edgeRelay);
  const [edgeStart, sshdStart] = await Promise.allSettled([
    startEdge({ stateDir: join(dir, "edge"), secrets, ...edgeOpts, port: edgePort ?? edgeOpts.port, netns: edgeNetns }),
    startSshd({ dir: join(dir, "sshd"), passwordAuthentication: true, allowUsers: [targetUser], sftp }),
  ]);
  // The edge and the connector are replaced on restart: the stack's stop reads the current ones.
  let edge: Edge;
  if (edgeStart.status === "fulfilled") started.push({ stop: () => edge.stop() });
  if (sshdStart.status === "fulfilled") started.push(sshdStart.value);
  if (edgeStart.status === "rejected") throw edgeStart.reason;
  if (sshdStart.status === "rejected") throw sshdStart.reason;
  edge = edgeStart.value;
  const sshd = sshdStart.value;
  const admin = new EdgeClient(edge.url);
  await admin.bootstrap(secrets.BOOTSTRAP_TOKEN, "admin", "admin-password-1");
  await admin.login("admin", "admin-password-1");
  const site = await admin.createSite("e2e");
  const { token } = await admin.enrollmentToken(site.id);
  const connectorState = join(dir, "connector");
  await enrollConnector(edge.url, token, connectorState);
  let connector = await runConnector(connectorState, { env: connectorEnv, nodeFlags: connectorNodeFlags });
  started.push({ stop: () => connector.stop() });
  const zone = await admin.createZone("e2e servers", site.id);
  const server = await admin.createServer({
    name: "target",
    host: "127.0.0.1",
    port: sshd.port,
    zoneId: zone.id,
    hostKey: sshd.hostKeyFingerprint,
  });
  const cred = await admin.createCredential({
    name: "e2e password",
    username: targetUser,
    kind: "password",
    zoneId: zone.id,
    secret: canary,
    serverIds: [server.id],
  });
  const alice = await admin.request<{ id: string }>("POST", "/api/users", {
    username: "alice",
    password: "alice-password-1",
    roles: ["requester"],
  });
  const operators = await admin.createGroup("operators", [alice.id]);
  await admin.grant(operators.id, zone.id);
  const user = new EdgeClient(edge.url);
  await user.login("alice", "alice-password-1");
  const oldOutputs: string[] = [];
  return {
    dir,
    targetUser,
    get edge() {
      return edge;
    },
    sshd,
    get connector() {
      return connector;
    },
    connectorState,
    admin,
    user,
    canary,
    siteId: site.id,
    zoneId: zone.id,
    operatorsGroupId: operators.id,
    serverId: server.id,
    credentialId: cred.id,
    logs: async () => [...oldOutputs, edge.proc.output(), connector.output(), await sshd.log()].join("\n"),
    restartEdge: async (vars) => {
      const port = Number(new URL(edge.url).port);
      await edge.stop();
      oldOutputs.push(edge.proc.output());
      edge = await startEdge({
        stateDir: join(dir, "edge"),
        secrets,
        ...edgeOpts,
        vars: { ...edgeOpts.vars, ...vars },
        port,
        netns: edgeNetns,
      });
    },
    restartConnector: async () => {
      connector.child.kill("SIGKILL");
      await connector.stop();
      oldOutputs.push(connector.output());
      connector = await runConnector(connectorState, { env: connectorEnv, nodeFlags: connectorNodeFlags });
    },
    stop: stopStarted,
  };
}
