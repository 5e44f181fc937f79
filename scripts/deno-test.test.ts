// The Deno run (scripts/deno-test.ts): the tree as it stands uses no Node module (nor, outside tests, a Node global) in
// what runs under Deno, a fixture tree that does fails with the chain that loads it, every test left to Node still
// needs Node, and the vitest shim runs a fixture file under the real Deno and fails the run when a test fails.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkedEntries, DENO_DIRS, denoTestFiles, describeUse, NODE_ONLY, nodeUses, runDeno } from "./deno-test.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = mkdtempSync(join(tmpdir(), "psm-deno-set-"));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

function write(files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  }
}

describe("the Deno-run set", () => {
  it("uses no Node module (nor, outside tests, a Node global) in the Deno-run tests, what they load, or protocol/", () => {
    expect(nodeUses(root, checkedEntries(root)).map(describeUse)).toEqual([]);
  });

  it("holds the unit tests of protocol/, grants, sealing, policy, the room core and recording verification", () => {
    const files = denoTestFiles(root);
    expect(files).toEqual(
      expect.arrayContaining([
        "protocol/frames.test.ts",
        "keys/seal.test.ts",
        "keys/edge-keys.test.ts",
        "connector/grant.test.ts",
        "protocol/policy-rules.test.ts",
        "worker/access/policy-strength.test.ts",
        "worker/access/checkout.test.ts",
        "durable/room/core.test.ts",
        "durable/room/lifecycle.test.ts",
        "recording/verify.test.ts",
        "recording/verify-v2.test.ts",
      ]),
    );
    expect(files.filter((f) => f.endsWith(".workers.test.ts") || f in NODE_ONLY)).toEqual([]);
  });

  it("leaves to Node only tests in its folders that import a Node module (else they belong under Deno)", () => {
    for (const file of Object.keys(NODE_ONLY)) {
      expect(DENO_DIRS.some((dir) => file.startsWith(`${dir}/`))).toBe(true);
      expect(nodeUses(root, [file]).filter((n) => n.file === file).length).toBeGreaterThan(0);
    }
  });

  it("fails a fixture whose test loads a core that imports node:crypto or reads Buffer, naming the chain", () => {
    write({
      "protocol/a.test.ts":
        'import { it } from "vitest";\nimport { seal } from "./core.ts";\nconst b = Buffer.from("tests may");\n',
      "protocol/core.ts": 'import type { Server } from "node:http";\nexport { seal } from "./deep.ts";\n',
      "protocol/deep.ts":
        'import { type Hash, createHash } from "node:crypto";\nconst fs = await import("fs");\n' +
        'import { env } from "cloudflare:workers";\nimport { z } from "zod";\n' +
        "export const seal = (s: string) => Buffer.from(s);\nconst o = { process: 1, Buffer: 2 };\n" +
        "const p = o.process + o.Buffer;\nexport const debug = () => process.env.DEBUG;\n",
    });
    const chain = ", loaded by protocol/core.ts <- protocol/a.test.ts";
    expect(nodeUses(fixture, ["protocol/a.test.ts"]).map(describeUse)).toEqual([
      `protocol/deep.ts:1 imports "node:crypto" (a Node module)${chain}`,
      `protocol/deep.ts:2 imports "fs" (a Node module)${chain}`,
      `protocol/deep.ts:3 imports "cloudflare:workers" (a Workers-only module)${chain}`,
      `protocol/deep.ts:5 uses Node's global Buffer${chain}`,
      `protocol/deep.ts:8 uses Node's global process${chain}`,
    ]);
  });

  // The shim (test/deno/vitest.ts) under the real Deno: hooks in vitest's order, `each`, skip, an async describe,
  // vitest's matchers, and a failing test that fails the run instead of passing or being skipped.
  it("runs a vitest file under Deno with vitest's hooks and matchers, and fails the run on a failing test", () => {
    write({
      "shim.test.ts": `import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
const log: string[] = [];
beforeAll(() => void log.push("beforeAll"));
afterAll(() => console.log(\`LOG \${log.join(",")}\`));
describe("outer", () => {
  beforeEach(() => void log.push("beforeEach"));
  afterEach(() => void log.push("afterEach"));
  it.each([["one", 1], ["two", 2]])("row %s is %i", (_name, v) => {
    log.push(\`row \${v}\`);
    expect(v).toBeGreaterThan(0);
  });
  describe.skip("skipped", () => {
    it("never runs", () => void log.push("skipped ran"));
  });
});
describe("async", async () => {
  await Promise.resolve();
  it("registered after an await", async () => {
    log.push("async");
    expect({ a: [1], b: "x" }).toMatchObject({ a: [expect.any(Number)] });
    await expect(Promise.reject(new Error("boom"))).rejects.toThrow("boom");
  });
});
describe("failing", () => {
  it("a wrong value", () => expect({ a: 1 }).toEqual({ a: 2 }));
  it("a promise that does not reject", async () => {
    await expect(Promise.resolve(1)).rejects.toThrow();
  });
});
`,
    });
    const run = runDeno(root, [join(fixture, "shim.test.ts")], "pipe", { NO_COLOR: "1" });
    const out = run.stdout + run.stderr;
    expect(run.status, out).toBe(1);
    for (const line of [
      "outer > row one is 1 ... ok",
      "outer > row two is 2 ... ok",
      "outer > skipped > never runs ... ignored",
      "  registered after an await ... ok",
      "failing > a wrong value ... FAILED",
      '+   "a": 1,',
      "failing > a promise that does not reject ... FAILED",
      "LOG beforeAll,beforeEach,row 1,afterEach,beforeEach,row 2,afterEach,async",
      "FAILED | 3 passed (1 step) | 2 failed | 1 ignored",
    ])
      expect(out).toContain(line);
  });
});
