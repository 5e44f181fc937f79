// The RDP bridge's C tests under AddressSanitizer + UBSan (clipboard sequences that once freed the
// paste buffer twice, the reader's split property, `connect` and its wipe, every key of a full
// keyboard to its scancode and flags, each keyboard layout's characters), and a short libFuzzer
// campaign on the reader and the dispatcher from the corpus in the repo. Without clang/cc or
// FreeRDP's development files these skip with the reason; under CI=true they fail instead.
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MAX_GUAC_INSTRUCTION } from "../../protocol/guacamole.ts";
import { KEYBOARD_LAYOUTS } from "../../protocol/keyboard-layout.ts";
import {
  BRIDGE_DIR,
  buildBridge,
  FUZZ_TARGETS,
  fuzzMissing,
  runFuzzer,
  runSanitizedTests,
  SANITIZER_REPORT,
  sanitizedTestsMissing,
} from "../../scripts/stack/rdp-fuzz.ts";
import { describeWithPeers } from "../../test/support/peers.ts";

/** Seconds per fuzz target in `npm test` (both run at once); `npm run fuzz:rdp -- 600` for longer. */
const FUZZ_SECONDS = Number(process.env.PSM_FUZZ_SECONDS ?? 10);

/**
 * Each build goes to a private folder (other checkouts' test runs may build at the same time), and
 * starts once: the fuzz targets build while the sanitized tests run.
 */
const builds = new Map<"test" | "fuzz", Promise<string>>();
function build(kind: "test" | "fuzz"): Promise<string> {
  let promise = builds.get(kind);
  if (!promise) {
    promise = mkdtemp(join(tmpdir(), `psm-bridge-${kind}-`)).then(async (out) => {
      await buildBridge([kind], out);
      return out;
    });
    builds.set(kind, promise);
  }
  return promise;
}

it("bounds an instruction the same in the bridge and in the connector", async () => {
  const header = await readFile(join(BRIDGE_DIR, "guac.h"), "utf8");
  const match = /#define GUAC_MAX_INSTRUCTION \((\d+) \* 1024\)/.exec(header);
  expect(match && Number(match[1]) * 1024).toBe(MAX_GUAC_INSTRUCTION);
});

it("knows the same keyboard layouts in the bridge and in the protocol", async () => {
  // The bridge refuses a `connect` naming any other, so the two lists must be one.
  const tables = await readFile(join(BRIDGE_DIR, "layouts.c"), "utf8");
  const names = [...tables.matchAll(/= LAYOUT\("([a-z-]+)", 0x[0-9a-f]+, \w+\);/g)].map((m) => m[1]);
  expect(names).toEqual([...KEYBOARD_LAYOUTS]);
});

describeWithPeers("RDP bridge tests under ASan + UBSan", sanitizedTestsMissing(), () => {
  let out: string;
  beforeAll(async () => {
    if (!fuzzMissing()) build("fuzz").catch(() => {}); // reported by its own tests
    out = await build("test");
  }, 180_000);
  afterAll(() => rm(out, { recursive: true, force: true }));

  it("passes every check with no sanitizer report", async () => {
    const result = await runSanitizedTests(out);
    expect(result.output).not.toMatch(SANITIZER_REPORT);
    expect(result.status, result.output.slice(-4000)).toBe(0);
    expect(result.output).toContain("bridge-test: all checks passed");
  }, 120_000);
});

describeWithPeers("RDP bridge fuzz targets (libFuzzer)", fuzzMissing(), () => {
  let out: string;
  beforeAll(async () => {
    out = await build("fuzz");
  }, 180_000);
  afterAll(() => rm(out, { recursive: true, force: true }));

  it(
    `runs the reader and the dispatcher for ${FUZZ_SECONDS} s each without a finding`,
    async () => {
      const results = await Promise.all(
        FUZZ_TARGETS.map(async (target) => {
          const work = join(out, `corpus-${target}`);
          const artifacts = join(out, `artifacts-${target}`);
          await mkdir(work);
          await mkdir(artifacts);
          const result = await runFuzzer(out, target, FUZZ_SECONDS, work, artifacts);
          return { target, result, found: await readdir(artifacts) };
        }),
      );
      for (const { target, result, found } of results) {
        const s = result.stats;
        if (s)
          console.log(
            `fuzz-${target}: ${s.runs} runs, ${s.execsPerSecond} exec/s, cov ${s.coverage}, ft ${s.features} in ${FUZZ_SECONDS} s`,
          );
        const tail = result.output.slice(-6000);
        expect(found, `${target} wrote ${found.join(", ")}:\n${tail}`).toEqual([]);
        expect(result.output, tail).not.toMatch(SANITIZER_REPORT);
        expect(result.status, tail).toBe(0);
      }
    },
    (FUZZ_SECONDS + 120) * 1000,
  );
});
