// A stub of the wrangler commands scripts/deploy.ts runs against a Cloudflare account (which cannot run here):
// `d1 list --json` prints the account's databases as the D1 API lists them, `d1 create <name>` adds one,
// `d1 migrations apply <name> --remote` and `deploy` are recorded with the database id their --config names.
// `failOn` makes the first command starting with those words exit 1, as wrangler does (e.g. not logged in).
// test/fakes/wrangler-cli.ts runs it as an executable, with the state in a JSON file.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Wrangler, WranglerResult } from "../../scripts/deploy-wrangler.ts";

export type FakeAccount = {
  databases: { uuid: string; name: string; created_at: string; version: string; num_tables: number }[];
  /** Every command, as its argument list. */
  calls: string[][];
  /** What reached Cloudflare: migrations applied and deploys, with the D1 ids of the config they used. */
  migrated: { name: string; id: string | undefined }[];
  deployed: { ids: (string | undefined)[]; args: string[] }[];
  failOn?: string;
};

export function fakeAccount(names: string[] = []): FakeAccount {
  return {
    databases: names.map((name) => database(name)),
    calls: [],
    migrated: [],
    deployed: [],
  };
}

const database = (name: string) => ({
  uuid: randomUUID(),
  name,
  created_at: new Date(0).toISOString(),
  version: "production",
  num_tables: 0,
});

type D1Entry = { database_name: string; database_id?: string };
const d1Of = (args: string[]): D1Entry[] => {
  const at = args.indexOf("--config");
  if (at < 0) return [];
  return (JSON.parse(readFileSync(args[at + 1]!, "utf8")) as { d1_databases?: D1Entry[] }).d1_databases ?? [];
};

export function runFake(account: FakeAccount, args: string[]): WranglerResult {
  account.calls.push(args);
  const ok = (stdout = ""): WranglerResult => ({ code: 0, stdout, stderr: "" });
  if (account.failOn && args.join(" ").startsWith(account.failOn)) {
    return { code: 1, stdout: "", stderr: "✘ [ERROR] Authentication error [code: 10000]\n" };
  }
  const [a, b, c] = args;
  if (a === "d1" && b === "list" && args.includes("--json")) return ok(JSON.stringify(account.databases, null, 2));
  if (a === "d1" && b === "create" && c) {
    if (account.databases.some((db) => db.name === c)) {
      return { code: 1, stdout: "", stderr: `✘ [ERROR] A database with that name already exists [code: 7502]\n` };
    }
    account.databases.push(database(c));
    return ok(`✅ Successfully created DB '${c}'\n`);
  }
  if (a === "d1" && b === "migrations" && c === "apply" && args.includes("--remote")) {
    const name = args[3]!;
    account.migrated.push({ name, id: d1Of(args).find((d) => d.database_name === name)?.database_id });
    return ok("✅ Applied\n");
  }
  if (a === "deploy") {
    const at = args.indexOf("--config");
    account.deployed.push({ ids: d1Of(args).map((d) => d.database_id), args: args.slice(at < 0 ? 1 : at + 2) });
    return ok("Uploaded edge-psm\n");
  }
  return { code: 1, stdout: "", stderr: `✘ [ERROR] the stub does not know \`wrangler ${args.join(" ")}\`\n` };
}

/** The stub as scripts/deploy.ts's injected runner. */
export const fakeWrangler =
  (account: FakeAccount): Wrangler =>
  async (args) =>
    runFake(account, args);
