// `npx tsx bench/bulk-compare.ts [--rounds 3] [--mb 100] [--cpu-prof DIR]`: only the bulk figures of
// `npm run bench` that compare recorded with unrecorded output, for working on the recorder's cost.
// Two snapshots of the working tree (lib/snapshot.ts), one patched with NO_RECORDING (lib/patch.ts),
// each start their own stack and keep it; then rounds alternate between them (recorded first), each
// a fresh session and the same `head -c … | tr '\0' x` as the bench, and after a recorded round the
// connector's spool drains before the next. Prints each round (MB/s, connector and workerd CPU ms/MB),
// the medians and the median ratio, and the 1-minute load average around each round. Writes nothing.
// `--cpu-prof DIR`: both connectors run with `node --cpu-prof` and write their profiles there on exit.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/stack/edge.ts";
import { NO_RECORDING, applyEdits } from "./lib/patch.ts";
import { snapshot } from "./lib/snapshot.ts";
import { median } from "./lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    child: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
    mb: { type: "string", default: "100" },
    "cpu-prof": { type: "string" },
  },
});
const BYTES = Number(args.mb) * 1e6;

type Figures = { bytes: number; ms: number; connectorMsPerMB: number; workerdMsPerMB: number; drainMs: number };

/** In a snapshot: one stack, and a bulk measured on each "go" line. */
async function child(): Promise<void> {
  const { openOurs } = await import("./lib/clients.ts");
  const { cpuDuring, cpuPerMB } = await import("./lib/cpu.ts");
  const { measureBulk, warmUpBulk } = await import("./lib/pipe.ts");
  const { spoolDrained } = await import("./lib/spool.ts");
  const { sleep } = await import("./lib/stats.ts");
  const { groupMembers } = await import("./lib/system.ts");
  const { stackTarget } = await import("./lib/target.ts");
  const { startStack } = await import("../test/support/stack.ts");
  const prof = process.env.BULK_CPU_PROF;
  const stack = await startStack(prof ? { connectorNodeFlags: ["--cpu-prof", `--cpu-prof-dir=${prof}`] } : {});
  const stop = () => void stack.stop().then(() => process.exit(130));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    // As in `npm run bench`: one bulk run to warm the stack up, its recording uploaded, before any measured.
    const warm = await openOurs(stack, stackTarget(stack));
    await sleep(300);
    await warmUpBulk(warm, 30_000);
    await warm.close();
    await spoolDrained(stack.connectorState);
    process.stdout.write("ready\n");
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() !== "go") break;
      const pipe = await openOurs(stack, stackTarget(stack));
      await sleep(300); // the login banner and prompt pass
      const { value, shares } = await cpuDuring(
        {
          workerd: () => groupMembers(stack.edge.proc.child.pid, "workerd"),
          connector: () => [stack.connector.child.pid!],
        },
        () => measureBulk(pipe, BYTES, 90_000),
      );
      await pipe.close();
      const drained = await spoolDrained(stack.connectorState);
      const cpu = cpuPerMB(shares, value.bytes);
      const figures: Figures = { bytes: value.bytes, ms: value.ms, ...cpu, drainMs: drained.ms };
      process.stdout.write(`${JSON.stringify(figures)}\n`);
    }
  } finally {
    if (prof) {
      // The profile is written when the connector exits by itself (SIGTERM runs its shutdown).
      const exited = new Promise((r) => stack.connector.child.once("exit", r));
      stack.connector.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await stack.stop();
  }
}

class Side {
  readonly proc: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  private stderr = "";
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {
    this.proc = spawn(process.execPath, ["--import", "tsx", join(dir, "bench", "bulk-compare.ts"), "--child"], {
      cwd: dir,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
      env: {
        ...process.env,
        ...(args["cpu-prof"] ? { BULK_CPU_PROF: join(args["cpu-prof"], name) } : {}),
      },
    });
    this.proc.stderr!.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4096);
    });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async line(): Promise<string> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`${this.name} exited: ${this.stderr.trim().split("\n").slice(-5).join(" | ")}`);
    return value;
  }
  async measure(): Promise<Figures> {
    this.proc.stdin!.write("go\n");
    return JSON.parse(await this.line()) as Figures;
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.stdin!.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (this.proc.exitCode === null) {
        try {
          process.kill(-this.proc.pid!, "SIGTERM");
        } catch {}
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function parent(): Promise<void> {
  const recordedDir = snapshot(ROOT);
  const offDir = snapshot(ROOT);
  const problem = applyEdits(offDir, NO_RECORDING);
  if (problem) throw new Error(`NO_RECORDING does not apply: ${problem}`);
  const sides = { recorded: new Side("recorded", recordedDir), unrecorded: new Side("unrecorded", offDir) };
  const stopAll = () => Promise.allSettled(Object.values(sides).map((s) => s.stop()));
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void stopAll().then(() => process.exit(130)));
  try {
    for (const side of Object.values(sides)) {
      const ready = await side.line();
      if (ready !== "ready") throw new Error(`${side.name}: ${ready}`);
    }
    const got: Record<string, Figures[]> = { recorded: [], unrecorded: [] };
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const side of Object.values(sides)) {
        const load = loadavg()[0]!.toFixed(2);
        const f = await side.measure();
        got[side.name]!.push(f);
        console.log(
          `round ${round + 1} ${side.name.padEnd(10)} ${((f.bytes / 1e6 / f.ms) * 1000).toFixed(1).padStart(5)} MB/s | connector ${f.connectorMsPerMB.toFixed(1)} ms/MB | workerd ${f.workerdMsPerMB.toFixed(1)} ms/MB | spool drained in ${(f.drainMs / 1000).toFixed(1)} s | load ${load} -> ${loadavg()[0]!.toFixed(2)}`,
        );
      }
    }
    const mbps = (f: Figures) => (f.bytes / 1e6 / f.ms) * 1000;
    const ratios = got.recorded!.map((r, i) => mbps(r) / mbps(got.unrecorded![i]!));
    const rec = got.recorded!;
    const off = got.unrecorded!;
    console.log(
      `median: recorded ${median(rec.map(mbps)).toFixed(1)} MB/s, unrecorded ${median(off.map(mbps)).toFixed(1)} MB/s; ` +
        `connector ${median(rec.map((f) => f.connectorMsPerMB)).toFixed(1)} vs ${median(off.map((f) => f.connectorMsPerMB)).toFixed(1)} ms/MB; ` +
        `workerd ${median(rec.map((f) => f.workerdMsPerMB)).toFixed(1)} vs ${median(off.map((f) => f.workerdMsPerMB)).toFixed(1)} ms/MB; ` +
        `ratios ${ratios.map((r) => r.toFixed(2)).join(" ")}, median ${median(ratios).toFixed(2)}`,
    );
  } finally {
    await stopAll();
  }
}

(args.child ? child() : parent()).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
