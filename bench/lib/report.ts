// Turns one run's figures into the table printed on stdout and written to docs/benchmarks.md.
import { type BulkResult, type EchoResult, WARMUP_BULK_BYTES } from "./pipe.ts";
import type { ChromiumResult } from "./chromium.ts";
import type { FanoutResult } from "./fanout.ts";
import type { GuardedEcho } from "./guarded-echo.ts";
import type { BulkCpu, OffBulk } from "./recording-off.ts";
import type { RecordingSize } from "./recording-size.ts";
import type { ScaleResult } from "./scale.ts";
import { mb, mbps, median, ms, percentile, ratio, summarize } from "./stats.ts";
import type { Machine, MachineLoad, MemoryTrace } from "./system.ts";

export type Who = "ours" | "direct" | "wetty";

export type Results = {
  date: string;
  /** The code measured: commit plus how many files differed from it. */
  code: string;
  machine: Machine;
  versions: Record<string, string>;
  totalMs?: number;
  load?: MachineLoad;
  starts: Partial<Record<Who, number[]>>;
  echo: Partial<Record<Who, EchoResult>>;
  /** Echo with command control off and on, interleaved (lib/guarded-echo.ts). */
  guardedEcho?: GuardedEcho;
  bulk: Partial<Record<Who, BulkResult>>;
  bulkMemory: Partial<Record<Who, Record<string, MemoryTrace>>>;
  chromium?: ChromiumResult;
  fanout?: FanoutResult;
  scale?: ScaleResult;
  /** Bulk output through a build that records nothing (lib/patch.ts NO_RECORDING), same client and method. */
  bulkUnrecorded?: OffBulk;
  /** CPU ms per MB of the recorded bulk run (ours): the room (workerd) and the connector. */
  bulkCpu?: BulkCpu;
  /** Recorded (ours) and unrecorded bulk in alternating rounds after the first pair, paired by round. */
  recordingRounds?: { recorded: OffBulk[]; unrecorded: OffBulk[] };
  /** What the connector had spooled during the recorded bulk, and how long its upload took afterwards. */
  uploadsAfterBulk?: { chunks: number; ms: number };
  recordingSize?: RecordingSize;
  errors: string[];
  config: {
    keystrokes: number;
    warmup: number;
    bulkBytes: number;
    starts: number;
    idle: number;
    active: number;
    viewers: number;
  };
};

const p = (values: number[] | undefined, q: number) => (values?.length ? percentile(values, q) : Number.NaN);
const sorted = (values: number[] | undefined) => (values ? [...values].sort((a, b) => a - b) : undefined);
const yesNo = (ok: boolean | undefined) => (ok === undefined ? "–" : ok ? "yes" : "**no**");

/** Markdown table (also readable as plain text on stdout). */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join("\n");
}

