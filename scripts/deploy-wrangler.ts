// Runs the project's wrangler CLI for the deploy scripts (deploy.ts, deploy-check.ts, deploy-types.ts).
// WRANGLER names another executable: the tests point it at a stub (test/fakes/wrangler.mjs).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export type WranglerResult = { code: number; stdout: string; stderr: string };
/** Runs `wrangler <args>`. `capture` keeps stdout (bounded) for parsing; otherwise it goes to the terminal,
 * as do wrangler's prompts (login, confirmations). stderr is always shown and its tail kept for errors. */
export type Wrangler = (args: string[], opts?: { capture?: boolean }) => Promise<WranglerResult>;

/** Output kept for parsing or an error message; wrangler's JSON lists are a few KiB. What is past it is dropped. */
const MAX_CAPTURE_CHARS = 4 * 1024 * 1024;
const STDERR_TAIL_CHARS = 4096;

export function wranglerBin(): string {
  return process.env.WRANGLER ?? join(ROOT, "node_modules", ".bin", "wrangler");
}

export const runWrangler: Wrangler = (args, opts = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(wranglerBin(), args, {
      cwd: ROOT,
      stdio: ["inherit", opts.capture ? "pipe" : "inherit", "pipe"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      if (stdout.length < MAX_CAPTURE_CHARS) stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      process.stderr.write(d);
      stderr = (stderr + d).slice(-STDERR_TAIL_CHARS);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
