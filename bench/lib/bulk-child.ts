// A second stack for one figure of `npm run bench`: bulk output through the product built from a
// patched snapshot (lib/patch.ts), measured when the parent says so. Started early, in parallel with
// the main stack, so the run pays for its start-up only once. Speaks lines on stdin/stdout:
// "ready" once a session is open, then on each "go" measures and prints the figures as one JSON line.
import { createInterface } from "node:readline";
import { openOurs } from "./clients.ts";
import { cpuDuring, cpuPerMB } from "./cpu.ts";
import { measureBulk, warmUpBulk } from "./pipe.ts";
import { groupMembers } from "./system.ts";
import { sleep } from "./stats.ts";
import { stackTarget, startStackRetrying } from "./target.ts";

const bytes = Number(process.env.BENCH_BULK_BYTES ?? 100_000_000);

async function main(): Promise<void> {
  const stack = await startStackRetrying();
  // The stack's processes run in their own process groups: stop them when the parent stops us.
  const stop = () => void stack.stop().then(() => process.exit(130));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    const pipe = await openOurs(stack, stackTarget(stack));
    await sleep(300); // the login banner and prompt pass
    await warmUpBulk(pipe, 30_000);
    process.stdout.write("ready\n");
    // One measurement per "go", on the same session, until stdin closes.
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() !== "go") continue;
      const { value: bulk, shares } = await cpuDuring(
        {
          workerd: () => groupMembers(stack.edge.proc.child.pid, "workerd"),
          connector: () => [stack.connector.child.pid!],
        },
        () => measureBulk(pipe, bytes, 90_000),
      );
      const cpu = cpuPerMB(shares, bulk.bytes);
      process.stdout.write(`${JSON.stringify({ bytes: bulk.bytes, ms: bulk.ms, cpu })}\n`);
    }
    await pipe.close();
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
