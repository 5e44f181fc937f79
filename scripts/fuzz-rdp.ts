// `npm run fuzz:rdp -- [seconds]`: the long fuzz campaign on the RDP bridge's reader and dispatcher
// (default 600 s per target, both at once), then what it found that reaches new coverage is merged
// into the corpus in the repo (connector/rdp/bridge/fuzz/corpus/*): commit those files. Exit 1 on a
// finding (the crashing input is kept under build/rdp/fuzz-artifacts), 2 when it cannot run here.
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildBridge,
  corpusDir,
  FUZZ_TARGETS,
  fuzzMissing,
  mergeIntoCorpus,
  runFuzzer,
  SANITIZER_REPORT,
} from "./stack/rdp-fuzz.ts";

const BUILD = fileURLToPath(new URL("../build/rdp/", import.meta.url));

async function main(argv: string[]): Promise<number> {
  const seconds = Number(argv[0] ?? 600);
  if (!Number.isInteger(seconds) || seconds < 1) {
    console.error("usage: npm run fuzz:rdp -- [seconds per target, default 600]");
    return 2;
  }
  const missing = fuzzMissing();
  if (missing) {
    console.error(`cannot fuzz here: ${missing}`);
    return 2;
  }
  await buildBridge(["fuzz"], BUILD);
  let found = false;
  await Promise.all(
    FUZZ_TARGETS.map(async (target) => {
      // The working corpus stays between runs (build/ is not in the repo); only new coverage is merged.
      const work = join(BUILD, `fuzz-corpus/${target}`);
      const artifacts = join(BUILD, `fuzz-artifacts/${target}`);
      await mkdir(work, { recursive: true });
      await mkdir(artifacts, { recursive: true });
      const before = (await readdir(corpusDir(target))).length;
      console.log(`fuzz-${target}: ${seconds} s...`);
      const result = await runFuzzer(BUILD, target, seconds, work, artifacts);
      const s = result.stats;
      console.log(
        s
          ? `fuzz-${target}: ${s.runs} runs, ${s.execsPerSecond} exec/s, cov ${s.coverage}, ft ${s.features}`
          : `fuzz-${target}: no stats`,
      );
      if (result.status !== 0 || SANITIZER_REPORT.test(result.output)) {
        found = true;
        console.error(`fuzz-${target} found a problem; inputs in ${artifacts}:\n${result.output.slice(-8000)}`);
        return;
      }
      const merged = await mergeIntoCorpus(BUILD, target, work);
      if (merged.status !== 0) throw new Error(`merging fuzz-${target} failed:\n${merged.output.slice(-4000)}`);
      const added = (await readdir(corpusDir(target))).length - before;
      console.log(`fuzz-${target}: ${added} new corpus files in ${corpusDir(target)}${added ? ": commit them" : ""}`);
    }),
  );
  return found ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