export function mainTable(r: Results): string {
  const echo = {
    ours: sorted(r.echo.ours?.samples),
    direct: sorted(r.echo.direct?.samples),
    wetty: sorted(r.echo.wetty?.samples),
  };
  const starts = { ours: sorted(r.starts.ours), direct: sorted(r.starts.direct), wetty: sorted(r.starts.wetty) };
  const chrome = r.chromium;
  const rows: string[][] = [];
  const n = (values: number[] | undefined) => (values?.length ? ` (n=${values.length})` : "");

  for (const q of [50, 99] as const) {
    const ours = p(echo.ours, q);
    const wetty = p(echo.wetty, q);
    const limit = q === 50 ? 0.6 : 5;
    rows.push([
      `Keystroke echo p${q}`,
      `${ms(ours)}${n(echo.ours)}`,
      chrome
        ? `${ms(p(chrome.synthetic, q))}${n(chrome.synthetic)}; keyboard ${ms(p(chrome.keyboard, q))}${n(chrome.keyboard)}`
        : "–",
      `${ms(p(echo.direct, q))}${n(echo.direct)}`,
      `${ms(wetty)}${n(echo.wetty)}`,
      ratio(ours, wetty),
      ratio(ours, p(echo.direct, q)),
      `≤ ${limit} ms; ≤ 0.5× WeTTY`,
      yesNo(Number.isFinite(ours) ? ours <= limit && (!Number.isFinite(wetty) || ours <= wetty / 2) : undefined),
    ]);
  }
  const g = r.guardedEcho;
  if (g) {
    const [off, on] = [sorted(g.off.samples), sorted(g.on.samples)];
    const within = (q: number) => p(on, q) <= p(off, q) * 1.1;
    rows.push([
      `Keystroke echo, command control on (${g.rules} rules)`,
      `p50 ${ms(p(on, 50))}, p99 ${ms(p(on, 99))}${n(on)} vs off p50 ${ms(p(off, 50))}, p99 ${ms(p(off, 99))}${n(off)}, ${g.rounds} interleaved rounds`,
      "–",
      "–",
      "–",
      "–",
      "–",
      "p50 and p99 within 10 % of off",
      yesNo(on?.length && off?.length ? within(50) && within(99) : undefined),
    ]);
  } else
    rows.push(["Keystroke echo, command control on", "not run", "–", "–", "–", "–", "–", "within 10 % of off", "–"]);
  const bulk = (who: Who) => r.bulk[who]?.mbPerS ?? Number.NaN;
  rows.push([
    `Bulk output, ${mb(r.config.bulkBytes)}`,
    mbps(bulk("ours")),
    chrome?.bulk ? mbps(chrome.bulk.mbPerS) : "–",
    mbps(bulk("direct")),
    mbps(bulk("wetty")),
    ratio(bulk("ours"), bulk("wetty")),
    ratio(bulk("ours"), bulk("direct")),
    "≥ 60 MB/s; ≥ 2× WeTTY",
    yesNo(
      Number.isFinite(bulk("ours"))
        ? bulk("ours") >= 60 && (!Number.isFinite(bulk("wetty")) || bulk("ours") >= 2 * bulk("wetty"))
        : undefined,
    ),
  ]);
  for (const q of [50, 90] as const) {
    const ours = p(starts.ours, q);
    rows.push([
      `Session start p${q}`,
      `${ms(ours)}${n(starts.ours)}`,
      q === 50 && chrome ? `${ms(chrome.startMs)} (in page, n=1)` : "–",
      `${ms(p(starts.direct, q))}${n(starts.direct)}`,
      `${ms(p(starts.wetty, q))}${n(starts.wetty)}`,
      ratio(ours, p(starts.wetty, q)),
      ratio(ours, p(starts.direct, q)),
      q === 50 ? "≤ 200 ms" : "–",
      q === 50 ? yesNo(Number.isFinite(ours) ? ours <= 200 : undefined) : "–",
    ]);
  }
  const f = r.fanout;
  rows.push(
    f
      ? [
          `Fan-out, ${f.viewersWanted} live viewers`,
          `${f.viewersAttached}/${f.viewersWanted} watching; driver echo p50 ${ms(p(f.driverEcho, 50))}, p99 ${ms(p(f.driverEcho, 99))}; keystroke → slowest viewer p50 ${ms(p(f.slowestViewerEcho, 50))}, p99 ${ms(p(f.slowestViewerEcho, 99))}; bulk with viewers ${mbps(f.bulk?.mbPerS ?? Number.NaN)}`,
          "–",
          "–",
          "–",
          "–",
          "–",
          `${f.viewersWanted} viewers`,
          f.viewersAttached === f.viewersWanted ? "yes (all attached)" : `**no** (${f.viewersAttached} attached)`,
        ]
      : ["Fan-out, 50 live viewers", "not run", "–", "–", "–", "–", "–", "50 viewers", "–"],
  );
  const s = r.scale;
  if (s) {
    const opened = s.idleOpen + s.activeOpen;
    const idleKb = opened ? (s.connectorRssAfter - s.connectorRssBefore) / opened / 1024 : Number.NaN;
    rows.push([
      "Scale: idle + active sessions",
      `${s.idleOpen}/${s.idleTarget} idle + ${s.activeOpen}/${s.activeTarget} active open; active echo p50 ${ms(p(s.activeEcho, 50))}, p99 ${ms(p(s.activeEcho, 99))}; connector ≈ ${Number.isFinite(idleKb) ? idleKb.toFixed(0) : "–"} KiB RSS per session`,
      "–",
      "–",
      "–",
      "–",
      "–",
      "1,000 idle + 100 active",
      s.idleOpen >= 1000 && s.activeOpen >= 100
        ? "yes"
        : `**no** (${s.idleOpen} + ${s.activeOpen} within the time budget)`,
    ]);
  } else {
    rows.push(["Scale: idle + active sessions", "not run", "–", "–", "–", "–", "–", "1,000 idle + 100 active", "–"]);
  }
  // Every pair of rounds (the first pair is the bulk stage's and the recording-off stage's); the figure is the
  // median over pairs of recorded ÷ unrecorded, each pair measured back to back.
  const offRate = (b: OffBulk) => b.bytes / 1e6 / (b.ms / 1000);
  const pairs: [number, number][] = [];
  if (r.bulk.ours && r.bulkUnrecorded) pairs.push([r.bulk.ours.mbPerS, offRate(r.bulkUnrecorded)]);
  for (const [i, rec] of (r.recordingRounds?.recorded ?? []).entries()) {
    const unrec = r.recordingRounds!.unrecorded[i];
    if (unrec) pairs.push([offRate(rec), offRate(unrec)]);
  }
  const ratios = pairs.map(([a, b]) => a / b);
  const on = pairs.length > 0 ? median(pairs.map((p) => p[0])) : undefined;
  const off = pairs.length > 0 ? median(pairs.map((p) => p[1])) : undefined;
  const recordedRatio = ratios.length > 0 ? median(ratios) : undefined;
  const cost = recordedRatio !== undefined ? (1 - recordedRatio) * 100 : undefined;
  const size = r.recordingSize;
  rows.push([
    "Recording",
    [
      on !== undefined && off !== undefined
        ? `bulk ${mbps(on)} recorded vs ${mbps(off)} not recorded (medians of ${pairs.length} alternating rounds; every figure above is recorded): ` +
          `recorded ÷ unrecorded ${recordedRatio!.toFixed(2)}× (median of the rounds' ${ratios.map((x) => x.toFixed(2)).join(", ")}), cost ${cost!.toFixed(0)} %`
        : "on vs off: not measured",
      r.bulkCpu && r.bulkUnrecorded?.cpu
        ? `room (workerd) CPU ${r.bulkCpu.workerdMsPerMB.toFixed(0)} ms/MB recorded vs ${r.bulkUnrecorded.cpu.workerdMsPerMB.toFixed(0)} not; connector ${r.bulkCpu.connectorMsPerMB.toFixed(0)} vs ${r.bulkUnrecorded.cpu.connectorMsPerMB.toFixed(0)} ms/MB`
        : "CPU per MB: not measured",
      ...(r.uploadsAfterBulk
        ? [
            `uploads waited for the bulk, then ${r.uploadsAfterBulk.chunks} chunks went in ${(r.uploadsAfterBulk.ms / 1000).toFixed(1)} s`,
          ]
        : []),
      size
        ? `${size.kbPerMinute.toFixed(2)} KB/min stored for a scripted ${size.minutes.toFixed(1)}-min session, keystrokes recorded`
        : "KB/min: not measured",
    ].join("; "),
    "–",
    "–",
    "–",
    "–",
    "–",
    "recorded ≥ 0.9× unrecorded; ≤ 10 KB/min",
    cost === undefined || !size
      ? "–"
      : cost <= 10 && size.kbPerMinute <= 10
        ? "yes"
        : `**no** (cost ${cost.toFixed(0)} %; ${size.kbPerMinute.toFixed(1)} KB/min)`,
  ]);
  return table(
    [
      "Measure",
      "Ours (Node client)",
      "Ours (Chromium page)",
      "Direct ssh2",
      "WeTTY",
      "Ours ÷ WeTTY",
      "Ours ÷ direct",
      "Target",
      "Met",
    ],
    rows,
  );
}

