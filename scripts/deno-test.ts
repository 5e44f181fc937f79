// `npm run test:deno`: protocol/ and the edge's pure cores under Deno (docs/deno.md). It first checks that nothing the
// Deno-run tests load imports a Node module, and that no code among it (tests aside) reads a Node global, so the edge
// code stays on web APIs; then it runs those same vitest files with `deno test` from node_modules (npm package
// `deno`), offline, with no permission but reading the environment. scripts/deno-test.test.ts runs the check in
// `vitest run` too.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { importsOf } from "./check-boundaries.ts";

/** Folders whose unit tests (`*.test.ts`, not `*.workers.test.ts`) run under Deno, with everything below them. */
export const DENO_DIRS = [
  "protocol",
  "keys",
  "recording",
  "durable",
  "worker/access",
  "worker/auth",
  "worker/notify",
  "worker/scim",
];

/** Tests elsewhere that run under Deno: the grant verifier (connector/grant.ts) is jose and protocol/ only. */
export const DENO_FILES = ["connector/grant.test.ts"];

/**
 * Tests in DENO_DIRS left to Node, each with the reason. scripts/deno-test.test.ts fails when one of them no
 * longer imports a Node module: then it belongs under Deno.
 */
export const NODE_ONLY: Record<string, string> = {
  "protocol/private-key.test.ts":
    "checks the key parser against OpenSSH's ssh-keygen and ssh2 (node:child_process, node:fs, node:crypto); " +
    "the parser itself (protocol/private-key.ts) is web-only and checked",
  "worker/notify/webhook.test.ts":
    "delivers to a real HTTP receiver on loopback (node:http) and checks the signature with node:crypto; " +
    "webhook.ts itself is web-only and checked",
};

/** Source files checked even though no Deno-run test loads them: protocol/ is imported everywhere. */
const ALWAYS_CHECKED = ["protocol"];

const isUnitTest = (file: string) => file.endsWith(".test.ts") && !file.endsWith(".workers.test.ts");
const NODE_BUILTINS = new Set(builtinModules);

function filesUnder(root: string, dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .map((f) => `${dir}/${f.split("\\").join("/")}`)
    .filter((f) => !f.includes("node_modules/"));
}

/** The test files `deno test` runs, sorted, relative to the root with `/`. */
export function denoTestFiles(root: string): string[] {
  const found = DENO_DIRS.flatMap((dir) => filesUnder(root, dir)).filter(isUnitTest);
  return [...found, ...DENO_FILES].filter((f) => !(f in NODE_ONLY)).sort();
}

export type NodeUse = { file: string; line: number; specifier: string; via: string[]; global?: boolean };

/** What a module specifier names that Deno's web platform does not have, or null. */
function runtimeModule(specifier: string): string | null {
  if (specifier.startsWith("node:")) return "a Node module";
  if (specifier.startsWith("cloudflare:")) return "a Workers-only module";
  if (NODE_BUILTINS.has(specifier) || NODE_BUILTINS.has(specifier.split("/")[0] ?? "")) return "a Node module";
  return null;
}

/**
 * Node's own globals. Deno 2 has `Buffer` and `process` too, so running under Deno would not catch them, but the
 * Worker runs without `nodejs_compat` (wrangler.toml): a core must not use them. Tests may (they never ship).
 */
const NODE_GLOBALS = new Set([
  "Buffer",
  "process",
  "require",
  "module",
  "__dirname",
  "__filename",
  "global",
  "setImmediate",
]);

