// `npm run bench:experiment [-- name ...]`: measures proposed code changes without touching the
// tree. Each experiment copies the working tree to a temporary folder (lib/snapshot.ts), applies
// its patch there (plain text replacements that must match exactly, else it reports "does not
// apply"), runs `bench/profile.ts --figures` from that copy (its own wrangler dev, sshd and
// connector) and deletes the copy. Prints echo p50/p99, bulk MB/s and DATA frame sizes per experiment.
// `at:<rev>` measures the build of an older git revision instead (today's node_modules), side by side.
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../scripts/stack/edge.ts";
import { applyEdits, type Edit, NO_RECORDING } from "./lib/patch.ts";
import { snapshot, snapshotAt } from "./lib/snapshot.ts";
import { median } from "./lib/stats.ts";

/** Keeps the matched text and adds `extra` after it. */
const after = (file: string, find: string, extra: string): Edit => ({ file, find, replace: find + extra });

const CONNECTOR_NO_DEFLATE: Edit[] = [
  {
    file: "connector/session.ts",
    find: "maxPayload: MAX_BINARY_FRAME }",
    replace: "maxPayload: MAX_BINARY_FRAME, perMessageDeflate: false }",
  },
];

// The Worker forwards the upgrade to the room without the client's extension offer, so the
// browser-facing socket is not compressed either.
const EDGE_NO_DEFLATE: Edit[] = [
  after("worker/sockets.ts", '  headers.delete("Cookie");', '\n  headers.delete("Sec-WebSocket-Extensions");'),
];

// One DATA frame per event-loop turn instead of one per ssh2 chunk (sshd sends ~4 KiB per packet):
// chunks are gathered and sent after the I/O phase (setImmediate) or once 64 KiB are waiting.
const COALESCE: Edit[] = [
  {
    file: "connector/session.ts",
    find: `    stream.on("data", (chunk: Buffer) => {
      for (const frame of encodeDataChunks(chunk)) this.ws?.send(frame);
      if (this.credit.spend(chunk.byteLength)) stream.pause();
    });`,
    replace: `    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      if (pendingBytes === 0) return;
      const frame = Buffer.allocUnsafe(pendingBytes + 1);
      frame[0] = 0x01;
      let at = 1;
      for (const part of pending) at += part.copy(frame, at);
      pending = [];
      pendingBytes = 0;
      this.ws?.send(frame);
    };
    stream.on("data", (chunk: Buffer) => {
      for (let at = 0; at < chunk.byteLength; ) {
        const take = Math.min(chunk.byteLength - at, 65536 - pendingBytes);
        pending.push(chunk.subarray(at, at + take));
        pendingBytes += take;
        at += take;
        if (pendingBytes === 65536) flush();
      }
      if (pendingBytes > 0 && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      if (this.credit.spend(chunk.byteLength)) stream.pause();
    });`,
  },
];

const BIGGER_WINDOW: Edit[] = [
  {
    file: "protocol/limits.ts",
    find: "export const OUTPUT_WINDOW = 1024 * 1024;",
    replace: "export const OUTPUT_WINDOW = 4 * 1024 * 1024;",
  },
  {
    file: "protocol/limits.ts",
    find: "export const CREDIT_BATCH = 64 * 1024;",
    replace: "export const CREDIT_BATCH = 256 * 1024;",
  },
];

// The room finds the peer socket once, not with getWebSockets + deserializeAttachment per frame.
const ROOM_PEER_CACHE: Edit[] = [
  after(
    "durable/session-room.ts",
    "export class SessionRoom extends DurableObject<Env> {",
    "\n  private cachedUser?: WebSocket;\n  private cachedConnector?: WebSocket;",
  ),
  {
    file: "durable/session-room.ts",
    find: `      const connector = this.connector();
      if (
        connector &&`,
    replace: `      let connector = this.cachedConnector;
      if (!connector || connector.readyState !== WebSocket.OPEN) connector = this.cachedConnector = this.connector();
      if (
        connector &&`,
  },
  {
    file: "durable/session-room.ts",
    find: `    const user = this.browser();
    if (user) user.send(message);`,
    replace: `    let user = this.cachedUser;
    if (!user || user.readyState !== WebSocket.OPEN) user = this.cachedUser = this.browser();
    if (user) user.send(message);`,
  },
];

// workerd negotiates permessage-deflate by itself unless told otherwise (compatibility flag
// web_socket_compression, on by default): a Worker "can request that no compression be used by
// setting Sec-WebSocket-Extensions to the empty string" (workerd's compatibility-date.capnp).
const ROOM_REFUSES_COMPRESSION: Edit[] = [
  {
    file: "durable/session-room.ts",
    find: "    return new Response(null, { status: 101, webSocket: client });",
    replace:
      '    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Extensions": "" } });',
  },
];

