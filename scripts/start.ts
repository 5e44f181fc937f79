// `npm start`: the whole product on one machine. Starts the edge (wrangler dev, local state), a
// demo SSH target, and an enrolled connector; on first run creates the admin, the site, the demo
// server and its sealed credential. Everything it writes lives under .psm/ in this folder.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { loadState, saveState } from "../connector/state.ts";
import { EdgeClient } from "./stack/admin-client.ts";
import { enrollConnector, runConnector } from "./stack/connector.ts";
import { type EdgeSecrets, generateEdgeSecrets, ROOT, startEdge } from "./stack/edge.ts";
import { startEmbeddedTarget } from "./stack/embedded-target.ts";
import { sshdInstalled, startSshd } from "./stack/sshd.ts";
import { randomBytes } from "node:crypto";

const STATE = join(ROOT, ".psm");
const DEMO = join(STATE, "demo");
const PORT = Number(process.env.PORT ?? 8787);

type Setup = { siteId: string; serverId: string; credentialId: string; targetPort: number; adminUser: string };

async function readJson<T>(path: string): Promise<T | undefined> {
  return existsSync(path) ? (JSON.parse(await readFile(path, "utf8")) as T) : undefined;
}

async function main() {
  mkdirSync(DEMO, { recursive: true, mode: 0o700 });
  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    // Ctrl-C reaches us twice (from the terminal and relayed by tsx/npm): stop once, ignore the rest.
    stopping ??= (async () => {
      for (const stop of [...stops].reverse()) await stop().catch(() => {});
    })();
    return stopping;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => void stopAll().then(() => process.exit(0)));
  }

  try {
    if (!existsSync(join(ROOT, "web", "dist", "index.html"))) {
      console.log("building the web app…");
      execFileSync("npm", ["run", "-s", "build:web"], { cwd: ROOT, stdio: "inherit" });
    }
    const secretsFile = join(STATE, "edge-secrets.json");
    let secrets = await readJson<EdgeSecrets>(secretsFile);
    if (!secrets) {
      secrets = await generateEdgeSecrets();
      await writeFile(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    }
    console.log("starting the edge (wrangler dev)…");
    const edge = await startEdge({ stateDir: join(STATE, "edge"), secrets, port: PORT });
    stops.push(edge.stop);
    const url = `http://localhost:${PORT}`;

    // The demo credential is an SSH key for the current OS user, accepted only by the demo target.
    const user = userInfo().username;
    const keyFile = join(DEMO, "id_ed25519");
    if (!existsSync(keyFile))
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "psm-demo", "-f", keyFile]);
    const publicKey = (await readFile(`${keyFile}.pub`, "utf8")).trim();
    await writeFile(join(DEMO, "authorized_keys"), `${publicKey}\n`, { mode: 0o600 });

    const setupFile = join(STATE, "setup.json");
    const previous = await readJson<Setup>(setupFile);
    const targetPort = previous?.targetPort;
    const useSshd = process.env.PSM_DEMO_TARGET !== "embedded" && sshdInstalled();
    const target = useSshd
      ? await startSshd({
          dir: join(DEMO, "sshd"),
          passwordAuthentication: false,
          authorizedKeysFile: join(DEMO, "authorized_keys"),
          allowUsers: [user],
          port: targetPort,
        })
      : await startEmbeddedTarget({
          dir: join(DEMO, "embedded"),
          authorizedKey: publicKey,
          username: user,
          port: targetPort,
        });
    stops.push(target.stop);
    console.log(`demo SSH target (${useSshd ? "OpenSSH sshd" : "embedded"}) on 127.0.0.1:${target.port}`);

    let password: string | undefined;
    let setup = previous;
    if (!setup) {
      const admin = new EdgeClient(edge.url);
      const adminUser = "admin";
      password = process.env.PSM_ADMIN_PASSWORD ?? randomBytes(12).toString("base64url");
      await admin.bootstrap(secrets.BOOTSTRAP_TOKEN, adminUser, password);
      await admin.login(adminUser, password);
      const site = await admin.createSite("local");
      const { token } = await admin.enrollmentToken(site.id);
      await enrollConnector(edge.url, token, join(STATE, "connector"), "local-connector");
      // A zone for the demo, granted to an "admins" group: even admins reach servers through grants.
      const zone = await admin.createZone("demo", site.id);
      const me = await admin.request<{ id: string }>("GET", "/api/me");
      const admins = await admin.createGroup("admins", [me.id]);
      await admin.grant(admins.id, zone.id);
      const server = await admin.createServer({
        name: "demo",
        host: "127.0.0.1",
        port: target.port,
        zoneId: zone.id,
        hostKey: target.hostKeyFingerprint,
        tags: ["demo"],
      });
      const cred = await admin.createCredential({
        name: "demo key",
        username: user,
        kind: "private_key",
        zoneId: zone.id,
        secret: await readFile(keyFile, "utf8"),
        serverIds: [server.id],
      });
      setup = { siteId: site.id, serverId: server.id, credentialId: cred.id, targetPort: target.port, adminUser };
      await writeFile(setupFile, JSON.stringify(setup, null, 2), { mode: 0o600 });
    }
    // Started before on another PORT: the same edge state answers here now, so the connector dials here.
    const connectorDir = join(STATE, "connector");
    const enrolled = await loadState(connectorDir);
    if (enrolled.edgeUrl !== edge.url) await saveState(connectorDir, { ...enrolled, edgeUrl: edge.url });
    const connector = await runConnector(connectorDir);
    stops.push(connector.stop);

    console.log(`
  Privileged Session Manager is running.

    Open      ${url}
    Login     ${setup.adminUser}
    Password  ${password ?? (process.env.PSM_ADMIN_PASSWORD ? "(PSM_ADMIN_PASSWORD)" : "(printed on first start; delete .psm/ to start over)")}

  Then open "demo" and connect: a shell as ${user} on this machine, through the edge and the connector.
  Ctrl-C stops everything.
`);
  } catch (err) {
    console.error(`npm start failed: ${(err as Error).message}`);
    await stopAll();
    process.exit(1);
  }
}

void main();
