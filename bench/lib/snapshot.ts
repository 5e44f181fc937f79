// Runs the benchmark on a frozen copy of the working tree. `wrangler dev` rebuilds and restarts the
// Worker whenever a source file it bundled changes, which drops every open session (seen here: an
// edit elsewhere in the tree during a run closed all sockets with 1006). Copying the tree (tracked
// and untracked, not ignored files, plus the built web/dist) to a temporary folder and running from
// there measures one consistent version of the code, whatever is edited meanwhile.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type Provenance = { commit: string; dirtyFiles: number };

export function provenance(root: string): Provenance {
  const git = (args: string[]) => spawnSync("git", args, { cwd: root, encoding: "utf8" }).stdout?.trim() ?? "";
  return {
    commit: git(["rev-parse", "--short", "HEAD"]) || "unknown",
    dirtyFiles: git(["status", "--porcelain"]).split("\n").filter(Boolean).length,
  };
}

/**
 * The tree at git revision `rev` in a temp folder (for `bench:experiment -- at:<rev>`: an older build beside
 * today's), with today's node_modules and built web/dist linked in.
 */
export function snapshotAt(root: string, rev: string): string {
  const dir = mkdtempSync(join(tmpdir(), "psm-bench-rev-"));
  const archive = spawnSync("sh", ["-c", `git archive --format=tar "$0" | tar -x -C "$1"`, rev, dir], { cwd: root });
  if (archive.status !== 0) throw new Error(`git archive ${rev} failed: ${archive.stderr}`);
  if (existsSync(join(root, "web", "dist")))
    cpSync(join(root, "web", "dist"), join(dir, "web", "dist"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** Copies the tree to a temp folder; node_modules folders become symlinks to the real ones. */
export function snapshot(root: string): string {
  const dir = mkdtempSync(join(tmpdir(), "psm-bench-src-"));
  const list = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: root, encoding: "utf8" });
  if (list.status !== 0) throw new Error(`git ls-files failed: ${list.stderr}`);
  for (const file of list.stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(root, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(root, file), join(dir, file));
  }
  if (existsSync(join(root, "web", "dist")))
    cpSync(join(root, "web", "dist"), join(dir, "web", "dist"), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "bench", "wetty"), { recursive: true });
  if (existsSync(join(root, "bench", "wetty", "node_modules")))
    symlinkSync(join(root, "bench", "wetty", "node_modules"), join(dir, "bench", "wetty", "node_modules"));
  return dir;
}

/**
 * Re-runs `script` (a path inside the tree, relative to root) from a snapshot, with `env` added;
 * forwards SIGINT/SIGTERM so the child can stop what it started, and removes the copy afterwards.
 */
export async function runInSnapshot(root: string, script: string, env: Record<string, string>): Promise<number> {
  const dir = snapshot(root);
  const child = spawn(process.execPath, ["--import", "tsx", join(dir, script), ...process.argv.slice(2)], {
    cwd: dir,
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => child.once("exit", (c, s) => resolve(c ?? (s ? 130 : 1))));
  process.off("SIGINT", forward);
  process.off("SIGTERM", forward);
  rmSync(dir, { recursive: true, force: true });
  return code;
}
