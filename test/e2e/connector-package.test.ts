// The connector as a product: `npm run pack:connector`'s tarball, unpacked and installed by its own install.sh
// into a fresh prefix with a fresh system account, as an admin would, then enrolled and run as that account
// inside a network namespace whose only ways out are a veth to the target's namespace (sshd) and a relayed
// port to the edge. Every command runs with a bare environment (no NODE_PATH, NODE_OPTIONS or project PATH)
// from /, so nothing of the project's node_modules (tsx, typescript) can be reached: the package stands alone.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadState } from "../../connector/state.ts";
import { writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { ROOT } from "../../scripts/stack/edge.ts";
import { type Proc, startProcess, waitFor } from "../../scripts/stack/process.ts";
import type { Sshd } from "../../scripts/stack/sshd.ts";
import { type createLink, missingNetns, namespacedTarget } from "../support/netns.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const SSH_PORT = 2222;
/** What a root shell on a fresh host has: no NODE_PATH, no NODE_OPTIONS, no node_modules/.bin. */
const BARE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };
const missingBridge = () =>
  existsSync(join(ROOT, "build", "rdp", "psm-rdp-bridge"))
    ? undefined
    : "the RDP bridge is not built, so the package cannot be (npm run build:rdp; docs/rdp.md)";