const range = (t: MemoryTrace | undefined) => (t ? `${mb(t.start)} → max ${mb(t.max)} → ${mb(t.end)}` : "–");

export function memoryTable(r: Results): string {
  const rows: string[][] = [];
  const names: Record<Who, string> = { ours: "Ours", direct: "Direct ssh2", wetty: "WeTTY" };
  for (const who of ["ours", "direct", "wetty"] as const) {
    const m = r.bulkMemory[who];
    const b = r.bulk[who];
    if (!m) continue;
    rows.push([
      names[who],
      b ? `${mb(b.bytes)} in ${(b.ms / 1000).toFixed(2)} s` : "failed",
      range(m.connector),
      range(m.workerd),
      range(m.wetty),
      range(m.clientRss),
      range(m.clientHeap),
    ]);
  }
  if (r.chromium?.bulk) {
    rows.push([
      "Ours in Chromium",
      `${mb(r.chromium.bulk.bytes)} in ${(r.chromium.bulk.ms / 1000).toFixed(2)} s`,
      "–",
      "–",
      "–",
      "–",
      `page JS heap ${range(r.chromium.heap)}`,
    ]);
  }
  return table(
    [
      "Bulk run",
      "Bytes / time",
      "Connector RSS",
      "workerd RSS (all)",
      "WeTTY server RSS",
      "Client RSS",
      "Client JS heap",
    ],
    rows,
  );
}

