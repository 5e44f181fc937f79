// The SSH target every client of the benchmark logs in to: the stack's own private sshd and its
// per-stack local account (a fresh user and password per startStack(), so concurrent runs on the
// machine never change each other's passwords), registered in the stack as the server `target`
// with a sealed password credential. Ours, direct ssh2 and WeTTY all use the same account and sshd.
import type { Sshd } from "../../scripts/stack/sshd.ts";
import { type Stack, startStack } from "../../test/support/stack.ts";
import { processes } from "./system.ts";

export type Target = {
  host: string;
  port: number;
  user: string;
  password: string;
  hostKeyFingerprint: string;
  serverId: string;
  credentialId: string;
  sshd: Sshd;
};

export function stackTarget(stack: Stack): Target {
  return {
    host: "127.0.0.1",
    port: stack.sshd.port,
    user: stack.targetUser,
    password: stack.canary,
    hostKeyFingerprint: stack.sshd.hostKeyFingerprint,
    serverId: stack.serverId,
    credentialId: stack.credentialId,
    sshd: stack.sshd,
  };
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
