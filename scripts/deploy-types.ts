// `npm run types`: writes the Worker's binding types (worker/worker-configuration.d.ts) with `wrangler types`
// from wrangler.toml. `npm run types:check` regenerates them to a temporary file and fails (exit 1) when the
// committed file differs, so a binding added to wrangler.toml without regenerating fails CI (docs/deploy.md).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT, runWrangler } from "./deploy-wrangler.ts";

export const TYPES_FILE = "worker/worker-configuration.d.ts";

/** Runtime types come from @cloudflare/workers-types (tsconfig.json); vars are typed `string`, since tests and
 * .dev.vars set other values; secrets are not read from a developer's .dev.vars (an empty env file instead),
 * so every machine generates the same file. Secrets are typed by hand in worker/env.ts. */
const FLAGS = ["--include-runtime=false", "--strict-vars=false", "--env-file=/dev/null"];

async function generate(path: string): Promise<void> {
  const result = await runWrangler(["types", path, ...FLAGS], { capture: true });
  if (result.code !== 0) throw new Error(`wrangler types exited ${result.code}`);
}

/** The file as if generated at `asPath`: the command line in its header and its relative imports name the
 * path it was written to. The header's hash is dropped: wrangler hashes the text with those imports in it, and
 * everything the hash covers is compared line by line. */
export function asIfAt(text: string, writtenTo: string, asPath: string): string {
  const from = dirname(resolve(ROOT, writtenTo));
  const to = dirname(resolve(ROOT, asPath));
  return withoutHash(text)
    .replaceAll(`wrangler types ${writtenTo} `, `wrangler types ${asPath} `)
    .replace(/import\("(\.{1,2}\/[^"]*)"\)/g, (_m, spec: string) => {
      const moved = relative(to, resolve(from, spec));
      return `import("${moved.startsWith(".") ? moved : `./${moved}`}")`;
    });
}

export const withoutHash = (text: string) => text.replace(/ \(hash: [0-9a-f]+\)$/m, "");

/** The first line that differs, numbered from 1, or null when the texts are equal. */
export function firstDifference(a: string, b: string): { line: number; committed: string; fresh: string } | null {
  if (a === b) return null;
  const x = a.split("\n");
  const y = b.split("\n");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return { line: i + 1, committed: x[i] ?? "(end of file)", fresh: y[i] ?? "(end of file)" };
  }
  return null;
}

/** The types as `npm run types` would write them now (without the header's hash), generated to a temporary file. */
export async function regenerated(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "psm-types-"));
  try {
    const fresh = join(dir, "worker-configuration.d.ts");
    await generate(fresh);
    return asIfAt(readFileSync(fresh, "utf8"), fresh, TYPES_FILE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where `committed` (the text of TYPES_FILE) differs from freshly generated types, or null when it is current. */
export const staleness = (committed: string, fresh: string) => firstDifference(withoutHash(committed), fresh);

async function main(argv: string[]): Promise<number> {
  if (!argv.includes("--check")) {
    await generate(TYPES_FILE);
    return 0;
  }
  let committed: string;
  try {
    committed = readFileSync(join(ROOT, TYPES_FILE), "utf8");
  } catch {
    console.error(`${TYPES_FILE} is missing: run \`npm run types\` and commit it.`);
    return 1;
  }
  const diff = staleness(committed, await regenerated());
  if (diff) {
    console.error(
      `${TYPES_FILE} is out of date with wrangler.toml: run \`npm run types\` and commit it.\n` +
        `  line ${diff.line}, committed: ${diff.committed.trim()}\n  line ${diff.line}, generated: ${diff.fresh.trim()}`,
    );
    return 1;
  }
  console.log(`${TYPES_FILE} is current.`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(ROOT, "scripts/deploy-types.ts")) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(2);
    },
  );
}
