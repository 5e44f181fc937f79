// `npm run bench:profile`: where the time goes on our data path. Starts the stack and the bench
// target, swaps the stack's connector for one started with `node --cpu-prof`, and for bulk output
// (100 MB) and keystroke echo (2,000) records: CPU seconds per process (connector, both workerd
// processes of wrangler dev, the wrangler node process, sshd, this client), a V8 profile of the
// Worker/Durable Object isolate through wrangler's inspector port, the connector's V8 profile, and
// the sizes of the DATA frames the client received. Prints a summary; keeps the .cpuprofile files.
//
// `--figures` prints only one JSON line of figures (echo p50/p99, bulk MB/s, frame sizes): the
// experiment runner (bench/experiment.ts) runs it inside patched copies of the tree.
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { ROOT } from "../scripts/stack/edge.ts";
import { type Proc, startProcess, waitFor } from "../scripts/stack/process.ts";
import type { Stack } from "../test/support/stack.ts";
import { openDirect, openOurs } from "./lib/clients.ts";
import { cpuDuring, formatSummary, pidsNamed, summarizeProfile } from "./lib/cpu.ts";
import { measureBulk, measureEcho } from "./lib/pipe.ts";
import { spoolDrained } from "./lib/spool.ts";
import { percentile, sleep } from "./lib/stats.ts";
import { descendants, processes } from "./lib/system.ts";
import { runInSnapshot } from "./lib/snapshot.ts";
import { stackTarget, startStackRetrying, type Target } from "./lib/target.ts";

const FIGURES_ONLY = process.argv.includes("--figures");
const BULK = 100_000_000;
const KEYS = FIGURES_ONLY ? 1500 : 2000;

async function profiledConnector(stack: Stack, dir: string): Promise<Proc> {
  const proc = startProcess(
    process.execPath,
    [
      "--cpu-prof",
      "--cpu-prof-dir",
      dir,
      "--import",
      "tsx",
      join(ROOT, "connector", "cli.ts"),
      "run",
      "--state",
      stack.connectorState,
    ],
    { name: "connector-profiled", cwd: ROOT },
  );
  await waitFor("profiled connector", async () => {
    if (proc.child.exitCode !== null) throw new Error(`connector exited: ${proc.output()}`);
    return proc.output().includes('"control.connected"') ? true : undefined;
  });
  return proc;
}

async function stopConnector(proc: Proc): Promise<void> {
  const exited = new Promise<void>((resolve) => proc.child.once("exit", () => resolve()));
  proc.child.kill("SIGTERM");
  await Promise.race([exited, sleep(5000)]);
  await proc.stop();
}

/** A CDP session on the Worker isolate through wrangler dev's inspector port. */
async function inspector(stack: Stack) {
  const args = stack.edge.proc.child.spawnargs;
  const port = args[args.indexOf("--inspector-port") + 1];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.error ? { error: msg.error } : msg.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, close: () => ws.close() };
}

