// Scale: many concurrent idle sessions (each a real sshd login with a shell on a pty, a connector
// ssh2 connection, a connector data socket and a browser-protocol socket through wrangler dev)
// plus a few active ones typing at the same time. Bounded by counts and by a time budget; every
// failure is counted and its message kept.
import type { Stack } from "../../test/support/stack.ts";
import { openOurs, type OursPipe } from "./clients.ts";
import { countX, MarkerScanner } from "./pipe.ts";
import type { Target } from "./target.ts";
import { descendants, fdCount, fdLimit, groupMembers, pssSum, rss, rssSum } from "./system.ts";

export type ScaleResult = {
  idleTarget: number;
  idleOpen: number;
  activeTarget: number;
  activeOpen: number;
  openMs: number;
  failures: Record<string, number>;
  stoppedBecause: string;
  connectorRssBefore: number;
  connectorRssAfter: number;
  workerdRssBefore: number;
  workerdRssAfter: number;
  connectorFdsAfter?: number;
  connectorFdLimit?: number;
  /** sshd + shell processes serving the bench target, and their summed PSS, at the peak. */
  targetProcesses: number;
  targetPss: number;
  activeEcho: number[];
  activeMs: number;
  idleStillOpen: number;
  sessionStartsUnderLoad: number[];
};

/** Collapses ids and numbers so the same failure from many sessions counts once. */
const failureKey = (err: unknown) =>
  ((err as Error).message ?? String(err))
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27,}/g, "<id>")
    .replace(/\d+/g, "N")
    .slice(0, 160);

export async function runScale(
  stack: Stack,
  target: Target,
  opts: { idle: number; active: number; concurrency: number; budgetMs: number; activeMs: number },
): Promise<{ result: ScaleResult; pipes: OursPipe[] }> {
  const started = performance.now();
  const connectorPid = stack.connector.child.pid;
  const edgeGroup = stack.edge.proc.child.pid;
  const workerd = () => rssSum(groupMembers(edgeGroup, "workerd"));
  const connectorRssBefore = rss(connectorPid) ?? 0;
  const workerdRssBefore = workerd();
  const failures: Record<string, number> = {};
  const fail = (err: unknown) => {
    const key = failureKey(err);
    failures[key] = (failures[key] ?? 0) + 1;
  };
  const idle: OursPipe[] = [];
  const startTimes: number[] = [];
  let stoppedBecause = "reached the target";
  let consecutiveFailures = 0;
  let next = 0;
  // What is left after opening the idle ones: up to 20 s to open the active ones, their typing, 5 s.
  const openBudget = opts.budgetMs - opts.activeMs - 25_000;

  const worker = async () => {
    while (next < opts.idle) {
      if (performance.now() - started > openBudget) {
        stoppedBecause = `time budget (${Math.round(openBudget / 1000)} s for opening) ran out`;
        return;
      }
      if (consecutiveFailures >= 20) {
        stoppedBecause = "20 consecutive failures";
        return;
      }
      next++;
      try {
        const pipe = await openOurs(stack, target, 30_000);
        startTimes.push(pipe.firstByteAt - pipe.startedAt);
        idle.push(pipe);
        consecutiveFailures = 0;
      } catch (err) {
        fail(err);
        consecutiveFailures++;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const openMs = performance.now() - started;

  // The active ones: their own sessions, each typing one byte at a time (raw mode + cat) with
  // every echo timed, all at once, while the idle ones stay open.
  const active: OursPipe[] = [];
  let nextActive = 0;
  const activeOpenUntil = performance.now() + 20_000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (nextActive < opts.active && performance.now() < activeOpenUntil) {
        nextActive++;
        try {
          active.push(await openOurs(stack, target, 30_000));
        } catch (err) {
          fail(err);
        }
      }
    }),
  );
  const activeEcho: number[] = [];
  const activeStarted = performance.now();
  await Promise.all(
    active.map(async (pipe) => {
      try {
        const ready = new Promise<void>((resolve) => {
          const scanner = new MarkerScanner("SCALEREADY");
          pipe.listen((chunk) => {
            if (scanner.push(chunk)) resolve();
          });
        });
        pipe.write('stty raw -echo isig; echo SCA""LEREADY; cat -u\n');
        await Promise.race([
          ready,
          new Promise((_, reject) => setTimeout(() => reject(new Error("not ready")), 10_000)),
        ]);
        await new Promise((r) => setTimeout(r, 100));
        let seen = 0;
        let waiting: { want: number; resolve: (at: number) => void } | undefined;
        pipe.listen((chunk) => {
          seen += countX(chunk);
          if (waiting && seen >= waiting.want) {
            const { resolve } = waiting;
            waiting = undefined;
            resolve(performance.now());
          }
        });
        for (let i = 0; i < 2000 && performance.now() - activeStarted < opts.activeMs; i++) {
          const want = seen + 1;
          let timer: NodeJS.Timeout | undefined;
          const echoed = new Promise<number>((resolve, reject) => {
            waiting = { want, resolve };
            timer = setTimeout(() => reject(new Error("active session: no echo within 2 s")), 2000);
          });
          const t0 = performance.now();
          pipe.write("x");
          try {
            const t1 = await echoed;
            if (i >= 20) activeEcho.push(t1 - t0);
          } finally {
            clearTimeout(timer);
          }
        }
      } catch (err) {
        fail(err);
      }
    }),
  );
  const activeMs = performance.now() - activeStarted;

  const idleStillOpen = idle.filter((p) => p.client.state === "connected").length;
  const targetTree = descendants(target.sshd.proc.child.pid);
  const result: ScaleResult = {
    idleTarget: opts.idle,
    idleOpen: idle.length,
    activeTarget: opts.active,
    activeOpen: active.length,
    openMs,
    failures,
    stoppedBecause,
    connectorRssBefore,
    connectorRssAfter: rss(connectorPid) ?? 0,
    workerdRssBefore,
    workerdRssAfter: workerd(),
    connectorFdsAfter: fdCount(connectorPid),
    connectorFdLimit: fdLimit(connectorPid),
    targetProcesses: targetTree.length,
    targetPss: pssSum(targetTree),
    activeEcho: activeEcho.sort((a, b) => a - b),
    activeMs,
    idleStillOpen,
    sessionStartsUnderLoad: startTimes.sort((a, b) => a - b),
  };
  return { result, pipes: [...idle, ...active] };
}
