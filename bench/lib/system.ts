// What the benchmark ran on (machine, versions) and per-process memory read from /proc, so the
// report can say whether memory stayed flat while bytes flowed.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack/edge.ts";

export type Machine = { cores: number; cpu: string; memory: string; os: string; kernel: string };

export function machine(): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? "Linux";
  return {
    cores: cpus().length,
    cpu,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os,
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
  };
}

function packageVersion(dir: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")) as { version: string })
      .version;
  } catch {
    return "not installed";
  }
}

export function versions(wettyDir: string): Record<string, string> {
  // `ssh -V` prints to stderr; the sshd package is the same OpenSSH build.
  const ssh = spawnSync("ssh", ["-V"], { encoding: "utf8" });
  const openssh = `${ssh.stderr ?? ""}${ssh.stdout ?? ""}`.trim() || "unknown";
  return {
    node: process.version,
    wrangler: packageVersion(ROOT, "wrangler"),
    workerd: packageVersion(ROOT, "workerd"),
    ssh2: packageVersion(ROOT, "ssh2"),
    ws: packageVersion(ROOT, "ws"),
    "@xterm/xterm": packageVersion(ROOT, "@xterm/xterm"),
    OpenSSH: openssh,
    wetty: packageVersion(wettyDir, "wetty"),
    "socket.io": packageVersion(wettyDir, "socket.io"),
    "socket.io-client": packageVersion(wettyDir, "socket.io-client"),
    "node-pty": packageVersion(wettyDir, "node-pty"),
  };
}

/** Resident set size of a process in bytes, or undefined once it is gone. */
export function rss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Proportional set size in bytes: shared pages (libraries, forked sshd/bash images) divided among
 * the processes sharing them, so PSS of many processes can be summed; RSS would count them again.
 */
export function pss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kb = /^Pss:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

export const pssSum = (pids: number[]) => pids.reduce((sum, pid) => sum + (pss(pid) ?? 0), 0);

/** Open file descriptors of a process. */
export function fdCount(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

type ProcInfo = { pid: number; ppid: number; pgrp: number; comm: string };

export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      out.push({ pid: Number(entry), comm, ppid: Number(fields[1]), pgrp: Number(fields[2]) });
    } catch {
      // The process exited while we looked.
    }
  }
  return out;
}

/** Pids of processes named `comm` in process group `pgrp` (e.g. workerd under wrangler dev). */
export function groupMembers(pgrp: number | undefined, comm: string): number[] {
  if (!pgrp) return [];
  return processes()
    .filter((p) => p.pgrp === pgrp && p.comm === comm)
    .map((p) => p.pid);
}

/** Every process below `pid` (not including it). */
export function descendants(pid: number | undefined): number[] {
  if (!pid) return [];
  const all = processes();
  const found = new Set<number>([pid]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        changed = true;
      }
    }
  }
  found.delete(pid);
  return [...found];
}

/** The soft limit on open files of a process. */
export function fdLimit(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const line = readFileSync(`/proc/${pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

export function countProcesses(comm: string): number {
  return processes().filter((p) => p.comm === comm).length;
}

/** Summed RSS of several processes. */
export const rssSum = (pids: number[]) => pids.reduce((sum, pid) => sum + (rss(pid) ?? 0), 0);

export type MemoryTrace = { start: number; max: number; end: number; samples: number };

/** Samples named probes every `intervalMs` until stopped; each probe returns bytes. */
export class MemorySampler {
  private readonly traces = new Map<string, MemoryTrace>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly probes: Record<string, () => number | undefined>,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop(): Record<string, MemoryTrace> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries(this.traces);
  }

  private sample(): void {
    for (const [name, probe] of Object.entries(this.probes)) {
      const value = probe();
      if (value === undefined) continue;
      const trace = this.traces.get(name);
      if (!trace) this.traces.set(name, { start: value, max: value, end: value, samples: 1 });
      else {
        trace.max = Math.max(trace.max, value);
        trace.end = value;
        trace.samples++;
      }
    }
  }
}

/** CPU seconds (user + system) of every process, and each one's start time (s after boot). */
function cpuTable(): Map<number, { cpu: number; start: number; ppid: number }> {
  const table = new Map<number, { cpu: number; start: number; ppid: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // f[1] ppid, f[11] utime, f[12] stime, f[19] starttime (all in 1/100 s)
      table.set(Number(entry), {
        ppid: Number(f[1]),
        cpu: (Number(f[11]) + Number(f[12])) / 100,
        start: Number(f[19]) / 100,
      });
    } catch {
      // gone
    }
  }
  return table;
}

const uptime = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

export type MachineLoad = {
  loadMean: number;
  loadMax: number;
  othersCpuSeconds: number;
  othersPercent: number;
  wallS: number;
};

/**
 * How busy the machine was with work that is not this run: the 1-min load average (sampled every
 * 2 s) and the CPU time of processes outside this process's tree (a lower bound: processes that
 * started and ended between two readings are missed).
 */
export class LoadWatcher {
  private readonly startTable = cpuTable();
  private readonly startUptime = uptime();
  private readonly loads: number[] = [];
  private readonly timer = setInterval(() => this.loads.push(loadavg()[0]!), 2000);

  constructor() {
    this.loads.push(loadavg()[0]!);
    this.timer.unref();
  }

  stop(): MachineLoad {
    clearInterval(this.timer);
    this.loads.push(loadavg()[0]!);
    const end = cpuTable();
    const wallS = uptime() - this.startUptime;
    const ours = new Set<number>([process.pid]);
    // Descendants of this process (children are listed after parents often, not always: iterate).
    for (let changed = true; changed; ) {
      changed = false;
      for (const [pid, p] of end) {
        if (!ours.has(pid) && ours.has(p.ppid)) {
          ours.add(pid);
          changed = true;
        }
      }
    }
    let others = 0;
    for (const [pid, p] of end) {
      if (ours.has(pid) || pid === process.ppid) continue;
      const before = this.startTable.get(pid);
      if (before && before.start === p.start) others += p.cpu - before.cpu;
      else if (p.start >= this.startUptime) others += p.cpu;
    }
    return {
      loadMean: this.loads.reduce((a, b) => a + b, 0) / this.loads.length,
      loadMax: Math.max(...this.loads),
      othersCpuSeconds: others,
      othersPercent: (others / (wallS * cpus().length)) * 100,
      wallS,
    };
  }
}
