// `npm run bench:recording`: the size of a recording per minute of a scripted interactive session
// (the target: at most 10 KB/min). Starts the stack (wrangler dev with local R2, a private
// sshd, the connector), runs an admin-like session typed at human speed with keystrokes recorded,
// then reads the stored size (gzip chunks + signed manifest) from the recordings API.
// BENCH_RECORDING_SECONDS sets the session length (default 120 s).
import type { RecordingSummary } from "../protocol/index.ts";
import { missingPeers, startStack } from "../test/support/stack.ts";
import { TerminalClient } from "../test/support/terminal-client.ts";

const SECONDS = Number(process.env.BENCH_RECORDING_SECONDS ?? 120);
/** ~8 keystrokes per second, a brisk typist. */
const KEY_MS = 125;
const COMMANDS = [
  "uptime",
  "id",
  "df -h",
  "free -m",
  "ls -la /etc | head -25",
  "cat /etc/os-release",
  "ps aux | head -15",
  "grep -c processor /proc/cpuinfo",
  "tail -n 20 /etc/services",
  "uname -a",
  "env | sort | head -20",
  "ls /usr/bin | wc -l",
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const missing = missingPeers();
  if (missing) throw new Error(`cannot run: ${missing}`);
  const stack = await startStack();
  try {
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "bench: keystrokes recorded",
      recordKeystrokes: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < SECONDS * 1000) {
      const cmd = COMMANDS[n++ % COMMANDS.length]!;
      for (const ch of `${cmd}\n`) {
        client.type(ch);
        await sleep(KEY_MS);
      }
      await sleep(2500); // reading the output
    }
    client.type("exit\n");
    await client.waitForEnd(10_000);
    client.close();
    const minutes = (Date.now() - started) / 60_000;
    let rec: RecordingSummary | undefined;
    for (let i = 0; i < 100 && rec?.status !== "stored"; i++) {
      rec = (await stack.admin.request<RecordingSummary[]>("GET", "/api/recordings")).find((r) => r.sessionId === id);
      await sleep(100);
    }
    if (!rec) throw new Error("recording not found");
    const manifest = await (
      await fetch(`${stack.edge.url}/api/recordings/${rec.id}/manifest`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
    const cast = await (
      await fetch(`${stack.edge.url}/api/recordings/${rec.id}/cast`, { headers: { cookie: stack.admin.sessionCookie } })
    ).text();
    const stored = rec.bytes + manifest.length;
    console.log(
      [
        `session: ${minutes.toFixed(2)} min, ${n} commands typed at ${1000 / KEY_MS} keys/s, keystrokes recorded`,
        `asciicast text: ${cast.length} B (${(cast.length / 1024 / minutes).toFixed(1)} KiB/min)`,
        `stored: ${rec.chunks} gzip chunks ${rec.bytes} B + manifest ${manifest.length} B = ${stored} B`,
        `=> ${(stored / 1000 / minutes).toFixed(2)} KB/min (${(stored / 1024 / minutes).toFixed(2)} KiB/min)`,
      ].join("\n"),
    );
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
