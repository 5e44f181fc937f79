// Temporary: reproduce the bulk stall (run inside a patched snapshot by stall-driver.ts).
import { startStack } from "../../test/support/stack.ts";
import { openOurs } from "../lib/clients.ts";
import { startTarget } from "../lib/target.ts";
import { measureBulk } from "../lib/pipe.ts";

const stack = await startStack();
const target = await startTarget(stack);
const rounds = Number(process.env.ROUNDS ?? 8);
try {
  for (let round = 0; round < rounds; round++) {
    const pipe = await openOurs(stack, target);
    await new Promise((r) => setTimeout(r, 300));
    let last = 0;
    let stuck = 0;
    const timer = setInterval(() => {
      const now = pipe.client.bytesIn;
      if (now === last) stuck++;
      last = now;
    }, 1000);
    try {
      const r = await measureBulk(pipe, 100_000_000, 25_000);
      console.log(`round ${round} ok ${r.mbPerS.toFixed(1)} MB/s`);
    } catch (err) {
      const c = pipe.client as unknown as { uncredited: number; bytesIn: number };
      console.log(
        `round ${round} FAILED at ${c.bytesIn} bytes; client uncredited ${c.uncredited}; ws buffered ${pipe.client.ws.bufferedAmount}; state ${pipe.client.state}`,
      );
      console.log(
        stack.connector
          .output()
          .split("\n")
          .filter((l) => l.includes("debug"))
          .slice(-12)
          .join("\n"),
      );
      console.log(
        stack.edge.proc
          .output()
          .split("\n")
          .filter((l) => !l.includes("[wrangler:info]"))
          .slice(-10)
          .join("\n"),
      );
    } finally {
      clearInterval(timer);
      await pipe.close();
    }
  }
} finally {
  await target.stop();
  await stack.stop();
}
process.exit(0);
