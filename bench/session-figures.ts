// Rough figures for the foundation: session start (create request -> first output byte) and
// keystroke echo through browser-protocol client -> edge -> connector -> sshd and back, with the
// same echo measured over a direct ssh2 connection as the physical baseline. Needs root and sshd.
// Run: npm run bench:figures
import { Client } from "ssh2";
import { hostKeyFingerprint } from "../connector/host-key.ts";
import { startStack } from "../test/support/stack.ts";
import { TerminalClient } from "../test/support/terminal-client.ts";

const STARTS = 20;
const KEYSTROKES = 1000;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

async function echoLatencies(type: (b: string) => void, waitEcho: (count: number) => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    const t0 = performance.now();
    type("x");
    await waitEcho(i + 1);
    samples.push(performance.now() - t0);
  }
  return samples.sort((a, b) => a - b);
}

async function main() {
  const stack = await startStack();
  try {
    const starts: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const t0 = performance.now();
      const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
      const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      await client.until("first byte", () => (client.bytesIn > 0 ? true : undefined));
      starts.push(performance.now() - t0);
      client.close();
    }
    starts.sort((a, b) => a - b);

    // Echo through the product: raw mode so each keystroke echoes exactly one byte.
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("stty raw -echo; cat -u; exit\n");
    await new Promise((r) => setTimeout(r, 500));
    let xs = 0;
    t.onData = (p) => {
      for (const b of p) if (b === 0x78) xs++;
    };
    const ours = await echoLatencies(
      (b) => t.type(b),
      async (n) => void (await t.until("echo", () => (xs >= n ? true : undefined))),
    );
    t.close();

    // The physical baseline: ssh2 straight to the same sshd, same pty, same program.
    const direct = await new Promise<number[]>((resolve, reject) => {
      const ssh = new Client();
      ssh.on("ready", () =>
        ssh.shell({ term: "xterm", cols: 80, rows: 24 }, async (err, stream) => {
          if (err) return reject(err);
          stream.write("stty raw -echo; cat -u; exit\n");
          await new Promise((r) => setTimeout(r, 500));
          let n = 0;
          let wake = () => {};
          stream.on("data", (d: Buffer) => {
            for (const b of d) if (b === 0x78) n++;
            wake();
          });
          const samples = await echoLatencies(
            (b) => stream.write(b),
            (count) =>
              new Promise<void>((r) => {
                if (n >= count) r();
                else wake = () => void (n >= count && r());
              }),
          );
          ssh.end();
          resolve(samples);
        }),
      );
      ssh.on("error", reject);
      ssh.connect({
        host: "127.0.0.1",
        port: stack.sshd.port,
        username: stack.targetUser,
        password: stack.canary,
        hostVerifier: (key: Buffer) => hostKeyFingerprint(key) === stack.sshd.hostKeyFingerprint,
      });
    });

    const rows = [
      [
        "session start (create -> first byte)",
        `p50 ${fmt(pct(starts, 50))}`,
        `p90 ${fmt(pct(starts, 90))}`,
        `n=${STARTS}`,
      ],
      ["keystroke echo, through the PSM", `p50 ${fmt(pct(ours, 50))}`, `p99 ${fmt(pct(ours, 99))}`, `n=${KEYSTROKES}`],
      [
        "keystroke echo, direct ssh2 (baseline)",
        `p50 ${fmt(pct(direct, 50))}`,
        `p99 ${fmt(pct(direct, 99))}`,
        `n=${KEYSTROKES}`,
      ],
    ];
    for (const row of rows) console.log(row.map((c, i) => (i === 0 ? c.padEnd(42) : c.padEnd(18))).join(""));
  } finally {
    await stack.stop();
  }
}

void main();
