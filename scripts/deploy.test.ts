// `npm run deploy` (scripts/deploy.ts) against a stubbed wrangler (test/fakes/wrangler.ts; Cloudflare's API cannot
// run here): the D1 database is created when the account lacks it and reused when it has it, its id reaches
// migrations and deploy through the generated config while wrangler.toml stays as committed, and a failing
// wrangler stops the run before anything is deployed. The generated config bundles like wrangler.toml (real
// wrangler, --dry-run, offline).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FakeAccount, fakeAccount, fakeWrangler } from "../test/fakes/wrangler.ts";
import { DeployError, deploy, readRawConfig } from "./deploy.ts";
import { ensureWebBuilt } from "./deploy-check.ts";
import { ROOT, runWrangler } from "./deploy-wrangler.ts";

const CONFIG = join(ROOT, "wrangler.toml");
const committed = readFileSync(CONFIG, "utf8");
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "psm-deploy-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (account: FakeAccount, deployArgs: string[] = []) =>
  deploy({
    wrangler: fakeWrangler(account),
    configPath: CONFIG,
    generatedPath: join(dir, `${Math.random().toString(36).slice(2)}.json`),
    deployArgs,
    log: () => {},
  });

describe("deploy with the D1 database looked up by name", () => {
  it("creates the database when the account lacks it, then migrates and deploys with its id", async () => {
    const account = fakeAccount(["other"]);
    const result = await run(account);
    const psm = account.databases.find((db) => db.name === "psm");
    expect(psm).toBeDefined();
    expect(result.databases).toEqual([{ name: "psm", id: psm!.uuid, created: true }]);
    expect(account.calls.map((c) => c.slice(0, 3).join(" "))).toEqual([
      "d1 list --json",
      "d1 create psm",
      "d1 list --json",
      "d1 migrations apply",
      `deploy --config ${result.config}`,
    ]);
    expect(account.migrated).toEqual([{ name: "psm", id: psm!.uuid }]);
    expect(account.deployed).toEqual([{ ids: [psm!.uuid], args: [] }]);
    expect(readFileSync(CONFIG, "utf8")).toBe(committed);
  });

  it("reuses the database the account has, creating nothing", async () => {
    const account = fakeAccount(["psm"]);
    const id = account.databases[0]!.uuid;
    await run(account, ["--message", "release 1"]);
    expect(account.calls.some((c) => c[1] === "create")).toBe(false);
    expect(account.databases).toHaveLength(1);
    expect(account.migrated).toEqual([{ name: "psm", id }]);
    expect(account.deployed).toEqual([{ ids: [id], args: ["--message", "release 1"] }]);
  });

  it.each([
    ["d1 list", "psm", /`wrangler d1 list --json` failed \(exit 1\); nothing was created or deployed/],
    ["d1 create", "other", /`wrangler d1 create psm --update-config=false` failed \(exit 1\)/],
    ["d1 migrations apply", "psm", /`wrangler d1 migrations apply psm --remote .*` failed.*not deployed/],
    ["deploy", "psm", /`wrangler deploy --config .*` failed \(exit 1\); the Worker was not deployed/],
  ])("stops with a clear error when `wrangler %s` fails, deploying nothing", async (failOn, present, message) => {
    const account = { ...fakeAccount([present]), failOn };
    const failed = run(account);
    await expect(failed).rejects.toBeInstanceOf(DeployError);
    await expect(failed).rejects.toThrow(message);
    expect(account.deployed).toEqual([]);
    if (failOn !== "d1 migrations apply" && failOn !== "deploy") expect(account.migrated).toEqual([]);
  });

  it("refuses an account listing the name twice rather than guessing", async () => {
    const account = fakeAccount(["psm", "psm"]);
    await expect(run(account)).rejects.toThrow(/lists 2 D1 databases named psm/);
    expect(account.migrated).toEqual([]);
    expect(account.deployed).toEqual([]);
  });

  it("refuses output of `wrangler d1 list --json` that is not the list it should be", async () => {
    const account = fakeAccount();
    const garbled = fakeWrangler(account);
    const failed = deploy({
      wrangler: async (args, opts) =>
        args[1] === "list" ? { code: 0, stdout: '{"result":"?"}', stderr: "" } : garbled(args, opts),
      configPath: CONFIG,
      generatedPath: join(dir, "garbled.json"),
      log: () => {},
    });
    await expect(failed).rejects.toThrow(/unexpected shape; nothing was created or deployed/);
    expect(account.calls).toEqual([]);
  });
});

