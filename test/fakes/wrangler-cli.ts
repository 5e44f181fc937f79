#!/usr/bin/env -S node --import tsx
// The wrangler stub (test/fakes/wrangler.ts) as an executable, for WRANGLER=<this file>: the account is read
// from and written back to the JSON file FAKE_WRANGLER_ACCOUNT names.
import { readFileSync, writeFileSync } from "node:fs";
import { type FakeAccount, runFake } from "./wrangler.ts";

const file = process.env.FAKE_WRANGLER_ACCOUNT;
if (!file) {
  process.stderr.write("FAKE_WRANGLER_ACCOUNT is not set\n");
  process.exit(2);
}
const account = JSON.parse(readFileSync(file, "utf8")) as FakeAccount;
const result = runFake(account, process.argv.slice(2));
writeFileSync(file, JSON.stringify(account));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
process.exit(result.code);
