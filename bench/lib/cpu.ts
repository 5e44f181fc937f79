// Where the CPU goes: per-process CPU time from /proc (utime + stime) around a stage, and a summary
// of V8 .cpuprofile files (self time by function and by package) for the profiling script.
import { readFileSync } from "node:fs";
import { processes } from "./system.ts";

const TICK = 100; // USER_HZ: /proc/<pid>/stat counts in 1/100 s on Linux

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] = utime, fields[12] = stime (14th and 15th of the whole line)
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return undefined;
  }
}

/** Named groups of processes, resolved afresh at every reading (sshd children come and go). */
export type ProcessGroups = Record<string, () => number[]>;

export type CpuShare = { name: string; seconds: number; percentOfWall: number };

/** CPU per group over `work`. Processes that exit during it are not counted (nothing here does). */
export async function cpuDuring<T>(
  groups: ProcessGroups,
  work: () => Promise<T>,
): Promise<{ value: T; wallMs: number; shares: CpuShare[] }> {
  const read = () => {
    const out = new Map<string, Map<number, number>>();
    for (const [name, pids] of Object.entries(groups)) {
      const m = new Map<number, number>();
      for (const pid of pids()) {
        const s = cpuSeconds(pid);
        if (s !== undefined) m.set(pid, s);
      }
      out.set(name, m);
    }
    return out;
  };
  const before = read();
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  const after = read();
  const shares: CpuShare[] = [];
  for (const [name, pids] of after) {
    let seconds = 0;
    for (const [pid, s] of pids) seconds += s - (before.get(name)?.get(pid) ?? 0);
    shares.push({ name, seconds, percentOfWall: (seconds / (wallMs / 1000)) * 100 });
  }
  return { value, wallMs, shares };
}

/** CPU ms per MB of bulk output for the room (workerd) and the connector, from `cpuDuring`'s shares. */
export function cpuPerMB(shares: CpuShare[], bytes: number): { workerdMsPerMB: number; connectorMsPerMB: number } {
  const per = (name: string) => ((shares.find((s) => s.name === name)?.seconds ?? 0) * 1000) / (bytes / 1e6);
  return { workerdMsPerMB: per("workerd"), connectorMsPerMB: per("connector") };
}

export const pidsNamed = (comm: string, pgrp?: number) => () =>
  processes()
    .filter((p) => p.comm === comm && (pgrp === undefined || p.pgrp === pgrp))
    .map((p) => p.pid);

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
};
type CpuProfile = {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
};

export type ProfileSummary = {
  totalMs: number;
  byFunction: { name: string; ms: number; percent: number }[];
  byPackage: { name: string; ms: number; percent: number }[];
};

function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith("(") ? fn : "(native/builtin)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return "node core";
  const own = /\/(protocol|connector|durable|worker|bench|scripts|test)\//.exec(url);
  if (own) return `${own[1]}/`;
  return url.replace(/^.*\//, "");
}

/** Self time per function and per package, from sample time deltas. */
export function summarizeProfile(profile: CpuProfile, top = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to sample i.
    const dt = (deltas[i + 1] ?? 0) / 1000;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const pkgs = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules\/)?/, "");
    const key = `${functionName || "(anonymous)"} ${file ? `${file}:${lineNumber + 1}` : ""}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + ms);
    const pkg = packageOf(url, functionName);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, percent: (ms / totalMs) * 100 }));
  return { totalMs, byFunction: rank(fns), byPackage: rank(pkgs) };
}

export function formatSummary(title: string, s: ProfileSummary, top = 15): string {
  const lines = [`${title}: ${(s.totalMs / 1000).toFixed(2)} s sampled`];
  lines.push("  by package:");
  for (const p of s.byPackage.slice(0, 10)) lines.push(`    ${p.percent.toFixed(1).padStart(5)}%  ${p.name}`);
  lines.push("  top functions (self time):");
  for (const f of s.byFunction.slice(0, top)) lines.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  return lines.join("\n");
}