describe("the generated config", () => {
  it("resolves to wrangler.toml's settings with the real database id", async () => {
    const account = fakeAccount(["psm"]);
    const { config } = await run(account);
    const { unstable_readConfig } = await import("wrangler");
    const ours = unstable_readConfig({ config: CONFIG });
    const generated = unstable_readConfig({ config });
    expect(generated.main).toBe(ours.main);
    // wrangler resolves these against the config's folder when it uses them.
    expect(generated.assets?.directory).toBe(resolve(ROOT, ours.assets!.directory!));
    expect(generated.alias).toEqual(
      Object.fromEntries(
        Object.entries(ours.alias ?? {}).map(([k, v]) => [k, String(v).startsWith(".") ? resolve(ROOT, String(v)) : v]),
      ),
    );
    expect(generated.d1_databases).toEqual([
      {
        ...ours.d1_databases[0],
        database_id: account.databases[0]!.uuid,
        migrations_dir: generated.d1_databases[0]!.migrations_dir,
      },
    ]);
    expect(generated.durable_objects).toEqual(ours.durable_objects);
    expect(generated.migrations).toEqual(ours.migrations);
    expect(generated.triggers).toEqual(ours.triggers);
    expect(generated.vars).toEqual(ours.vars);
    expect(generated.d1_databases[0]!.migrations_dir).toBe(resolve(ROOT, ours.d1_databases[0]!.migrations_dir!));
    expect(existsSync(generated.d1_databases[0]!.migrations_dir!)).toBe(true);
    const raw = await readRawConfig(config);
    expect(raw.d1_databases?.[0]?.database_id).toBe(account.databases[0]!.uuid);
  });

  it("bundles with `wrangler deploy --dry-run`", async () => {
    const { config } = await run(fakeAccount(["psm"]));
    ensureWebBuilt();
    const outdir = join(dir, "bundle");
    const result = await runWrangler(["deploy", "--dry-run", "--config", config, "--outdir", outdir], {
      capture: true,
    });
    expect(result.code).toBe(0);
    expect(readFileSync(join(outdir, "index.js"), "utf8")).toMatch(/^export \{[^}]*\bSessionRoom\b/m);
  }, 120_000);
});

describe("npm run deploy as a process, with WRANGLER naming the stub", () => {
  const cli = (accountFile: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/deploy.ts"],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            WRANGLER: join(ROOT, "test", "fakes", "wrangler-cli.ts"),
            FAKE_WRANGLER_ACCOUNT: accountFile,
          },
        },
        (err, _stdout, stderr) => resolve({ code: err ? ((err.code as number) ?? 1) : 0, stderr }),
      );
    });

  it("deploys with the database it created, and exits 1 naming the failed step when wrangler fails", async () => {
    const file = join(dir, "account.json");
    writeFileSync(file, JSON.stringify(fakeAccount()));
    expect((await cli(file)).code).toBe(0);
    const after = JSON.parse(readFileSync(file, "utf8")) as FakeAccount;
    expect(after.deployed).toEqual([{ ids: [after.databases[0]!.uuid], args: [] }]);

    writeFileSync(file, JSON.stringify({ ...fakeAccount(), failOn: "d1 list" }));
    const failed = await cli(file);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("deploy stopped: `wrangler d1 list --json` failed (exit 1)");
    expect((JSON.parse(readFileSync(file, "utf8")) as FakeAccount).deployed).toEqual([]);
  }, 120_000);
});
