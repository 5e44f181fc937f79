// `npm run bench:rdp`: the RDP engine's figures against a real xrdp on loopback, driven as the
// connector drives it (RdpStream over the native bridge): time to the first desktop frame (fresh
// logon each time), bandwidth toward the browser over a scripted minute of typing and window
// movement, and memory per session (the bridge process's RSS, and the connector's heap growth). The
// same minute is also recorded with the room's Guacamole writer (input recorded, as the larger case)
// and cut and gzipped into 10 s chunks as the recorder does: the size a desktop recording takes.
// Needs root, xrdp + xorgxrdp + xterm + xclip, and the built bridge. Prints a Markdown table.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rdpUnavailable } from "../connector/rdp/engine.ts";
import { RdpStream } from "../connector/rdp/rdp-stream.ts";
import { gzipNamed } from "../recording/chain.ts";
import { GuacWriter } from "../recording/guac-writer.ts";
import { encodeInstruction, GuacParser } from "../protocol/guacamole.ts";
import { RECORDING_CHUNK_MS } from "../protocol/recording.ts";
import { waitFor } from "../scripts/stack/process.ts";
import { DESKTOP_BACKGROUND, startXrdp, type Xrdp, xrdpMissing } from "../scripts/stack/xrdp.ts";
import { GuacScreen } from "../test/support/guac-screen.ts";
import { createTargetUser, newCanary, removeTargetUser } from "../test/support/stack.ts";
import { median } from "./lib/stats.ts";

const RUNS = Number(process.env.BENCH_RDP_RUNS ?? 3);
/** The scripted activity lasts one minute. */
const ACTIVITY_MS = Number(process.env.BENCH_RDP_ACTIVITY_MS ?? 60_000);

type Open = { stream: RdpStream; screen: GuacScreen; bytesIn: () => number; record: (w: GuacWriter | null) => void };

function open(xrdp: Xrdp, user: string, password: string): Open {
  const stream = new RdpStream();
  const screen = new GuacScreen(() => {});
  const parser = new GuacParser();
  const decoder = new TextDecoder();
  let bytesIn = 0;
  let recorder: GuacWriter | null = null;
  stream.on("data", (b: Buffer) => {
    recorder?.output(b, Date.now()).forEach(recorded);
    for (const ins of parser.push(decoder.decode(b, { stream: true }))) screen.apply(ins);
  });
  const write = stream.write.bind(stream);
  stream.write = (data: Uint8Array) => {
    bytesIn += data.byteLength;
    recorder?.input(data, Date.now()).forEach(recorded);
    return write(data);
  };
  stream.start({
    host: "127.0.0.1",
    port: xrdp.port,
    certFingerprint: xrdp.certFingerprint,
    username: user,
    password: Buffer.from(password),
    domain: "",
    width: 1280,
    height: 800,
    security: "any",
    clipboard: { copy: false, paste: false, maxBytes: 0 },
    keyboardLayout: "en-us",
  });
  return {
    stream,
    screen,
    bytesIn: () => bytesIn,
    record: (w) => {
      recorder = w;
    },
  };
}

/** The recording of the scripted minute: .guac text, cut every RECORDING_CHUNK_MS and gzipped. */
const recording = { text: 0, chunks: [] as string[], open: "", openedAt: 0 };
function recorded(line: string): void {
  if (!recording.open) recording.openedAt = Date.now();
  recording.open += line;
  recording.text += line.length;
  if (Date.now() - recording.openedAt >= RECORDING_CHUNK_MS) cutRecording();
}
function cutRecording(): void {
  if (recording.open) recording.chunks.push(recording.open);
  recording.open = "";
}

const isBackground = (s: GuacScreen) => {
  const p = s.pixel(s.width - 10, s.height - 10);
  return (
    !!p &&
    Math.abs(p.r - DESKTOP_BACKGROUND.r) + Math.abs(p.g - DESKTOP_BACKGROUND.g) + Math.abs(p.b - DESKTOP_BACKGROUND.b) <
      6
  );
};

