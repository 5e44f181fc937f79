// The benchmark's own SSH target: a local user `psm_bench` with a password of this run, served by a
// private sshd of its own, registered in the stack as the server `bench-target` with a sealed
// password credential in the stack's zone. Ours, direct ssh2 and WeTTY all log in to it.
//
// Why not the stack's `psm_e2e`: every `startStack()` (the e2e tests, other runs on this machine)
// resets psm_e2e's password with chpasswd, so a test run started during the benchmark made logins
// fail half-way (auth_failed). A user nobody else touches keeps the run self-contained.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";
import { type Stack, startStack } from "../../test/support/stack.ts";
import { processes } from "./system.ts";

export const BENCH_USER = "psm_bench";

export type Target = {
  host: string;
  port: number;
  user: string;
  password: string;
  hostKeyFingerprint: string;
  serverId: string;
  credentialId: string;
  sshd: Sshd;
  stop: () => Promise<void>;
};

function ensureUser(password: string): void {
  try {
    execFileSync("id", [BENCH_USER], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["-m", "-s", "/bin/bash", BENCH_USER]);
  }
  execFileSync("chpasswd", { input: `${BENCH_USER}:${password}\n` });
}

export async function startTarget(stack: Stack): Promise<Target> {
  const password = `Bench-${randomBytes(12).toString("hex")}`;
  ensureUser(password);
  const sshd = await startSshd({
    dir: join(stack.dir, "bench-sshd"),
    passwordAuthentication: true,
    allowUsers: [BENCH_USER],
  });
  try {
    const server = await stack.admin.createServer({
      name: "bench-target",
      host: "127.0.0.1",
      port: sshd.port,
      zoneId: stack.zoneId,
      hostKey: sshd.hostKeyFingerprint,
    });
    const cred = await stack.admin.createCredential({
      name: "bench password",
      username: BENCH_USER,
      kind: "password",
      zoneId: stack.zoneId,
      secret: password,
      serverIds: [server.id],
    });
    return {
      host: "127.0.0.1",
      port: sshd.port,
      user: BENCH_USER,
      password,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
      serverId: server.id,
      credentialId: cred.id,
      sshd,
      stop: () => sshd.stop(),
    };
  } catch (err) {
    await sshd.stop();
    throw err;
  }
}

/**
 * startStack() with one retry. On this shared machine another run can take the port startStack
 * picked before wrangler binds it ("Address already in use"); startStack then leaves the sshd it
 * had started running, so that child of ours is stopped before the second attempt.
 */
export async function startStackRetrying(): Promise<Stack> {
  try {
    return await startStack();
  } catch (err) {
    console.error(`bench: startStack failed (${(err as Error).message.split("\n")[0]}); retrying once`);
    for (const p of processes()) {
      if (p.ppid === process.pid && p.comm === "sshd") {
        try {
          process.kill(-p.pid, "SIGTERM");
        } catch {}
      }
    }
    return startStack();
  }
}
