// The deploy's size check (scripts/deploy-check.ts) with the real wrangler, offline: today's bundle fits the budget
// written in docs/deploy.md (this is the check CI runs, inside `npm test`), and `npm run deploy:check` exits 1
// naming the budget when the bundle is over it (a 1 KiB budget through DEPLOY_BUDGET_GZIP_KIB).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUDGET_DOC, budgetFrom, dryRun, type Measured, measure, overBudget, readBudget } from "./deploy-check.ts";
import { ROOT } from "./deploy-wrangler.ts";

const doc = readFileSync(join(ROOT, BUDGET_DOC), "utf8");
let dir: string;
let bundle: Measured;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "psm-deploy-check-test-"));
  await dryRun(join(dir, "out"));
  bundle = measure(join(dir, "out"));
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("deploy bundle budget", () => {
  it("fits the budget in docs/deploy.md, which is under Cloudflare's free-plan limit", () => {
    const budget = readBudget(doc);
    expect(budget.gzipBytes).toBeLessThan(3 * 1024 * 1024);
    expect(bundle.files).toContain("index.js");
    expect(bundle.gzipBytes).toBeGreaterThan(100 * 1024);
    expect(overBudget(bundle, budget)).toEqual([]);
  });

  it("names each budget the bundle is over", () => {
    const tight = { gzipBytes: bundle.gzipBytes - 1, rawBytes: bundle.rawBytes - 1 };
    expect(overBudget(bundle, tight)).toEqual([
      expect.stringMatching(/^gzip [\d.]+ KiB is over the budget of [\d.]+ KiB$/),
      expect.stringMatching(/^raw [\d.]+ KiB is over the budget of [\d.]+ KiB$/),
    ]);
    expect(overBudget(bundle, { gzipBytes: bundle.gzipBytes, rawBytes: bundle.rawBytes })).toEqual([]);
  });

  it("measures modules, not source maps or wrangler's README, as one gzip stream", () => {
    const out = mkdtempSync(join(dir, "fixture-"));
    const files = { "index.js": "a".repeat(5000), "chunk.wasm": "b".repeat(3000), "index.js.map": "c".repeat(9000) };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(out, name), text);
    writeFileSync(join(out, "README.md"), "wrangler's note");
    const m = measure(out);
    expect(m.files).toEqual(["chunk.wasm", "index.js"]);
    expect(m.rawBytes).toBe(8000);
    expect(m.gzipBytes).toBe(gzipSync(Buffer.from("b".repeat(3000) + "a".repeat(5000)), { level: 9 }).length);
  });

  it("takes an override in whole KiB and refuses anything else", () => {
    expect(budgetFrom(doc, { DEPLOY_BUDGET_GZIP_KIB: "1" }).gzipBytes).toBe(1024);
    expect(budgetFrom(doc, { DEPLOY_BUDGET_GZIP_KIB: "1" }).rawBytes).toBe(readBudget(doc).rawBytes);
    expect(() => budgetFrom(doc, { DEPLOY_BUDGET_RAW_KIB: "1e9" })).toThrow(/whole number of KiB/);
    expect(() => readBudget("no budget here")).toThrow(/has no "- Worker bundle, gzip/);
  });

  it("exits 1 from `npm run deploy:check` when the bundle is over the budget", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/deploy-check.ts"],
        { cwd: ROOT, env: { ...process.env, DEPLOY_BUDGET_GZIP_KIB: "1" } },
        (err, stdout, stderr) => resolve({ code: err ? ((err.code as number) ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(code).toBe(1);
    expect(stdout).toMatch(/Worker bundle \(index\.js\): raw [\d.]+ KiB of [\d.]+ KiB, gzip [\d.]+ KiB of 1\.0 KiB/);
    expect(stderr).toMatch(/over budget: gzip [\d.]+ KiB is over the budget of 1\.0 KiB/);
    expect(stderr).not.toMatch(/over budget: raw/);
  }, 180_000);
});