describeWithPeers(
  "the connector package, installed with its install.sh",
  missingPeers() ?? missingNetns() ?? missingBridge(),
  () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "connector", "package", "package.json"), "utf8"));
    const account = `psm_pkg_${randomBytes(4).toString("hex")}`;
    let root = "";
    let prefix = "";
    let state = "";
    let installOutput = "";
    let stack: Stack;
    let link: ReturnType<typeof createLink>;
    let sshd: Sshd;
    let target: Awaited<ReturnType<typeof namespacedTarget>>;
    let connector: Proc;
    let edgeUrl = "";

    /** The installed command, as the service account, inside the connector's namespace. */
    const asService = (args: string[]) => [
      "netns",
      "exec",
      link.a,
      "runuser",
      "-u",
      account,
      "--",
      join(prefix, "bin", "psm-connector"),
      ...args,
    ];
    const run = (cmd: string, args: string[]) =>
      execFileSync(cmd, args, { env: BARE_ENV, cwd: "/", encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

    beforeAll(async () => {
      // The tarball, built as a release is.
      execFileSync("npm", ["run", "pack:connector"], { cwd: ROOT, stdio: "ignore" });
      const tarball = join(ROOT, "build", "connector", `psm-connector-${version}.tgz`);
      root = await mkdtemp(join(tmpdir(), "psm-pkg-"));
      chmodSync(root, 0o755); // the service account must reach the prefix inside it
      mkdirSync(join(root, "unpacked"));
      run("tar", ["-xzf", tarball, "-C", join(root, "unpacked")]);
      prefix = join(root, "opt", "psm-connector");
      state = join(root, "state");
      installOutput = run(join(root, "unpacked", "package", "install.sh"), [
        "--prefix",
        prefix,
        "--state",
        state,
        "--user",
        account,
        "--no-systemd",
      ]);

      stack = await startStack();
      // Only the packaged connector may serve this site: the stack's own (tsx, loopback) one stops.
      target = await namespacedTarget(stack, { prefix: "psk", sshPort: SSH_PORT });
      ({ link, sshd } = target);
      edgeUrl = stack.edge.url;
    }, 90_000);

    afterAll(async () => {
      await connector?.stop();
      await target?.stop();
      await stack?.stop();
      try {
        execFileSync("userdel", [account], { stdio: "ignore" });
      } catch {}
      if (root) await rm(root, { recursive: true, force: true });
    });

    it("installs into its prefix with its own account, and nothing of the TypeScript toolchain", () => {
      expect(installOutput).toContain(`installed ${version} in ${prefix}`);
      expect(installOutput).toContain(`created the system account ${account}`);
      expect(run("getent", ["passwd", account])).toMatch(/:\/nonexistent:\/usr\/sbin\/nologin$/m);
      expect(existsSync(join(prefix, "dist", "psm-connector.mjs"))).toBe(true);
      expect(existsSync(join(prefix, "dist", "psm-rdp-bridge"))).toBe(true);
      expect(existsSync(join(prefix, "node_modules", "ssh2"))).toBe(true);
      for (const tool of ["tsx", "typescript", "esbuild"])
        expect(existsSync(join(prefix, "node_modules", tool))).toBe(false);
      const unit = readFileSync(join(prefix, "psm-connector.service.in"), "utf8");
      expect(unit).toMatch(/^ExecStart=@NODE@ @PREFIX@\/dist\/psm-connector\.mjs run --state /m);
      expect(unit).not.toContain("tsx");
      // --no-systemd: no unit written; it says what to do next instead.
      expect(installOutput).not.toContain("/etc/systemd");
      expect(installOutput).toMatch(new RegExp(`^next: runuser -u ${account} -- .* enroll `, "m"));
      expect(run("stat", ["-c", "%U %a", state]).trim()).toBe(`${account} 700`);
    });

    it("refuses to install over a directory that is not a psm-connector install", async () => {
      const foreign = join(root, "foreign");
      mkdirSync(foreign);
      await writeFile(join(foreign, "keep.txt"), "someone else's");
      expect(() =>
        run(join(root, "unpacked", "package", "install.sh"), ["--prefix", foreign, "--user", account, "--no-systemd"]),
      ).toThrow(/not a psm-connector install/);
      expect(await readFile(join(foreign, "keep.txt"), "utf8")).toBe("someone else's");
    });

    it("enrolls and runs as its account in its namespace, and carries an SSH session", async () => {
      const { token } = await stack.admin.enrollmentToken(stack.siteId);
      // The site's seal key from its first connector, handed to the new one as an admin would.
      const sealKeyFile = join(root, "seal.json");
      await writeFile(sealKeyFile, JSON.stringify((await loadState(stack.connectorState)).sealKey), { mode: 0o600 });
      const uid = Number(run("id", ["-u", account]));
      const gid = Number(run("id", ["-g", account]));
      chownSync(sealKeyFile, uid, gid);
      run(
        "ip",
        asService([
          "enroll",
          "--url",
          edgeUrl,
          `--token=${token}`,
          "--state",
          state,
          "--name",
          "packaged",
          "--seal-key",
          sealKeyFile,
        ]),
      );
      await writeConnectorConfig(state, { allowedTargets: [`${link.addrB}/32`], metricsPort: 0 });
      chownSync(join(state, "config.json"), uid, gid);

      connector = startProcess("ip", asService(["run", "--state", state]), {
        name: "packaged",
        cwd: "/",
        env: BARE_ENV,
      });
      await waitFor("the packaged connector to reach its hub", async () => {
        if (connector.child.exitCode !== null) throw new Error(`the packaged connector exited: ${connector.output()}`);
        return connector.output().includes('"control.connected"') ? true : undefined;
      });
      // status from the bundle: linked, and the RDP bridge found beside the bundle.
      await expect
        .poll(() => run("ip", asService(["status", "--state", state])), { timeout: 15_000 })
        .toMatch(/link: connected/);
      expect(run("ip", asService(["status", "--state", state]))).toMatch(/^rdp: available/m);
      expect(connector.output()).toContain(`psm-connector/${version}`);

      const server = await stack.admin.createServer({
        name: "packaged",
        host: link.addrB,
        port: SSH_PORT,
        zoneId: stack.zoneId,
        hostKey: sshd.hostKeyFingerprint,
      });
      const credential = await stack.admin.createCredential({
        name: "packaged password",
        username: stack.targetUser,
        kind: "password",
        zoneId: stack.zoneId,
        secret: stack.canary,
        serverIds: [server.id],
      });
      const { id } = await stack.user.openSession(server.id, credential.id);
      const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      await t.waitForState("connected");
      t.type("echo pkg-$((6*7)) $(whoami)\n");
      await t.waitForOutput(`pkg-42 ${stack.targetUser}`);
      t.type("exit\n");
      expect(await t.waitForEnd()).toBe("user_exit");
      expect(await sshd.log()).toContain(`Connection from ${link.addrA}`);
      expect(connector.output()).toContain('"session.connected"');
      // The session was recorded on the bundle's recorder thread (dist/recorder-worker.mjs), and its chunks went up.
      expect(connector.output()).not.toContain("recording.thread_error");
      const recording = await storedRecording(stack.admin, id, 30_000);
      expect(recording.complete).toBe(true);
      // The process that served it is the bundle under the service account, with no loader of any kind.
      const pid = run("pgrep", ["-u", account, "-f", "psm-connector.mjs run"]).trim().split("\n")[0]!;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      expect(cmdline).toEqual([process.execPath, join(prefix, "dist", "psm-connector.mjs"), "run", "--state", state]);
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      expect(environ).not.toMatch(/NODE_PATH|NODE_OPTIONS|node_modules/);
    });
  },
);
