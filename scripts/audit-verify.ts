// `npm run audit:verify`: checks the hash chain of an audit export, from a local NDJSON file or
// fetched from a running edge. Exit 0 intact, 1 tampered, 2 could not check (usage, input, login).
import { createReadStream } from "node:fs";
import { parseArgs } from "node:util";
import { verifyChain } from "../durable/audit-chain.ts";
import { SESSION_COOKIE } from "../protocol/index.ts";

const USAGE = `usage: npm run audit:verify -- --file <export.ndjson>
       npm run audit:verify -- --url <edge> --username <user> [--password <password>]
The password may also come from the environment variable PSM_PASSWORD.
An intact chain proves every entry follows from those before it; it cannot show that the newest
entries were cut off: compare the printed count and head with the ledger's (GET /api/audit/verify).`;

/** A longer line is refused (exit 2) rather than buffered without end: entries are a few KiB. */
const MAX_LINE_CHARS = 8 * 1024 * 1024; // 8 Mi UTF-16 units

class CannotCheck extends Error {}

async function main(argv: string[]): Promise<number> {
  let values: { file?: string; url?: string; username?: string; password?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: "string" },
        url: { type: "string" },
        username: { type: "string" },
        password: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new CannotCheck(`${(err as Error).message}\n${USAGE}`);
  }
  const password = values.password ?? process.env.PSM_PASSWORD;
  let chunks: AsyncIterable<string>;
  if (values.help) throw new CannotCheck(USAGE);
  if (values.file !== undefined && values.url === undefined) {
    chunks = createReadStream(values.file, { encoding: "utf8" });
  } else if (values.url !== undefined && values.file === undefined && values.username && password) {
    chunks = await fromEdge(values.url, values.username, password);
  } else {
    throw new CannotCheck(USAGE);
  }
  const result = await verifyChain(entries(chunks));
  if (result.ok) {
    console.log(`OK: ${result.count} entries, head ${result.head}`);
    return 0;
  }
  console.log(`TAMPERED at index ${result.firstBadIndex}: ${result.problem}`);
  return 1;
}

/** Logs in as the given user and streams GET /api/audit/export (NDJSON). */
async function fromEdge(url: string, username: string, password: string): Promise<AsyncIterable<string>> {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new CannotCheck(`not a URL: ${url}`);
  }
  const login = await fetch(`${origin}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ username, password }),
  });
  if (!login.ok) throw new CannotCheck(`login refused: HTTP ${login.status}`);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new CannotCheck(`login gave no ${SESSION_COOKIE} cookie`);
  const res = await fetch(`${origin}/api/audit/export`, { headers: { cookie, origin } });
  if (!res.ok || !res.body) throw new CannotCheck(`export refused: HTTP ${res.status}`);
  return text(res.body);
}

async function* text(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    yield decoder.decode(value, { stream: true });
  }
  yield decoder.decode();
}

/**
 * One value per non-blank line. A line that is not JSON becomes `undefined`, which verifyChain
 * reports as malformed at that line's position.
 */
async function* entries(chunks: AsyncIterable<string>): AsyncGenerator<unknown> {
  let rest = "";
  for await (const chunk of chunks) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    if (rest.length > MAX_LINE_CHARS) throw new CannotCheck(`a line longer than ${MAX_LINE_CHARS} characters`);
    for (const line of lines) if (line.trim()) yield parseLine(line);
  }
  if (rest.trim()) yield parseLine(rest);
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(err instanceof CannotCheck ? err.message : `audit-verify: ${err.message}`);
    process.exitCode = 2;
  },
);
