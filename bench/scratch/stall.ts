// Temporary: reproduce the bulk stall.
import { startStack } from "../../test/support/stack.ts";
import { openOurs } from "../lib/clients.ts";
import { startTarget } from "../lib/target.ts";
import { measureBulk } from "../lib/pipe.ts";

const stack = await startStack();
const target = await startTarget(stack);
try {
  for (let round = 0; round < 3; round++) {
    const pipe = await openOurs(stack, target);
    await new Promise((r) => setTimeout(r, 300));
    let last = 0;
    const timer = setInterval(() => {
      const now = pipe.client.bytesIn;
      console.log(
        `round ${round} bytes ${now} (+${((now - last) / 1e6).toFixed(1)} MB) state ${pipe.client.state} ws ${pipe.client.ws.readyState}`,
      );
      last = now;
    }, 1000);
    try {
      const r = await measureBulk(pipe, 100_000_000, 30_000);
      console.log("ok", r);
    } catch (err) {
      console.log("FAILED", (err as Error).message.slice(0, 100));
      console.log(stack.connector.output().split("\n").slice(-30).join("\n"));
      console.log(stack.edge.proc.output().split("\n").slice(-40).join("\n"));
    } finally {
      clearInterval(timer);
      await pipe.close();
    }
  }
} finally {
  await target.stop();
  await stack.stop();
}
