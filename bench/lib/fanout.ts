// Fan-out: one session driven by the Node client while 50 live viewers watch it through
// `/api/sessions/<id>/watch` (admin cookie). Times the driver's echo with the viewers attached,
// keystroke -> arrival at every viewer, and bulk output with the viewers attached (the room never
// waits for a viewer: one that falls 1 MiB behind is skipped and repainted later).
import type { Stack } from "../../test/support/stack.ts";
import { openOurs } from "./clients.ts";
import { measureBulk, measureEcho, type BulkResult } from "./pipe.ts";
import { ascending, sleep } from "./stats.ts";
import { groupMembers, type MemoryTrace, MemorySampler, rssSum } from "./system.ts";
import type { Target } from "./target.ts";
import { Viewer } from "./viewer.ts";

export type FanoutResult = {
  viewersWanted: number;
  viewersAttached: number;
  failures: string[];
  driverEcho: number[];
  /** Keystroke -> arrival, every viewer and keystroke. */
  viewerEcho: number[];
  /** Keystroke -> arrival at the last of the viewers, per keystroke. */
  slowestViewerEcho: number[];
  bulk?: BulkResult;
  /** Bytes each viewer received during the bulk output, ascending. */
  viewerBulkBytes: number[];
  /** Repaints after falling behind (beyond the first one on joining), summed over viewers. */
  resyncs: number;
  workerd?: MemoryTrace;
};

export async function runFanout(
  stack: Stack,
  target: Target,
  opts: { viewers: number; keystrokes: number; warmup: number; bulkBytes: number; maxMs: number },
): Promise<FanoutResult> {
  const started = performance.now();
  const left = () => Math.max(5_000, opts.maxMs - (performance.now() - started));
  const driver = await openOurs(stack, target);
  const failures: string[] = [];
  const viewers: Viewer[] = [];
  try {
    const attempts = await Promise.allSettled(
      Array.from({ length: opts.viewers }, () =>
        Viewer.open(stack.edge.url, driver.sessionId, stack.admin.sessionCookie),
      ),
    );
    for (const a of attempts) {
      if (a.status === "fulfilled") viewers.push(a.value);
      else failures.push((a.reason as Error).message);
    }
    // Each viewer is first repainted from the replay buffer.
    const until = performance.now() + 10_000;
    while (viewers.some((v) => v.resyncs === 0 && !v.closed) && performance.now() < until) await sleep(50);
    const joined = viewers.filter((v) => v.resyncs > 0 && !v.closed);

    for (const v of joined) v.armEcho("ECHOREADY");
    const sendTimes: number[] = [];
    const resyncsBefore = joined.reduce((n, v) => n + v.resyncs, 0);
    const echo = await measureEcho(driver, opts.keystrokes, opts.warmup, Math.min(40_000, left()), sendTimes);
    await sleep(200); // the last echo reaches every viewer
    const viewerEcho: number[] = [];
    const slowest: number[] = [];
    for (let k = opts.warmup; k < sendTimes.length; k++) {
      let worst = 0;
      let all = true;
      for (const v of joined) {
        const at = v.xArrivals[k];
        if (at === undefined) {
          all = false;
          continue;
        }
        viewerEcho.push(at - sendTimes[k]!);
        worst = Math.max(worst, at - sendTimes[k]!);
      }
      if (all) slowest.push(worst);
    }
    for (const v of joined) v.stopRecording();

    await sleep(300);
    const before = joined.map((v) => v.bytes);
    const edgeGroup = stack.edge.proc.child.pid;
    const sampler = new MemorySampler({ workerd: () => rssSum(groupMembers(edgeGroup, "workerd")) }).start();
    let bulk: BulkResult | undefined;
    try {
      bulk = await measureBulk(driver, opts.bulkBytes, Math.min(60_000, left()));
    } catch (err) {
      failures.push(`bulk: ${(err as Error).message.slice(0, 120)}`);
    }
    await sleep(500);
    const workerd = sampler.stop().workerd;
    return {
      viewersWanted: opts.viewers,
      viewersAttached: joined.length,
      failures,
      driverEcho: ascending(echo.samples),
      viewerEcho: ascending(viewerEcho),
      slowestViewerEcho: ascending(slowest),
      bulk,
      viewerBulkBytes: ascending(joined.map((v, i) => v.bytes - before[i]!)),
      resyncs: joined.reduce((n, v) => n + v.resyncs, 0) - resyncsBefore,
      workerd,
    };
  } finally {
    for (const v of viewers) v.close();
    await driver.close();
  }
}
