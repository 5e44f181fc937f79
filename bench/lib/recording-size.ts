// The size of a recording per minute of a scripted interactive session (the target: at most
// 10 KB/min): an admin-like session typed at human speed with keystrokes recorded, on a stack that
// is already running; the stored size (gzip chunks + signed manifest) is read from the recordings API.
import type { RecordingSummary } from "../../protocol/index.ts";
import type { Stack } from "../../test/support/stack.ts";
import { TerminalClient } from "../../test/support/terminal-client.ts";

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

export type RecordingSize = {
  minutes: number;
  commands: number;
  keysPerSecond: number;
  castBytes: number;
  chunks: number;
  chunkBytes: number;
  manifestBytes: number;
  /** Stored bytes (chunks + manifest) per minute, in KB (1000 B). */
  kbPerMinute: number;
};

/** Runs the scripted session for `seconds` under a policy that records keystrokes; measures what is stored. */
export async function measureRecordingSize(stack: Stack, seconds: number): Promise<RecordingSize> {
  const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
    name: "bench: keystrokes recorded",
    recordKeystrokes: true,
  });
  await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
  const opening = Date.now();
  const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
  // Found by its start time: other sessions (the scale stage's) may be starting meanwhile, by the hundred.
  const window = `from=${opening - 1000}&to=${Date.now() + 1000}`;
  const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
  await client.waitForState("connected");
  const started = Date.now();
  let n = 0;
  while (Date.now() - started < seconds * 1000) {
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
  // The connector uploads the last chunk after the session ends (later while the scale stage keeps it busy).
  for (let i = 0; i < 600 && rec?.status !== "stored"; i++) {
    rec = (await stack.admin.request<RecordingSummary[]>("GET", `/api/recordings?${window}`)).find(
      (r) => r.sessionId === id,
    );
    await sleep(100);
  }
  if (rec?.status !== "stored") throw new Error(`recording not stored within 60 s (${rec?.status ?? "not found"})`);
  const get = async (path: string) =>
    (
      await fetch(`${stack.edge.url}/api/recordings/${rec.id}/${path}`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
  const [manifest, cast] = await Promise.all([get("manifest"), get("cast")]);
  return {
    minutes,
    commands: n,
    keysPerSecond: 1000 / KEY_MS,
    castBytes: cast.length,
    chunks: rec.chunks,
    chunkBytes: rec.bytes,
    manifestBytes: manifest.length,
    kbPerMinute: (rec.bytes + manifest.length) / 1000 / minutes,
  };
}
