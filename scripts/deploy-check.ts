// `npm run deploy:check`: bundles the Worker as `wrangler deploy` would (`--dry-run --outdir`, offline, no login)
// and fails (exit 1) when the bundle is over the size budget written in docs/deploy.md. DEPLOY_BUDGET_GZIP_KIB
// and DEPLOY_BUDGET_RAW_KIB override the documented budget (the tests use a tiny one). Exit 2: could not check.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT, runWrangler } from "./deploy-wrangler.ts";

export const BUDGET_DOC = "docs/deploy.md";
const KIB = 1024;

export type Budget = { gzipBytes: number; rawBytes: number };
export type Measured = { files: string[]; rawBytes: number; gzipBytes: number };

/** The budget lines of docs/deploy.md: "- Worker bundle, gzip: **N KiB**" and "- Worker bundle, raw: **N KiB**". */
export function readBudget(doc: string): Budget {
  const kib = (what: string) => {
    const m = new RegExp(`^- Worker bundle, ${what}: \\*\\*(\\d+) KiB\\*\\*`, "m").exec(doc);
    if (!m?.[1]) throw new Error(`${BUDGET_DOC} has no "- Worker bundle, ${what}: **N KiB**" line`);
    return Number(m[1]) * KIB;
  };
  return { gzipBytes: kib("gzip"), rawBytes: kib("raw") };
}

/** The documented budget, with DEPLOY_BUDGET_GZIP_KIB / DEPLOY_BUDGET_RAW_KIB (whole KiB) taking precedence. */
export function budgetFrom(doc: string, env: NodeJS.ProcessEnv): Budget {
  const budget = readBudget(doc);
  const override = (name: string) => {
    const value = env[name];
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new Error(`${name} must be a whole number of KiB`);
    return Number(value) * KIB;
  };
  return {
    gzipBytes: override("DEPLOY_BUDGET_GZIP_KIB") ?? budget.gzipBytes,
    rawBytes: override("DEPLOY_BUDGET_RAW_KIB") ?? budget.rawBytes,
  };
}

/** What `wrangler deploy` would upload from `outdir`: every module, not the source map (not uploaded unless
 * upload_source_maps is set) nor wrangler's README. Compressed as one gzip stream of the modules, level 9. */
export function measure(outdir: string): Measured {
  const files = readdirSync(outdir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(outdir, f)).isFile() && !f.endsWith(".map") && f !== "README.md")
    .sort();
  if (!files.length) throw new Error(`wrangler wrote no modules to ${outdir}`);
  const bytes = Buffer.concat(files.map((f) => readFileSync(join(outdir, f))));
  return { files, rawBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}

/** One sentence per budget the bundle exceeds; empty when it fits. */
export function overBudget(m: Measured, b: Budget): string[] {
  const over: string[] = [];
  if (m.gzipBytes > b.gzipBytes) over.push(`gzip ${kib(m.gzipBytes)} is over the budget of ${kib(b.gzipBytes)}`);
  if (m.rawBytes > b.rawBytes) over.push(`raw ${kib(m.rawBytes)} is over the budget of ${kib(b.rawBytes)}`);
  return over;
}

const kib = (bytes: number) => `${(bytes / KIB).toFixed(1)} KiB`;

/** Builds web/ when web/dist is missing: wrangler refuses a config whose assets directory does not exist. */
export function ensureWebBuilt(): void {
  if (existsSync(join(ROOT, "web", "dist", "index.html"))) return;
  const build = spawnSync("npm", ["run", "build:web"], { cwd: ROOT, stdio: "inherit" });
  if (build.status !== 0) throw new Error("npm run build:web failed");
}

/** `wrangler deploy --dry-run --outdir`: the bundle, without an account or network. The assets directory must
 * exist for wrangler to read the config (assets are uploaded separately and are not part of the Worker's size). */
export async function dryRun(outdir: string): Promise<void> {
  ensureWebBuilt();
  const result = await runWrangler(["deploy", "--dry-run", "--outdir", outdir], { capture: true });
  if (result.code !== 0) throw new Error(`wrangler deploy --dry-run exited ${result.code}`);
}

async function main(): Promise<number> {
  const budget = budgetFrom(readFileSync(join(ROOT, BUDGET_DOC), "utf8"), process.env);
  const outdir = mkdtempSync(join(tmpdir(), "psm-deploy-check-"));
  try {
    await dryRun(outdir);
    const m = measure(outdir);
    console.log(
      `Worker bundle (${m.files.join(", ")}): raw ${kib(m.rawBytes)} of ${kib(budget.rawBytes)}, ` +
        `gzip ${kib(m.gzipBytes)} of ${kib(budget.gzipBytes)} (budget: ${BUDGET_DOC})`,
    );
    const over = overBudget(m, budget);
    for (const line of over) console.error(`over budget: ${line}`);
    return over.length ? 1 : 0;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(ROOT, "scripts/deploy-check.ts")) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`deploy check could not run: ${err instanceof Error ? err.message : err}`);
      process.exit(2);
    },
  );
}
