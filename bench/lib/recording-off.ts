// The recording-off figure of `npm run bench`: lib/bulk-child.ts in a snapshot patched with
// NO_RECORDING, started alongside the main stack and told when to measure.
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { applyEdits, NO_RECORDING } from "./patch.ts";

/** A copy of `root` (itself usually a snapshot, so no git here): sources only, node_modules linked. */
function copyTree(root: string): string {
  const dir = mkdtempSync(join(tmpdir(), "psm-bench-off-"));
  cpSync(root, dir, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|\.wrangler|\.git)(\/|$)/.test(relative(root, src)),
  });
  symlinkSync(realpathSync(join(root, "node_modules")), join(dir, "node_modules"));
  return dir;
}

/** The unrecorded build's bulk: bytes, time, and CPU ms per MB of the room (workerd) and the connector. */
export type OffBulk = { bytes: number; ms: number; cpu?: BulkCpu };
export type BulkCpu = { workerdMsPerMB: number; connectorMsPerMB: number };

export class RecordingOffBulk {
  private readonly dir: string;
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  private stderr = "";
  readonly ready: Promise<void>;

  constructor(root: string, bytes: number) {
    this.dir = copyTree(root);
    const problem = applyEdits(this.dir, NO_RECORDING);
    if (problem) throw new Error(`recording-off patch does not apply: ${problem}`);
    this.child = spawn(process.execPath, ["--import", "tsx", join(this.dir, "bench", "lib", "bulk-child.ts")], {
      cwd: this.dir,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
      env: { ...process.env, BENCH_BULK_BYTES: String(bytes) },
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
    this.ready = this.next().then((line) => {
      if (line !== "ready") throw new Error(`recording-off stack did not start: ${this.why()}`);
    });
    this.ready.catch(() => undefined);
  }

  /** Measures bulk output now; resolves with the child's figures. */
  async measure(): Promise<OffBulk> {
    await this.ready;
    this.child.stdin!.write("go\n");
    const line = await this.next();
    if (!line?.startsWith("{")) throw new Error(`recording-off bulk failed: ${this.why()}`);
    return JSON.parse(line) as OffBulk;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      try {
        process.kill(-this.child.pid!, "SIGTERM");
      } catch {}
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async next(): Promise<string | undefined> {
    const { value, done } = await this.lines.next();
    return done ? undefined : value;
  }

  private why(): string {
    return this.stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${this.child.exitCode}`;
  }
}
