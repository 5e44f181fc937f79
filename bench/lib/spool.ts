// The connector's recording spool, seen from the benchmark: after bulk output the connector uploads what it
// spooled while the relay was busy (connector/recording/activity.ts). On one machine those uploads (and the
// edge's work on them) compete with whatever is measured next, which a deployment does not see (the edge runs
// elsewhere), so stages wait for the spool to drain and say how long it took.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./stats.ts";

/** Chunks waiting in a connector's spool (their signed claims, `NNNNNN.jws`, are written last). */
export function spooledChunks(connectorState: string): number {
  const root = join(connectorState, "spool");
  let n = 0;
  try {
    for (const dir of readdirSync(root, { withFileTypes: true }))
      if (dir.isDirectory()) n += readdirSync(join(root, dir.name)).filter((f) => f.endsWith(".jws")).length;
  } catch {
    // No spool yet.
  }
  return n;
}

/** Waits until the spool is empty (at most `maxMs`); returns how many chunks were waiting and how long it took. */
export async function spoolDrained(connectorState: string, maxMs = 120_000): Promise<{ chunks: number; ms: number }> {
  const chunks = spooledChunks(connectorState);
  const t0 = performance.now();
  while (spooledChunks(connectorState) > 0 && performance.now() - t0 < maxMs) await sleep(100);
  return { chunks, ms: performance.now() - t0 };
}