export function fanoutLines(f: FanoutResult | undefined): string[] {
  if (!f) return ["Fan-out was not run."];
  const got = f.viewerBulkBytes;
  return [
    `- ${f.viewersAttached} of ${f.viewersWanted} viewers attached (admin cookie, \`/api/sessions/<id>/watch\`), each repainted from the room's replay buffer first${f.failures.length ? `; failures: ${f.failures.slice(0, 3).join("; ")}` : ""}.`,
    `- Driver keystroke echo with them attached: p50 ${ms(p(f.driverEcho, 50))}, p99 ${ms(p(f.driverEcho, 99))} (n=${f.driverEcho.length}).`,
    `- Keystroke → arrival at a viewer: p50 ${ms(p(f.viewerEcho, 50))}, p99 ${ms(p(f.viewerEcho, 99))} over ${f.viewerEcho.length} deliveries; at the slowest of the ${f.viewersAttached} per keystroke: p50 ${ms(p(f.slowestViewerEcho, 50))}, p99 ${ms(p(f.slowestViewerEcho, 99))}.`,
    f.bulk
      ? `- Bulk ${mb(f.bulk.bytes)} with the viewers attached: ${mbps(f.bulk.mbPerS)} at the driver; each viewer received between ${mb(got[0] ?? 0)} and ${mb(got[got.length - 1] ?? 0)} (median ${mb(got[Math.floor(got.length / 2)] ?? 0)}); ${f.resyncs} repaints of viewers that fell 1 MiB behind; workerd RSS ${range(f.workerd)}.`
      : "- Bulk with viewers: failed (see errors).",
    "- The viewers do not offer compression: 50 real viewers would inflate in their own browsers, while here one Node process would do it for all 50 and become the bottleneck.",
  ];
}

export function chromiumLines(c: ChromiumResult | undefined): string[] {
  if (!c) return ["Chromium was not run."];
  const q = (values: number[], n: number) => ms(p(values, n));
  return [
    `- Chromium ${c.version}, the real page (login form, then the page's own checkout + \`POST /api/sessions\` calls and its terminal route), its own session socket instrumented in the page.`,
    `- Synthetic input (InputEvent on xterm's textarea → xterm onData → page socket), dispatch → echo frame in the page: p50 ${q(c.synthetic, 50)}, p99 ${q(c.synthetic, 99)} (n=${c.synthetic.length}).`,
    `- Real keyboard (page.keyboard.press, CDP key events), page keydown → echo frame: p50 ${q(c.keyboard, 50)}, p99 ${q(c.keyboard, 99)} (n=${c.keyboard.length}); of that, keydown → keystroke frame sent by the page: p50 ${q(c.keyboardToSend, 50)}, p99 ${q(c.keyboardToSend, 99)}.`,
    c.bulk
      ? `- Bulk through xterm.js with the page's flow control (credit after xterm parsed): ${mbps(c.bulk.mbPerS)} (${mb(c.bulk.bytes)} in ${(c.bulk.ms / 1000).toFixed(1)} s); page JS heap ${c.heap ? range(c.heap) : "–"}.`
      : "- Bulk through the page: failed (see errors).",
    `- Session start in the page, \`POST /api/sessions\` → first output frame (includes loading the terminal's code chunk): ${ms(c.startMs)}.`,
  ];
}

