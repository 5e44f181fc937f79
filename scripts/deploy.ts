// `npm run deploy`: deploys the edge with the D1 database looked up by name (or created), no id edited by hand.
// 1. `wrangler d1 list --json`; a database wrangler.toml names that the account lacks is made with `wrangler d1 create`.
// 2. A generated config, .wrangler/psm-deploy/wrangler.json: wrangler.toml with the real database ids and its
//    relative paths made absolute (wrangler resolves them against the config's own folder). The committed
//    wrangler.toml keeps its placeholder id, which `wrangler dev` and the tests use for local D1.
// 3. `wrangler d1 migrations apply <name> --remote`, then `wrangler deploy`, both with the generated config.
// Any wrangler failure stops the run before `wrangler deploy`. Extra arguments go to `wrangler deploy`.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { ROOT, runWrangler, type Wrangler } from "./deploy-wrangler.ts";

export const GENERATED_CONFIG = ".wrangler/psm-deploy/wrangler.json";

export class DeployError extends Error {}

/** The account's databases as `wrangler d1 list --json` prints them (the D1 API's objects; more fields pass). */
const DatabaseList = z.array(z.object({ uuid: z.string().min(1), name: z.string().min(1) }));
type Database = z.infer<typeof DatabaseList>[number];

type RawConfig = Record<string, unknown> & {
  d1_databases?: { binding?: string; database_name?: string; database_id?: string; migrations_dir?: string }[];
};

export type DeployPlan = {
  wrangler: Wrangler;
  /** The committed config (wrangler.toml). */
  configPath: string;
  /** Where the config with real ids is written. */
  generatedPath: string;
  deployArgs?: string[];
  log?: (line: string) => void;
};

export type DeployResult = { databases: { name: string; id: string; created: boolean }[]; config: string };

export async function readRawConfig(configPath: string): Promise<RawConfig> {
  const { experimental_readRawConfig } = await import("wrangler");
  return experimental_readRawConfig({ config: configPath }).rawConfig as RawConfig;
}

async function call(wrangler: Wrangler, args: string[], consequence: string, capture = false) {
  const result = await wrangler(args, { capture });
  if (result.code !== 0) {
    throw new DeployError(`\`wrangler ${args.join(" ")}\` failed (exit ${result.code}); ${consequence}`);
  }
  return result;
}

async function listDatabases(wrangler: Wrangler): Promise<Database[]> {
  const { stdout } = await call(wrangler, ["d1", "list", "--json"], "nothing was created or deployed", true);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new DeployError("`wrangler d1 list --json` did not print JSON; nothing was created or deployed");
  }
  const list = DatabaseList.safeParse(parsed);
  if (!list.success) {
    throw new DeployError("`wrangler d1 list --json` printed an unexpected shape; nothing was created or deployed");
  }
  return list.data;
}

/** Path settings wrangler resolves against the config file's folder, made absolute against `base`. */
export function absolutePaths(raw: RawConfig, base: string): RawConfig {
  const config = structuredClone(raw);
  if (config.env !== undefined) {
    throw new DeployError("wrangler.toml has [env.*] sections, which scripts/deploy.ts does not rewrite");
  }
  const abs = (p: unknown) => (typeof p === "string" && !isAbsolute(p) ? resolve(base, p) : p);
  for (const key of ["main", "base_dir", "tsconfig"]) if (key in config) config[key] = abs(config[key]);
  for (const [section, key] of [
    ["assets", "directory"],
    ["site", "bucket"],
    ["build", "cwd"],
    ["build", "watch_dir"],
  ] as const) {
    const s = config[section] as Record<string, unknown> | undefined;
    if (s && key in s) s[key] = abs(s[key]);
  }
  for (const db of config.d1_databases ?? [])
    if (db.migrations_dir) db.migrations_dir = abs(db.migrations_dir) as string;
  const alias = config.alias as Record<string, string> | undefined;
  for (const [from, to] of Object.entries(alias ?? {})) if (to.startsWith(".")) alias![from] = resolve(base, to);
  return config;
}

export async function deploy(plan: DeployPlan): Promise<DeployResult> {
  const log = plan.log ?? console.log;
  const raw = await readRawConfig(plan.configPath);
  const wanted = (raw.d1_databases ?? []).map((db) => db.database_name);
  if (wanted.some((name) => !name)) throw new DeployError("a [[d1_databases]] entry has no database_name");
  const names = [...new Set(wanted as string[])];

  let existing = await listDatabases(plan.wrangler);
  const created = new Set<string>();
  for (const name of names) {
    if (existing.some((db) => db.name === name)) continue;
    log(`D1 database ${name} does not exist in this account: creating it.`);
    await call(
      plan.wrangler,
      ["d1", "create", name, "--update-config=false"],
      "no migration was applied and nothing was deployed",
    );
    created.add(name);
  }
  if (created.size) existing = await listDatabases(plan.wrangler);

  const databases = names.map((name) => {
    const found = existing.filter((db) => db.name === name);
    if (found.length !== 1) {
      throw new DeployError(
        `the account lists ${found.length} D1 databases named ${name} (expected one); nothing was deployed`,
      );
    }
    return { name, id: found[0]!.uuid, created: created.has(name) };
  });
  for (const db of databases) log(`D1 database ${db.name}: ${db.id}${db.created ? " (created)" : ""}`);

  const config = absolutePaths(raw, dirname(resolve(plan.configPath)));
  for (const entry of config.d1_databases ?? []) {
    entry.database_id = databases.find((db) => db.name === entry.database_name)!.id;
  }
  mkdirSync(dirname(plan.generatedPath), { recursive: true });
  writeFileSync(plan.generatedPath, `${JSON.stringify(config, null, 2)}\n`);

  for (const entry of config.d1_databases ?? []) {
    if (!entry.migrations_dir) continue;
    await call(
      plan.wrangler,
      ["d1", "migrations", "apply", entry.database_name!, "--remote", "--config", plan.generatedPath],
      "migrations applied before the failing one stay applied; the Worker was not deployed",
    );
  }
  await call(
    plan.wrangler,
    ["deploy", "--config", plan.generatedPath, ...(plan.deployArgs ?? [])],
    "the Worker was not deployed",
  );
  return { databases, config: plan.generatedPath };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(ROOT, "scripts/deploy.ts")) {
  deploy({
    wrangler: runWrangler,
    configPath: join(ROOT, "wrangler.toml"),
    generatedPath: join(ROOT, GENERATED_CONFIG),
    deployArgs: process.argv.slice(2),
  }).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`deploy stopped: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