function type(stream: RdpStream, text: string): void {
  let out = "";
  for (const ch of text) {
    const k = ch === "\n" ? 0xff0d : ch.codePointAt(0)!;
    out += encodeInstruction("key", k, 1) + encodeInstruction("key", k, 0);
  }
  stream.write(Buffer.from(out));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const missing = xrdpMissing() ?? rdpUnavailable();
  if (missing) throw new Error(missing);
  const dir = await mkdtemp(join(tmpdir(), "psm-bench-rdp-"));
  const xrdp = await startXrdp({ dir: join(dir, "xrdp") });
  const users: string[] = [];
  try {
    const firstFrames: number[] = [];
    const rss: number[] = [];
    let last: { o: Open; user: string } | undefined;
    for (let i = 0; i < RUNS; i++) {
      const password = newCanary();
      const user = createTargetUser(password);
      users.push(user);
      const started = performance.now();
      const o = open(xrdp, user, password);
      await waitFor("first desktop frame", async () => (isBackground(o.screen) ? true : undefined), 60_000);
      firstFrames.push(performance.now() - started);
      rss.push(o.stream.rssBytes() ?? 0);
      if (last) last.o.stream.close();
      last = { o, user };
    }
    const { o } = last!;
    // The scripted minute: the xterm moves around (xterm window operations) while commands are typed.
    const heapBefore = process.memoryUsage().heapUsed;
    const outBefore = o.stream.bytesOut;
    const inBefore = o.bytesIn();
    const framesBefore = o.screen.frames;
    const writer = new GuacWriter(Date.now(), true);
    recorded(writer.header());
    o.record(writer);
    o.stream.write(Buffer.from(encodeInstruction("mouse", 200, 150, 0)));
    const moves = Math.floor(ACTIVITY_MS / 500);
    type(
      o.stream,
      `(for i in $(seq ${moves}); do printf '\\033[3;%d;%dt' $((i*7%90)) $((i*5%60)); sleep 0.5; done &)\n`,
    );
    const until = Date.now() + ACTIVITY_MS;
    let n = 0;
    while (Date.now() < until) {
      type(
        o.stream,
        `echo typing line ${n++} ${randomBytes(8).toString("hex")}; ls /usr/bin | head -${5 + (n % 20)}\n`,
      );
      await sleep(2_000);
    }
    const seconds = ACTIVITY_MS / 1000;
    const out = o.stream.bytesOut - outBefore;
    const inBytes = o.bytesIn() - inBefore;
    const frames = o.screen.frames - framesBefore;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    o.record(null);
    writer.finish().forEach(recorded);
    cutRecording();
    let stored = 0;
    for (const [i, chunk] of recording.chunks.entries())
      stored += (await gzipNamed(new TextEncoder().encode(chunk), `bench.${i}`)).byteLength;
    o.stream.close();
    console.log("| figure | value |");
    console.log("| --- | --- |");
    console.log(
      `| first desktop frame after connect (fresh logon, median of ${RUNS}) | ${median(firstFrames).toFixed(0)} ms (${firstFrames.map((f) => f.toFixed(0)).join(", ")}) |`,
    );
    console.log(
      `| toward the browser, scripted ${seconds} s of typing + window movement | ${(out / 1024).toFixed(0)} KiB = ${(out / 1024 / seconds).toFixed(1)} KiB/s, ${frames} frames |`,
    );
    console.log(`| from the browser (keys, mouse) | ${(inBytes / 1024).toFixed(1)} KiB |`);
    console.log(
      `| recording (.guac, input recorded) of those ${seconds} s | ${(recording.text / 1024).toFixed(0)} KiB text, ${(stored / 1024).toFixed(0)} KiB stored in ${recording.chunks.length} gzip chunks = ${((stored / 1024) * (60 / seconds)).toFixed(0)} KiB per minute (+ manifest) |`,
    );
    console.log(`| bridge process RSS per session | ${(median(rss) / 1024 / 1024).toFixed(1)} MiB |`);
    console.log(`| connector heap growth during the minute | ${(heapGrowth / 1024 / 1024).toFixed(1)} MiB |`);
  } finally {
    for (const u of users) removeTargetUser(u);
    await xrdp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
