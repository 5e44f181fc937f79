// `npm run bench:recording`: the size of a recording per minute of a scripted interactive session,
// on its own stack (wrangler dev with local R2, a private sshd, the connector). `npm run bench`
// measures the same in its run. BENCH_RECORDING_SECONDS sets the session length (default 120 s).
import { missingPeers, startStack } from "../test/support/stack.ts";
import { measureRecordingSize } from "./lib/recording-size.ts";

const SECONDS = Number(process.env.BENCH_RECORDING_SECONDS ?? 120);

async function main(): Promise<void> {
  const missing = missingPeers();
  if (missing) throw new Error(`cannot run: ${missing}`);
  const stack = await startStack();
  try {
    const r = await measureRecordingSize(stack, SECONDS);
    const stored = r.chunkBytes + r.manifestBytes;
    console.log(
      [
        `session: ${r.minutes.toFixed(2)} min, ${r.commands} commands typed at ${r.keysPerSecond} keys/s, keystrokes recorded`,
        `asciicast text: ${r.castBytes} B (${(r.castBytes / 1024 / r.minutes).toFixed(1)} KiB/min)`,
        `stored: ${r.chunks} gzip chunks ${r.chunkBytes} B + manifest ${r.manifestBytes} B = ${stored} B`,
        `=> ${r.kbPerMinute.toFixed(2)} KB/min (${((r.kbPerMinute * 1000) / 1024).toFixed(2)} KiB/min)`,
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