export function scaleLines(s: ScaleResult | undefined): string[] {
  if (!s) return ["Scale was not run."];
  const failures = Object.entries(s.failures);
  const open = s.idleOpen + s.activeOpen;
  const perSession = (bytes: number) => (open ? `${(bytes / open / 1024).toFixed(0)} KiB` : "–");
  const starts = summarize(s.sessionStartsUnderLoad);
  return [
    `- Opened ${s.idleOpen} of ${s.idleTarget} idle sessions in ${(s.openMs / 1000).toFixed(1)} s (stopped: ${s.stoppedBecause}); ${s.idleStillOpen} still connected after the active phase.`,
    `- Session start while ramping (concurrency shown in the config): p50 ${ms(starts.p50)}, p90 ${ms(starts.p90)}, max ${ms(starts.max)}.`,
    `- ${s.activeOpen} of ${s.activeTarget} active sessions typed for ${(s.activeMs / 1000).toFixed(1)} s at once: ${s.activeEcho.length} echoes, p50 ${ms(p(s.activeEcho, 50))}, p99 ${ms(p(s.activeEcho, 99))}.`,
    `- Connector RSS ${mb(s.connectorRssBefore)} → ${mb(s.connectorRssAfter)} (≈ ${perSession(s.connectorRssAfter - s.connectorRssBefore)} per session), ${s.connectorFdsAfter ?? "?"} open files (soft limit ${s.connectorFdLimit ?? "?"}); workerd RSS (both wrangler dev processes) ${mb(s.workerdRssBefore)} → ${mb(s.workerdRssAfter)} (≈ ${perSession(s.workerdRssAfter - s.workerdRssBefore)} per session); target side: ${s.targetProcesses} sshd/shell processes, ${mb(s.targetPss)} PSS (≈ ${perSession(s.targetPss)} per session).`,
    failures.length ? `- Failures: ${failures.map(([k, v]) => `${v} × ${k}`).join("; ")}` : "- Failures: none.",
  ];
}

export function header(r: Results): string[] {
  const m = r.machine;
  return [
    `- Run: ${r.date}${r.totalMs ? `, ${(r.totalMs / 1000).toFixed(0)} s in all` : ""}; code ${r.code}.`,
    `- Machine: ${m.cores} cores, ${m.cpu}, ${m.memory} RAM, ${m.os} (Linux ${m.kernel}); everything on loopback.`,
    `- Versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}${r.chromium ? `, Chromium ${r.chromium.version}` : ""}.`,
    r.load
      ? `- Other work on the machine during the run: 1-min load average mean ${r.load.loadMean.toFixed(2)} (max ${r.load.loadMax.toFixed(2)}) on ${m.cores} cores; processes not started by this run used at least ${r.load.othersCpuSeconds.toFixed(0)} CPU-seconds (${r.load.othersPercent.toFixed(0)}% of the machine).${r.load.othersPercent > 15 ? " The machine was shared: latency tails and throughput are worse than on an idle machine." : ""}`
      : "- Other work on the machine: not measured.",
    `- Config: ${r.config.keystrokes} keystrokes (+${r.config.warmup} warm-up) per client, ${mb(r.config.bulkBytes)} bulk (after a ${mb(WARMUP_BULK_BYTES)} warm-up run on each client), ${r.config.starts} session starts per client, ${r.config.viewers} live viewers, scale up to ${r.config.idle} idle + ${r.config.active} active.`,
  ];
}
