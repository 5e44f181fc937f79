// The audit:verify CLI as a child process: a valid export, tampered ones, usage errors, and the
// --url mode against a stand-in edge on port 0 (login cookie, origin header, NDJSON export).
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chain } from "../durable/audit-chain.ts";
import type { AuditEntry } from "../protocol/audit.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "scripts/audit-verify.ts", ...args],
      { cwd: ROOT, env: { ...process.env, PSM_PASSWORD: "", ...env } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

const ndjson = (entries: unknown[]) => `${entries.map((e) => JSON.stringify(e)).join("\n")}\n`;

let dir: string;
let entries: AuditEntry[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "audit-verify-"));
  entries = [];
  for (let i = 0; i < 5; i++) {
    const input = { actor: { id: "a1", name: "admin" }, target: { type: "server", id: `s${i}` }, data: { i } };
    entries.push(await chain(entries.at(-1), { ...input, action: "admin.change" }, 1_700_000_000_000 + i));
  }
});

describe("audit-verify --file", { timeout: 30_000 }, () => {
  it("prints OK with the count and head for an intact export", async () => {
    const file = join(dir, "ok.ndjson");
    await writeFile(file, ndjson(entries));
    expect(await cli(["--file", file])).toMatchObject({ code: 0, stdout: `OK: 5 entries, head ${entries[4]!.hash}\n` });
  });

  it("prints TAMPERED at the first bad index and exits 1", async () => {
    const files = {
      edited: ndjson(entries.map((e, i) => (i === 2 ? { ...e, data: { i: 99 } } : e))),
      deleted: ndjson(entries.filter((_, i) => i !== 1)),
      garbled: `${ndjson(entries.slice(0, 3))}{not json\n`,
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, `${name}.ndjson`), text);
    const [edited, deleted, garbled] = await Promise.all(
      Object.keys(files).map((name) => cli(["--file", join(dir, `${name}.ndjson`)])),
    );
    expect(edited).toMatchObject({ code: 1, stdout: "TAMPERED at index 2: hash_mismatch\n" });
    expect(deleted).toMatchObject({ code: 1, stdout: "TAMPERED at index 1: index_gap\n" });
    expect(garbled).toMatchObject({ code: 1, stdout: "TAMPERED at index 3: malformed\n" });
  });

  it("exits 2 on usage errors and unreadable input", async () => {
    const runs = await Promise.all([
      cli([]),
      cli(["--bogus"]),
      cli(["--url", "http://x", "--username", "u"]), // no password
      cli(["--file", "a", "--url", "http://x"]),
      cli(["--file", join(dir, "missing.ndjson")]),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(runs[0]!.stderr).toContain("usage:");
  });
});

describe("audit-verify --url", { timeout: 30_000 }, () => {
  const seen: { origin?: string; cookie?: string }[] = [];
  const server = createServer((req, res) => {
    seen.push({ origin: req.headers.origin, cookie: req.headers.cookie });
    if (req.method === "POST" && req.url === "/api/login") {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const ok = JSON.parse(body).password === "pw-1";
        res.writeHead(ok ? 200 : 401, ok ? { "set-cookie": "__Host-psm_session=tok123; Path=/; HttpOnly" } : {});
        res.end("{}");
      });
    } else if (req.url === "/api/audit/export" && req.headers.cookie === "__Host-psm_session=tok123") {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(ndjson(entries));
    } else {
      res.writeHead(401).end();
    }
  });
  let url: string;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("logs in, fetches the export with the cookie and origin, and verifies it", async () => {
    const out = await cli(["--url", url, "--username", "auditor"], { PSM_PASSWORD: "pw-1" });
    expect(out).toMatchObject({ code: 0, stdout: `OK: 5 entries, head ${entries[4]!.hash}\n` });
    expect(seen.at(-1)).toEqual({ origin: url, cookie: "__Host-psm_session=tok123" });
  });

  it("exits 2 when the login is refused", async () => {
    const out = await cli(["--url", url, "--username", "auditor", "--password", "wrong"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("login refused: HTTP 401");
  });
});