// The same for every socket of the Worker, with the runtime flag.
const NO_COMPRESSION_FLAG: Edit[] = [
  after("wrangler.toml", 'compatibility_date = "2026-04-20"', '\ncompatibility_flags = ["no_web_socket_compression"]'),
];

// Not a product change: the benchmark's Node client stops offering compression, to show what the
// browser-facing leg costs when it is not compressed (Chromium always offers permessage-deflate).
const CLIENT_NO_DEFLATE: Edit[] = [
  {
    file: "test/support/terminal-client.ts",
    find: "const ws = new WebSocket(url, { headers: { Cookie: cookie, Origin: opts.origin ?? edgeUrl } });",
    replace:
      "const ws = new WebSocket(url, { headers: { Cookie: cookie, Origin: opts.origin ?? edgeUrl }, perMessageDeflate: false });",
  },
];

// The room keeps a replay buffer for late viewers and scans every output frame for the last
// screen clear with a byte-by-byte loop per sequence (durable/replay.ts lastClear): 44 % of the
// Worker isolate's samples during bulk. All three sequences start with ESC, so jumping from one ESC
// to the previous one with the native lastIndexOf finds the same (latest) start.
const REPLAY_FAST_SCAN: Edit[] = [
  {
    file: "durable/replay.ts",
    find: `function lastClear(bytes: Uint8Array): number {
  let at = -1;`,
    replace: `function lastClear(bytes: Uint8Array): number {
  for (let i = bytes.lastIndexOf(0x1b); i >= 0; i = i > 0 ? bytes.lastIndexOf(0x1b, i - 1) : -1) {
    next: for (const seq of CLEARS) {
      if (i + seq.length > bytes.length) continue;
      for (let j = 1; j < seq.length; j++) if (bytes[i + j] !== seq[j]) continue next;
      return i;
    }
  }
  return -1;
}

function lastClearSlow(bytes: Uint8Array): number {
  let at = -1;`,
  },
];

const SSH_NODELAY: Edit[] = [
  after("connector/session.ts", `    ssh.on("ready", () => {`, "\n      ssh.setNoDelay(true);"),
];

// What hashing each chunk's uncompressed text costs (the chain would then cover the compressed bytes only).
const REC_NO_RAW_HASH: Edit[] = [
  {
    file: "recording/chain.ts",
    find: "  const rawSha256 = await sha256Hex(raw);",
    replace: '  const rawSha256 = "";',
  },
];

const EXPERIMENTS: Record<string, { what: string; edits: Edit[] }> = {
  "rec-no-raw-hash": { what: "the connector's recorder does not hash the uncompressed text", edits: REC_NO_RAW_HASH },
  baseline: { what: "the tree as it is", edits: [] },
  "no-recording": { what: "sessions are not recorded (measures what recording costs)", edits: NO_RECORDING },
  "connector-no-deflate": { what: "connector data socket without permessage-deflate", edits: CONNECTOR_NO_DEFLATE },
  "edge-no-deflate": {
    what: "browser socket without permessage-deflate (Worker drops the offer)",
    edits: EDGE_NO_DEFLATE,
  },
  "no-deflate": {
    what: "both sockets without permessage-deflate",
    edits: [...CONNECTOR_NO_DEFLATE, ...EDGE_NO_DEFLATE],
  },
  "client-no-deflate": {
    what: "(bench client only) Node client does not offer permessage-deflate",
    edits: CLIENT_NO_DEFLATE,
  },
  "no-deflate-all-legs": {
    what: "connector and Node client without permessage-deflate",
    edits: [...CONNECTOR_NO_DEFLATE, ...CLIENT_NO_DEFLATE],
  },
  "room-refuses-compression": {
    what: "room answers the upgrades with an empty Sec-WebSocket-Extensions (no compression)",
    edits: ROOM_REFUSES_COMPRESSION,
  },
  "no-compression-flag": {
    what: "wrangler.toml compatibility flag no_web_socket_compression",
    edits: NO_COMPRESSION_FLAG,
  },
  coalesce: { what: "connector coalesces ssh2 chunks into frames up to 64 KiB", edits: COALESCE },
  "window-4MiB": { what: "output window 4 MiB, credit batch 256 KiB", edits: BIGGER_WINDOW },
  "room-peer-cache": { what: "room caches peer sockets instead of a lookup per frame", edits: ROOM_PEER_CACHE },
  "replay-fast-scan": {
    what: "room's replay buffer finds the last clear with lastIndexOf(ESC)",
    edits: REPLAY_FAST_SCAN,
  },
  "ssh-nodelay": { what: "connector sets TCP_NODELAY on its SSH socket", edits: SSH_NODELAY },
  all: {
    what: "connector-no-deflate + coalesce + replay-fast-scan",
    edits: [...CONNECTOR_NO_DEFLATE, ...COALESCE, ...REPLAY_FAST_SCAN],
  },
  "all+client-no-deflate": {
    what: "all + (bench client) no compression offered: no compressed hop left",
    edits: [...CONNECTOR_NO_DEFLATE, ...COALESCE, ...REPLAY_FAST_SCAN, ...CLIENT_NO_DEFLATE],
  },
};