/** Lines where `text` reads a Node global: `Buffer.from(…)`, `process.env`, `require(…)`, `new Buffer(…)`. */
function nodeGlobalsIn(file: string, text: string): { name: string; line: number }[] {
  // setParentNodes: the check looks at each identifier's parent.
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { name: string; line: number }[] = [];
  const visit = (node: ts.Node) => {
    const parent = node.parent;
    const read =
      ts.isIdentifier(node) &&
      NODE_GLOBALS.has(node.text) &&
      ((ts.isPropertyAccessExpression(parent) && parent.expression === node) ||
        ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression === node));
    if (read)
      found.push({ name: node.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * Every `node:` (or bare Node built-in, or `cloudflare:`) import reachable from `entries` through relative imports
 * that load at run time, and every read of a Node global in the non-test files among them. `import type` is erased
 * before anything runs, so it is not followed; `import { type A }` and `import()` are. Packages are not followed:
 * Deno loads npm packages with its Node compatibility.
 */
export function nodeUses(root: string, entries: string[]): NodeUse[] {
  const found: NodeUse[] = [];
  const via = new Map<string, string[]>(entries.map((e) => [e, []]));
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const path = via.get(file)!;
    const text = readFileSync(join(root, file), "utf8");
    for (const { specifier, typeOnly, line } of importsOf(file, text)) {
      if (typeOnly) continue;
      if (specifier.startsWith(".")) {
        const target = join(dirname(file), specifier).split("\\").join("/");
        if (!via.has(target) && existsSync(join(root, target))) {
          via.set(target, [...path, file]);
          queue.push(target);
        }
      } else if (runtimeModule(specifier)) {
        found.push({ file, line, specifier, via: path });
      }
    }
    if (!file.endsWith(".test.ts"))
      for (const { name, line } of nodeGlobalsIn(file, text))
        found.push({ file, line, specifier: name, via: path, global: true });
  }
  return found.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** The files the check covers: the Deno-run tests (and all they load) and protocol/'s sources. */
export function checkedEntries(root: string): string[] {
  const sources = ALWAYS_CHECKED.flatMap((dir) => filesUnder(root, dir)).filter(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
  );
  return [...denoTestFiles(root), ...sources];
}

export const describeUse = (n: NodeUse) =>
  (n.global
    ? `${n.file}:${n.line} uses Node's global ${n.specifier}`
    : `${n.file}:${n.line} imports "${n.specifier}" (${runtimeModule(n.specifier)})`) +
  (n.via.length ? `, loaded by ${[...n.via].reverse().join(" <- ")}` : "");

/** Runs `deno test` on `files` (relative to `root`) with the vitest shim, offline, from node_modules. */
export function runDeno(root: string, files: string[], stdio: "inherit" | "pipe", env: Record<string, string> = {}) {
  const deno = join(root, "node_modules", ".bin", "deno");
  if (!existsSync(deno))
    throw new Error("node_modules/.bin/deno is missing: run npm ci (the npm package `deno` is a devDependency)");
  const config = join(root, "test", "deno", "deno.jsonc");
  const run = spawnSync(deno, ["test", "--no-check", "--config", config, "--allow-env", ...files], {
    cwd: root,
    stdio,
    encoding: "utf8",
    // Offline and self-contained: no update check, and Deno's cache inside node_modules.
    env: {
      ...process.env,
      DENO_NO_UPDATE_CHECK: "1",
      DENO_DIR: join(root, "node_modules", ".cache", "deno"),
      ...env,
    },
  });
  if (run.error) throw run.error;
  return run;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const problems = nodeUses(root, checkedEntries(root));
  for (const p of problems) console.error(describeUse(p));
  if (problems.length) {
    console.error(`${problems.length} use(s) of Node in code that must run on web APIs alone (docs/deno.md)`);
    process.exit(1);
  }
  const all = denoTestFiles(root);
  // `npm run test:deno -- FILE…` runs some of them; the check above always covers all.
  const asked = process.argv.slice(2);
  const unknown = asked.filter((f) => !all.includes(f));
  if (unknown.length) {
    console.error(`not in the Deno-run set (scripts/deno-test.ts): ${unknown.join(", ")}`);
    process.exit(1);
  }
  console.log(`deno test: ${asked.length || all.length} of the ${all.length} Deno-run files; none uses Node`);
  const run = runDeno(root, asked.length ? asked : all, "inherit");
  process.exit(run.status ?? 1);
}
