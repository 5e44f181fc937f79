// Keystroke echo with command control on (issue 19: "command control adds no measurable echo latency for keystrokes
// that are not Enter"). A second server record for the same sshd and account sits in a zone whose policy carries 16
// command rules (names and regular expressions, deny and alert), so the connector runs its headless terminal and
// guard on that session. Off and on are measured interleaved, in rounds, through the same client and stack, so
// drift in the machine's load falls on both.
import type { Stack } from "../../test/support/stack.ts";
import { openOurs } from "./clients.ts";
import { type EchoResult, measureEcho } from "./pipe.ts";
import type { Target } from "./target.ts";

/** Typical of a real policy: names with first arguments, and a few regular expressions. */
const RULES = [
  { kind: "commands", names: ["reboot", "shutdown", "halt", "poweroff"], action: "deny", message: "Change control." },
  { kind: "commands", names: ["systemctl stop", "systemctl disable", "systemctl mask"], action: "deny", message: "" },
  { kind: "commands", names: ["iptables", "nft", "ufw"], action: "alert", message: "" },
  { kind: "commands", names: ["useradd", "userdel", "usermod", "passwd"], action: "alert", message: "" },
  { kind: "commands", names: ["shred", "mkfs", "dd", "wipefs"], action: "deny", message: "" },
  { kind: "commands", names: ["crontab", "at"], action: "alert", message: "" },
  { kind: "commands", names: ["nc", "ncat", "socat"], action: "alert", message: "" },
  { kind: "commands", names: ["curl", "wget"], action: "alert", message: "" },
  { kind: "regex", pattern: "rm\\s+-[a-z]*r[a-z]*f", action: "deny", message: "" },
  { kind: "regex", pattern: "curl .*\\| *(ba)?sh", action: "deny", message: "" },
  { kind: "regex", pattern: ">\\s*/etc/(passwd|shadow|sudoers)", action: "deny", message: "" },
  { kind: "regex", pattern: "chmod\\s+777", action: "alert", message: "" },
  { kind: "regex", pattern: "base64\\s+-d", action: "alert", message: "" },
  { kind: "regex", pattern: "/dev/tcp/", action: "deny", message: "" },
  { kind: "regex", pattern: "history\\s+-c", action: "alert", message: "" },
  { kind: "regex", pattern: "ssh-keygen", action: "alert", message: "" },
];
export const GUARD_RULES = RULES.length;

export type GuardedEcho = { off: EchoResult; on: EchoResult; rounds: number; rules: number };

/** The same sshd account as `target`, reached through a zone whose policy has the rules above. */
export async function guardedTarget(stack: Stack, target: Target): Promise<Target> {
  const { admin } = stack;
  const zone = await admin.createZone("bench guarded", stack.siteId);
  const policy = await admin.request<{ id: string }>("POST", "/api/policies", {
    name: "bench command control",
    commandRules: RULES,
  });
  await admin.request("PATCH", `/api/zones/${zone.id}`, { policyId: policy.id });
  const server = await admin.createServer({
    name: "target-guarded",
    host: target.host,
    port: target.port,
    zoneId: zone.id,
    hostKey: target.hostKeyFingerprint,
  });
  const credential = await admin.createCredential({
    name: "bench guarded password",
    username: target.user,
    kind: "password",
    zoneId: zone.id,
    secret: target.password,
    serverIds: [server.id],
  });
  await admin.grant(stack.operatorsGroupId, zone.id);
  return { ...target, serverId: server.id, credentialId: credential.id };
}

/** `rounds` × (off, then on), `keystrokes` per side in all. */
export async function guardedEcho(
  stack: Stack,
  plain: Target,
  guarded: Target,
  opts: { keystrokes: number; warmup: number; rounds: number; maxMs: number },
): Promise<GuardedEcho> {
  const per = Math.ceil(opts.keystrokes / opts.rounds);
  const off: EchoResult = { samples: [], timedOut: false, elapsedMs: 0 };
  const on: EchoResult = { samples: [], timedOut: false, elapsedMs: 0 };
  for (let round = 0; round < opts.rounds; round++)
    for (const [target, into] of [
      [plain, off],
      [guarded, on],
    ] as const) {
      const pipe = await openOurs(stack, target);
      try {
        const r = await measureEcho(pipe, per, opts.warmup, opts.maxMs / (2 * opts.rounds));
        into.samples.push(...r.samples);
        into.timedOut ||= r.timedOut;
        into.elapsedMs += r.elapsedMs;
      } finally {
        await pipe.close();
      }
    }
  return { off, on, rounds: opts.rounds, rules: GUARD_RULES };
}