type Figures = {
  echoP50: number;
  echoP99: number;
  bulkMBps: number;
  frameMean: number;
  frameP50: number;
  clientExtensions: string;
  cpuPerKeystrokeUs: number;
  cpuPerMBms: number;
};

/** `at:<rev>`: the build of an older git revision, measured beside today's (e.g. before a design change). */
const atRevision = (name: string) => (name.startsWith("at:") ? name.slice(3) : null);

async function run(name: string): Promise<Figures | string> {
  const rev = atRevision(name);
  const dir = rev ? snapshotAt(ROOT, rev) : snapshot(ROOT);
  try {
    const problem = rev ? null : applyEdits(dir, EXPERIMENTS[name]!.edits);
    if (problem) return `does not apply: ${problem}`;
    const child = spawn(process.execPath, ["--import", "tsx", join(dir, "bench", "profile.ts"), "--figures"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BENCH_OUT_ROOT: ROOT },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-65536);
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const line = out.trim().split("\n").pop() ?? "";
    const why =
      err
        .split("\n")
        .filter((l) => /error|failed|timed out|no "/i.test(l))
        .pop() ?? err.trim().split("\n").pop();
    if (code !== 0 || !line.startsWith("{")) {
      const logFile = join(tmpdir(), `psm-experiment-${name}-${Date.now()}.log`);
      writeFileSync(logFile, err);
      return `failed (exit ${code}): ${why} (log: ${logFile})`;
    }
    return JSON.parse(line) as Figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
  const names = args.filter((a, i) => !a.startsWith("-") && args[i - 1] !== "--rounds");
  const chosen = names.length ? names : Object.keys(EXPERIMENTS);
  for (const name of chosen)
    if (!EXPERIMENTS[name] && !atRevision(name))
      throw new Error(`unknown experiment ${name}; known: ${Object.keys(EXPERIMENTS).join(", ")}`);
  // Rounds interleave the experiments, so a burst of load from elsewhere hits all of them alike;
  // the table shows the median of the rounds.
  const results = new Map<string, Figures[]>();
  const problems = new Map<string, string>();
  const loads: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const name of chosen) {
      const started = performance.now();
      loads.push(loadavg()[0]!);
      const result = await run(name);
      const took = ((performance.now() - started) / 1000).toFixed(0);
      if (typeof result === "string") {
        problems.set(
          name,
          `${problems.has(name) ? `${problems.get(name)}; ` : ""}round ${round}: ${result.slice(0, 120)}`,
        );
        process.stderr.write(`experiment ${name} round ${round} (${took} s): ${result}\n`);
        continue;
      }
      results.set(name, [...(results.get(name) ?? []), result]);
      process.stderr.write(
        `experiment ${name} round ${round} (${took} s): echo p50 ${result.echoP50.toFixed(3)} p99 ${result.echoP99.toFixed(2)} ms, bulk ${result.bulkMBps.toFixed(1)} MB/s, frame ${result.frameMean.toFixed(0)} B, CPU ${result.cpuPerKeystrokeUs.toFixed(0)} µs/key ${result.cpuPerMBms.toFixed(0)} ms/MB\n`,
      );
    }
  }
  const rows = chosen.map((name) => {
    const what = EXPERIMENTS[name]?.what ?? `the build of git revision ${atRevision(name)}`;
    const problem = problems.get(name);
    const r = results.get(name) ?? [];
    if (r.length === 0) return `| ${name} | ${what} | ${problem ?? "no result"} | | | | | | |`;
    const m = (pick: (f: Figures) => number) => median(r.map(pick));
    const note = problem ? ` (failed: ${problem})` : "";
    return `| ${name} | ${what}${note} | ${m((f) => f.echoP50).toFixed(3)} ms | ${m((f) => f.echoP99).toFixed(2)} ms | ${m((f) => f.cpuPerKeystrokeUs).toFixed(0)} µs | ${m((f) => f.bulkMBps).toFixed(1)} MB/s | ${m((f) => f.cpuPerMBms).toFixed(0)} ms | ${m((f) => f.frameMean).toFixed(0)} B | ${r[0]?.clientExtensions || "none"} |`;
  });
  console.log(
    [
      `Median of the successful runs of ${rounds} interleaved rounds; CPU = all processes on the path (client, wrangler's two workerd and node, connector, sshd + shell); 1-min load average at the starts: mean ${(loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(2)}, max ${Math.max(...loads).toFixed(2)} (${cpus().length} cores).`,
      "",
      "| Experiment | Change | Echo p50 | Echo p99 | CPU per keystroke | Bulk 100 MB | CPU per MB | Mean DATA frame | Client socket extensions |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
    ].join("\n"),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