async function main(): Promise<void> {
  if (!process.env.BENCH_OUT_ROOT && process.env.BENCH_NO_SNAPSHOT !== "1") {
    // Like bench/run.ts: measure a frozen copy, so edits elsewhere cannot reload wrangler dev mid-run.
    process.exit(await runInSnapshot(ROOT, "bench/profile.ts", { BENCH_OUT_ROOT: ROOT }));
  }
  const stack = await startStackRetrying();
  let target: Target | undefined;
  let connector: Proc | undefined;
  const outDir = await mkdtemp(join(tmpdir(), "psm-profile-"));
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      if (connector) await connector.stop();
      await stack.stop();
      // --figures keeps nothing; the full run keeps its .cpuprofile files (their folder is printed).
      if (FIGURES_ONLY) await rm(outDir, { recursive: true, force: true });
    })());
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    target = stackTarget(stack);
    const t = target;
    // Swap in a profiled connector (same state, so the hub sees the same connector).
    await stack.connector.stop();
    const bulkProfileDir = join(outDir, "connector-bulk");
    connector = await profiledConnector(stack, bulkProfileDir);
    const edgeGroup = stack.edge.proc.child.pid!;
    const workerdPids = pidsNamed("workerd", edgeGroup)();
    // wrangler dev runs two workerd: the proxy on the public port, and the runtime with the Worker.
    const publicPort = stack.edge.url.split(":").pop()!;
    const proxyPid = processes().find(
      (p) =>
        workerdPids.includes(p.pid) &&
        readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes(`127.0.0.1:${publicPort}`),
    )?.pid;
    const groups = {
      connector: () => (connector?.child.pid ? [connector.child.pid] : []),
      "workerd (wrangler proxy)": () => (proxyPid ? [proxyPid] : []),
      "workerd (Worker + DOs)": () => workerdPids.filter((p) => p !== proxyPid),
      "wrangler (node)": () =>
        processes()
          .filter((p) => p.pgrp === edgeGroup && p.comm === "node")
          .map((p) => p.pid),
      // Only the bench target's sshd and its session processes (other runs may have sshds too).
      "sshd + shells": () => [t.sshd.proc.child.pid!, ...descendants(t.sshd.proc.child.pid)],
      "this client (bench)": () => [process.pid],
    };

    // Bulk through ours, with frame sizes.
    const cdp = FIGURES_ONLY ? undefined : await inspector(stack);
    await cdp?.send("Profiler.enable");
    await cdp?.send("Profiler.setSamplingInterval", { interval: 200 });
    const pipe = await openOurs(stack, t);
    const clientExtensions = pipe.client.ws.extensions;
    await sleep(300);
    const sizes: number[] = [];
    const original = pipe.client.onData!;
    pipe.client.onData = (payload) => {
      sizes.push(payload.byteLength);
      original(payload);
    };
    await cdp?.send("Profiler.start");
    const bulk = await cpuDuring(groups, () => measureBulk(pipe, BULK, 120_000)).catch((err: Error) => {
      // What the client, the connector and the edge saw, for a stalled transfer.
      const c = pipe.client;
      process.stderr.write(
        [
          `bulk failed: ${err.message.slice(0, 200)}`,
          `client: state ${c.state}, end ${c.endReason}, close ${c.closeCode}, bytesIn ${c.bytesIn}, ws ${c.ws.readyState}, last messages ${JSON.stringify(c.messages.slice(-5))}`,
          "connector:",
          ...connector!.output().split("\n").slice(-25),
          "edge:",
          ...stack.edge.proc.output().split("\n").slice(-40),
          "",
        ].join("\n"),
      );
      throw err;
    });
    const workerProfile = (await cdp?.send("Profiler.stop")) as
      | { profile?: Parameters<typeof summarizeProfile>[0] }
      | undefined;
    cdp?.close();
    pipe.client.onData = original;
    await pipe.close();
    // The recording spooled during the bulk uploads now, before the echo is measured (bench/lib/spool.ts).
    const drained = await spoolDrained(stack.connectorState);
    process.stderr.write(
      `recording uploads after the bulk: ${drained.chunks} chunks in ${(drained.ms / 1000).toFixed(1)} s\n`,
    );
    await stopConnector(connector);

    // Echo through ours, with a fresh profiled connector.
    const echoProfileDir = join(outDir, "connector-echo");
    connector = await profiledConnector(stack, echoProfileDir);
    // The first recorded session starts the connector's recorder thread: a session of its own first, so loading the
    // thread's code (≈ 1 s of CPU under tsx) does not fall into the echo.
    const warm = await openOurs(stack, t);
    const fresh = connector;
    await waitFor("recorder thread", async () =>
      fresh.output().includes('"recording.thread_ready"') ? true : undefined,
    );
    await warm.close();
    const echoPipe = await openOurs(stack, t);
    const echo = await cpuDuring(groups, () => measureEcho(echoPipe, KEYS, 100, 40_000));
    await echoPipe.close();
    await stopConnector(connector);
    connector = undefined;

    sizes.sort((a, b) => a - b);
    const cpuTotal = (r: { shares: { seconds: number }[] }) => r.shares.reduce((sum, x) => sum + x.seconds, 0);
    const echoSorted = [...echo.value.samples].sort((a, b) => a - b);
    const figures = {
      echoP50: percentile(echoSorted, 50),
      echoP99: percentile(echoSorted, 99),
      echoN: echoSorted.length,
      bulkMBps: bulk.value.mbPerS,
      frames: sizes.length,
      frameP50: percentile(sizes, 50),
      frameMean: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
      frameMax: sizes[sizes.length - 1] ?? 0,
      clientExtensions,
      // CPU of every process on the path (client included), less sensitive to other load than time.
      cpuPerKeystrokeUs: (cpuTotal(echo) / Math.max(1, echo.value.samples.length + 100)) * 1e6,
      cpuPerMBms: (cpuTotal(bulk) / (bulk.value.bytes / 1e6)) * 1000,
    };
    if (FIGURES_ONLY) {
      console.log(JSON.stringify(figures));
      return;
    }

    // Session start, step by step: the client's POST, the connector's log lines (ms timestamps),
    // the first byte at the client. Compared with direct ssh2 to first byte.
    connector = await profiledConnector(stack, join(outDir, "connector-starts"));
    const createSession = stack.user.createSession.bind(stack.user);
    let post = { at: 0, ms: 0 };
    stack.user.createSession = async (checkoutId: string) => {
      const at = Date.now();
      const t0 = performance.now();
      const result = await createSession(checkoutId);
      post = { at, ms: performance.now() - t0 };
      return result;
    };
    const steps: Record<string, number[]> = { post: [], dispatch: [], connect: [], firstByte: [], total: [] };
    for (let i = 0; i < 12; i++) {
      const p = await openOurs(stack, t);
      const firstByteAt = Date.now() - (performance.now() - p.firstByteAt);
      const lines = connector
        .output()
        .split("\n")
        .filter((l) => l.includes(p.sessionId));
      const when = (event: string) => {
        const line = lines.find((l) => l.includes(`"event":"${event}"`));
        return line ? Date.parse((JSON.parse(line) as { t: string }).t) : Number.NaN;
      };
      const opened = when("session.open");
      const connected = when("session.connected");
      await p.close();
      if (i < 2) continue; // warm-up
      steps.post!.push(post.ms);
      steps.dispatch!.push(opened - post.at);
      steps.connect!.push(connected - opened);
      steps.firstByte!.push(firstByteAt - connected);
      steps.total!.push(p.firstByteAt - p.startedAt);
    }
    stack.user.createSession = createSession;
    await stopConnector(connector);
    connector = undefined;
    const directStarts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = await openDirect(t);
      directStarts.push(d.firstByteAt - d.startedAt);
      await d.close();
    }

    // Direct ssh2 bulk: what sshd and the client cost without us in the way.
    const direct = await openDirect(t);
    await sleep(300);
    const directBulk = await cpuDuring(groups, () => measureBulk(direct, BULK, 60_000));
    await direct.close();

    const share = (r: { wallMs: number; shares: { name: string; seconds: number; percentOfWall: number }[] }) =>
      r.shares
        .filter((s) => s.seconds > 0.005)
        .sort((a, b) => b.seconds - a.seconds)
        .map(
          (s) =>
            `    ${s.name.padEnd(26)} ${s.seconds.toFixed(2).padStart(6)} s CPU  ${s.percentOfWall.toFixed(0).padStart(4)}% of a core`,
        )
        .join("\n");
    const out: string[] = [];
    out.push(`Bulk, ours: ${figures.bulkMBps.toFixed(1)} MB/s (${(bulk.wallMs / 1000).toFixed(2)} s wall)`);
    out.push(share(bulk));
    out.push(
      `  DATA frames received: ${figures.frames}, size p50 ${figures.frameP50} B, mean ${figures.frameMean.toFixed(0)} B, max ${figures.frameMax} B`,
    );
    const med = (values: number[]) =>
      percentile(
        [...values].sort((a, b) => a - b),
        50,
      );
    out.push(
      `Session start, ours (median of ${steps.total!.length}): total ${med(steps.total!).toFixed(0)} ms = POST /api/sessions ${med(steps.post!).toFixed(0)} ms (client-measured); POST sent -> connector logs session.open (dispatch + grant check) ${med(steps.dispatch!).toFixed(0)} ms; session.open -> session.connected (data socket + unseal + SSH connect/auth + shell) ${med(steps.connect!).toFixed(0)} ms; session.connected -> first byte at the client ${med(steps.firstByte!).toFixed(0)} ms. Direct ssh2 connect+auth+shell -> first byte: ${med(directStarts).toFixed(0)} ms.`,
    );
    out.push(
      `Bulk, direct ssh2: ${directBulk.value.mbPerS.toFixed(1)} MB/s (${(directBulk.wallMs / 1000).toFixed(2)} s wall)`,
    );
    out.push(share(directBulk));
    out.push(
      `Echo, ours: p50 ${figures.echoP50.toFixed(3)} ms, p99 ${figures.echoP99.toFixed(2)} ms over ${figures.echoN} (${(echo.wallMs / 1000).toFixed(2)} s wall)`,
    );
    out.push(share(echo));
    out.push(
      `CPU on the path, all processes: ${figures.cpuPerKeystrokeUs.toFixed(0)} µs per keystroke (echo), ${figures.cpuPerMBms.toFixed(0)} ms per MB (bulk)`,
    );
    if (workerProfile?.profile) {
      writeFileSync(join(outDir, "worker-bulk.cpuprofile"), JSON.stringify(workerProfile.profile));
      out.push(formatSummary("Worker/DO isolate during bulk (inspector)", summarizeProfile(workerProfile.profile)));
    } else out.push(`Worker profile: none (${JSON.stringify(workerProfile).slice(0, 200)})`);
    for (const [name, dir] of [
      ["Connector during bulk", bulkProfileDir],
      ["Connector during echo", echoProfileDir],
    ] as const) {
      const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
      if (!file) {
        out.push(`${name}: no profile written`);
        continue;
      }
      out.push(formatSummary(name, summarizeProfile(JSON.parse(readFileSync(join(dir, file), "utf8")))));
    }
    out.push(`Profiles kept in ${outDir}`);
    console.log(out.join("\n"));
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
