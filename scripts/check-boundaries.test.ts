// The boundary check: the tree as it stands passes, and a fixture tree with wrong imports fails it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkBoundaries, checkFile } from "./check-boundaries.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = mkdtempSync(join(tmpdir(), "psm-boundaries-"));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

function write(files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  }
}

describe("check-boundaries", () => {
  it("passes the repository as it stands", () => {
    expect(checkBoundaries(root)).toEqual([]);
  });

  it("fails a fixture tree with a runtime import from worker/ in durable/", () => {
    write({
      "worker/sockets.ts": 'export const PEER_HEADER = "X";\nexport type Env = {};\n',
      "durable/room.ts":
        'import type { Env } from "../worker/sockets.ts";\nimport { PEER_HEADER } from "../worker/sockets.ts";\n',
      "connector/main.ts": 'export type { Env } from "../worker/sockets.ts";\n',
      "protocol/x.ts": 'import { z } from "zod";\nimport { readFile } from "node:fs";\n',
      // jose belongs in keys/: protocol/ depends on zod alone.
      "protocol/y.ts": 'import { importJWK } from "jose";\n',
      "worker/index.ts": 'import { room } from "../durable/room.ts";\n',
      "worker/routes.ts": 'const m = await import("../durable/room.ts");\n',
      "worker/leak.ts": 'import { fake } from "./test/harness.ts";\n',
    });
    const found = checkBoundaries(fixture).map((v) => `${v.file}:${v.line} ${v.message}`);
    expect(found.sort()).toEqual(
      [
        "durable/room.ts:2 durable/ may not import worker/ (runtime) (types only: use `import type`)",
        "connector/main.ts:1 connector/ may not import worker/ (type-only)",
        "protocol/x.ts:2 protocol/ may import only zod from outside the repo",
        "protocol/y.ts:1 protocol/ may import only zod from outside the repo",
        "worker/routes.ts:1 worker/ may not import durable/ (runtime) (types only: use `import type`)",
        "worker/leak.ts:1 non-test code imports test code",
      ].sort(),
    );
  });

  it("counts `import { type A }` as a runtime import (verbatimModuleSyntax keeps the module load)", () => {
    const violations = checkFile("durable/a.ts", 'import { type Env } from "../worker/env.ts";\n');
    expect(violations.map((v) => v.message)).toEqual([
      "durable/ may not import worker/ (runtime) (types only: use `import type`)",
    ]);
  });

  it("lets tests reach across parts", () => {
    expect(checkFile("durable/a.workers.test.ts", 'import { api } from "../worker/test/harness.ts";\n')).toEqual([]);
  });
});
