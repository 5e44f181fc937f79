// A private OpenSSH sshd on loopback: its own config, host key, pid and log file in a folder of
// ours. Nothing outside that folder changes (as root, sshd needs /run/sshd to exist).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hostKeyFingerprint } from "../../connector/host-key.ts";
import { freePort, type Proc, startProcess, waitFor, waitForPort } from "./process.ts";

export const SSHD = "/usr/sbin/sshd";
export const sshdInstalled = () => existsSync(SSHD);

export type Sshd = {
  port: number;
  hostKeyFingerprint: string;
  logFile: string;
  log: () => Promise<string>;
  proc: Proc;
  stop: () => Promise<void>;
};

export async function startSshd(opts: {
  dir: string;
  passwordAuthentication: boolean;
  authorizedKeysFile?: string;
  allowUsers?: string[];
  port?: number;
  /** Run inside this network namespace, listening on `listenAddress` there (tests of isolation). */
  netns?: { name: string; listenAddress: string };
  /** Offer the SFTP subsystem (OpenSSH's in-process internal-sftp), as most real targets do. */
  sftp?: boolean;
}): Promise<Sshd> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const hostKey = join(opts.dir, "ssh_host_ed25519_key");
  if (!existsSync(hostKey)) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const blob = Buffer.from((await readFile(`${hostKey}.pub`, "utf8")).split(" ")[1]!, "base64");
  const port = opts.port ?? (await freePort());
  const logFile = join(opts.dir, "sshd.log");
  const config = [
    `Port ${port}`,
    `ListenAddress ${opts.netns?.listenAddress ?? "127.0.0.1"}`,
    `HostKey ${hostKey}`,
    `PidFile ${join(opts.dir, "sshd.pid")}`,
    "UsePAM no",
    `PasswordAuthentication ${opts.passwordAuthentication ? "yes" : "no"}`,
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    `AuthorizedKeysFile ${opts.authorizedKeysFile ?? "none"}`,
    "PermitRootLogin prohibit-password",
    "StrictModes no",
    "LogLevel VERBOSE",
    "PrintMotd no",
    "MaxStartups 200:30:400",
    ...(opts.allowUsers ? [`AllowUsers ${opts.allowUsers.join(" ")}`] : []),
    ...(opts.sftp ? ["Subsystem sftp internal-sftp"] : []),
  ].join("\n");
  const configFile = join(opts.dir, "sshd_config");
  await writeFile(configFile, `${config}\n`);
  if (process.getuid?.() === 0 && !existsSync("/run/sshd")) mkdirSync("/run/sshd", { mode: 0o755 });
  const sshdArgs = ["-D", "-f", configFile, "-E", logFile];
  const proc = opts.netns
    ? startProcess("ip", ["netns", "exec", opts.netns.name, SSHD, ...sshdArgs], { name: "sshd" })
    : startProcess(SSHD, sshdArgs, { name: "sshd" });
  const log = () => readFile(logFile, "utf8").catch(() => "");
  if (opts.netns) {
    // Not reachable from here by design: wait for sshd to say it listens.
    await waitFor("sshd in its namespace", async () => {
      if (proc.child.exitCode !== null) throw new Error(`sshd exited: ${proc.output()} ${await log()}`);
      return (await log()).includes("Server listening on") ? true : undefined;
    });
  } else await waitForPort("sshd", proc, port);
  return {
    port,
    hostKeyFingerprint: hostKeyFingerprint(blob),
    logFile,
    log,
    proc,
    stop: () => proc.stop(),
  };
}
