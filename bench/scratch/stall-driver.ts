// Temporary: snapshot + debug patch + run stall.ts inside.
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack/edge.ts";
import { snapshot } from "../lib/snapshot.ts";
const dir = snapshot(ROOT);
const f = join(dir, "connector/session.ts");
let s = readFileSync(f, "utf8");
const anchor = "  private attachShell(stream: ClientChannel): void {\n    this.stream = stream;";
if (!s.includes(anchor)) throw new Error("anchor");
s = s.replace(
  anchor,
  anchor +
    `
    const dbg = setInterval(() => {
      const ch = stream as unknown as { incoming: { window: number }; _waitChanDrain: boolean };
      this.log("debug", { credit: this.credit.bytes, paused: stream.isPaused(), readable: stream.readableLength, flowing: (stream as any).readableFlowing, window: ch.incoming.window, waitDrain: ch._waitChanDrain, wsBuffered: this.ws?.bufferedAmount });
    }, 1000);
    stream.once("close", () => clearInterval(dbg));`,
);
writeFileSync(f, s);
const child = spawn(process.execPath, ["--import", "tsx", join(dir, "bench/scratch/stall.ts")], {
  cwd: dir,
  stdio: "inherit",
  env: { ...process.env, BENCH_OUT_ROOT: ROOT },
});
const code = await new Promise((r) => child.once("exit", r));
rmSync(dir, { recursive: true, force: true });
process.exit(code as number);
