// Builds and runs the RDP bridge's sanitized tests and libFuzzer targets (connector/rdp/bridge/test,
// fuzz): used by connector/rdp/bridge-sanitized.test.ts (a short campaign in `npm test`) and by
// `npm run fuzz:rdp -- <seconds>` (a long one that adds what it finds to the corpus in the repo).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BRIDGE_DIR = fileURLToPath(new URL("../../connector/rdp/bridge/", import.meta.url));
export const FUZZ_TARGETS = ["reader", "dispatch"] as const;
export type FuzzTarget = (typeof FUZZ_TARGETS)[number];

/** The seed corpus of a target, kept in the repo. */
export function corpusDir(target: FuzzTarget): string {
  return `${BRIDGE_DIR}fuzz/corpus/${target}`;
}

const FREERDP_PKGS = ["freerdp2", "freerdp-client2", "winpr2", "libpng", "libjpeg", "openssl"];
const HOW =
  "apt-get install clang libclang-rt-14-dev freerdp2-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev pkg-config build-essential";

function ok(command: string, args: string[], input?: string): boolean {
  return (
    spawnSync(command, args, { input, stdio: [input === undefined ? "ignore" : "pipe", "ignore", "ignore"] }).status ===
    0
  );
}

/** Whether `cc` builds and links a tiny C program with these flags. */
function compiles(cc: string, flags: string[], source: string): boolean {
  return ok(cc, [...flags, "-x", "c", "-", "-o", "/dev/null"], source);
}

function commonMissing(): string | undefined {
  if (process.platform !== "linux") return `the RDP bridge builds on Linux only (${process.platform})`;
  if (!ok("make", ["--version"])) return `make is missing: ${HOW}`;
  if (!ok("pkg-config", ["--exists", ...FREERDP_PKGS])) return `FreeRDP 2 development files are missing: ${HOW}`;
  return undefined;
}

/** The compiler for the sanitized tests (clang, or cc), as the Makefile picks it. */
function testCompiler(): string {
  return ok("clang", ["--version"]) ? "clang" : "cc";
}

/** Why the sanitized C tests cannot be built here, or undefined. */
export function sanitizedTestsMissing(): string | undefined {
  const missing = commonMissing();
  if (missing) return missing;
  const cc = testCompiler();
  if (!compiles(cc, ["-fsanitize=address,undefined"], "int main(void){return 0;}"))
    return `${cc} cannot build with -fsanitize=address,undefined: ${HOW}`;
  return undefined;
}

/** Why the libFuzzer targets cannot be built here, or undefined. */
export function fuzzMissing(): string | undefined {
  const missing = commonMissing();
  if (missing) return missing;
  const target = "int LLVMFuzzerTestOneInput(const char* d, unsigned long n) { (void)d; (void)n; return 0; }";
  if (!compiles("clang", ["-fsanitize=fuzzer,address,undefined"], target))
    return `clang with libFuzzer (-fsanitize=fuzzer) is missing: ${HOW}`;
  return undefined;
}

export type Run = { status: number | null; output: string };

function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      // Only the end matters (the verdict and any sanitizer report): keep at most 1 MiB.
      if (output.length > 1024 * 1024) output = output.slice(-512 * 1024);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

/** Builds `make` targets (`test`, `fuzz`) into `out`. Throws with the compiler's output on failure. */
export async function buildBridge(targets: string[], out: string): Promise<void> {
  const result = await run("make", ["-s", "-C", BRIDGE_DIR, ...targets, `OUT=${out}`], 300_000);
  if (result.status !== 0) throw new Error(`make ${targets.join(" ")} failed:\n${result.output.slice(-8000)}`);
}

/** A sanitizer or libFuzzer report in the output: always a failure, whatever the exit status. */
export const SANITIZER_REPORT =
  /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: UndefinedBehavior/;

/** Runs the sanitized test harness built by `buildBridge(["test"], out)`. */
export function runSanitizedTests(out: string): Promise<Run> {
  return run(`${out}/test/bridge-test`, [], 120_000);
}

export type FuzzStats = {
  target: FuzzTarget;
  runs: number;
  execsPerSecond: number;
  coverage: number;
  features: number;
};

/**
 * Runs one fuzz target for `seconds`, new inputs going to `workDir` (the repo's corpus is only read).
 * Crash inputs are written under `artifactDir`.
 */
export async function runFuzzer(
  out: string,
  target: FuzzTarget,
  seconds: number,
  workDir: string,
  artifactDir: string,
): Promise<Run & { stats?: FuzzStats }> {
  const binary = `${out}/fuzz/fuzz-${target}`;
  if (!existsSync(binary)) throw new Error(`${binary} is not built`);
  const result = await run(
    binary,
    [
      `-max_total_time=${seconds}`,
      "-max_len=4096", // bytes per input; the reader target lowers its bound to 1 KiB, so this crosses it
      "-timeout=10", // s per input: a hang is a failure
      "-rss_limit_mb=1024",
      "-close_fd_mask=3", // the bridge's own log lines; libFuzzer and sanitizer reports still print
      "-print_final_stats=1",
      `-artifact_prefix=${artifactDir}/`,
      workDir,
      corpusDir(target),
    ],
    (seconds + 120) * 1000,
  );
  const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(result.output);
  const speed = /stat::average_exec_per_sec:\s*(\d+)/.exec(result.output);
  const done = [...result.output.matchAll(/#\d+\s+\w+\s+cov: (\d+) ft: (\d+)/g)].at(-1);
  const stats =
    runs && speed && done
      ? {
          target,
          runs: Number(runs[1]),
          execsPerSecond: Number(speed[1]),
          coverage: Number(done[1]),
          features: Number(done[2]),
        }
      : undefined;
  return { ...result, stats };
}

/** Adds to the repo's corpus the inputs of `workDir` that reach new coverage (libFuzzer's merge). */
export function mergeIntoCorpus(out: string, target: FuzzTarget, workDir: string): Promise<Run> {
  return run(`${out}/fuzz/fuzz-${target}`, ["-merge=1", "-close_fd_mask=3", corpusDir(target), workDir], 600_000);
}
