// The allowed imports between the parts (../shared/DESIGN.md, "Dependency direction"), checked: every import
// and re-export of every source file is resolved to the part it lands in and compared with ALLOWED below.
// Also one owner per D1 table: only the module TABLE_OWNERS names may write a table listed there.
// `npm run check` runs both (`npm run boundaries`); scripts/check-boundaries.test.ts and scripts/table-owners.test.ts
// run them over the tree in `npm test`. docs/architecture.md ("Boundaries") mirrors the table: change both together.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export type Part = "protocol" | "keys" | "recording" | "edge-shared" | "worker" | "durable" | "connector" | "web";

type Rule = {
  /** Parts this one may import values from (itself always). */
  runtime: Part[];
  /** Parts it may import with `import type` / `export type` only (erased by tsc, nothing loads at run time). */
  typeOnly?: Part[];
  /** npm packages it may import; absent: any. */
  packages?: string[];
};

/**
 * Who may import whom. Type-only imports are separate because DESIGN.md lets `worker` and `durable` use each
 * other's *types* where a binding needs it (Env, the DO classes' RPC surface). Under `verbatimModuleSyntax`
 * only `import type {…}` is erased; `import { type A }` still loads the module, so it counts as a runtime import.
 */
export const ALLOWED: Record<Part, Rule> = {
  // DESIGN.md: zod only. What needs jose (sealing, key ids, the edge's key set) is keys/.
  protocol: { runtime: [], packages: ["zod"] },
  keys: { runtime: ["protocol"], packages: ["zod", "jose"] },
  recording: { runtime: ["protocol", "keys"] },
  "edge-shared": { runtime: ["protocol", "keys", "recording"], typeOnly: ["worker", "durable"] },
  worker: { runtime: ["protocol", "keys", "recording", "edge-shared"], typeOnly: ["durable"] },
  durable: { runtime: ["protocol", "keys", "recording", "edge-shared"], typeOnly: ["worker"] },
  connector: { runtime: ["protocol", "keys", "recording"] },
  web: { runtime: ["protocol", "keys"] },
};

/** Single files allowed more than their part, each with the reason. */
export const EXCEPTIONS: { from: string; to: Part; why: string }[] = [
  {
    from: "worker/index.ts",
    to: "durable",
    why: "the Worker's entry point exports the Durable Object classes and hands them the Worker's effects",
  },
];

/**
 * Test code may reach across parts (a workers test drives the Worker and a room through one harness; a core
 * test runs the connector's real credit code), but no part's code may import test code.
 */
const TEST_SUPPORT = ["durable/room/sim.ts"];
export const isTestFile = (file: string) =>
  /\.test\.ts$/.test(file) || /(^|\/)test\//.test(file) || file.endsWith(".d.ts") || TEST_SUPPORT.includes(file);

const SKIP_DIRS = new Set(["node_modules", "dist", ".wrangler", ".psm", "build", "test-results", ".git"]);
const SOURCE = /\.(ts|mts|mjs|js)$/;

export type Violation = { file: string; line: number; specifier: string; message: string };

export function partOf(file: string): Part | null {
  const top = file.split("/")[0] as Part;
  return top in ALLOWED ? top : null;
}

function sourceFiles(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...sourceFiles(root, join(dir, entry.name)));
    } else if (SOURCE.test(entry.name)) {
      out.push(relative(root, join(dir, entry.name)).split(sep).join("/"));
    }
  }
  return out;
}

type Found = { specifier: string; typeOnly: boolean; line: number };

/** Every module a file names: imports, re-exports, `import()` calls and `import("…")` types. */
export function importsOf(fileName: string, text: string): Found[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const found: Found[] = [];
  const add = (spec: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(spec)) return;
    const line = source.getLineAndCharacterOfPosition(spec.getStart(source)).line + 1;
    found.push({ specifier: spec.text, typeOnly, line });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node.moduleReference.expression, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0])
      add(node.arguments[0], false);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const packageName = (spec: string) =>
  spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : (spec.split("/")[0] ?? spec);

/** The violations in one file (path relative to the root, with `/`). */
export function checkFile(file: string, text: string): Violation[] {
  const from = partOf(file);
  const test = isTestFile(file);
  const out: Violation[] = [];
  for (const { specifier, typeOnly, line } of importsOf(file, text)) {
    const at = { file, line, specifier };
    if (!specifier.startsWith(".")) {
      const rule = from && !test ? ALLOWED[from] : undefined;
      if (rule?.packages && !rule.packages.includes(packageName(specifier)))
        out.push({ ...at, message: `${from}/ may import only ${rule.packages.join(", ")} from outside the repo` });
      continue;
    }
    const target = join(dirname(file), specifier).split(sep).join("/");
    if (target.startsWith("..")) {
      out.push({ ...at, message: "imports from outside the repository" });
      continue;
    }
    if (from && !test && isTestFile(target)) {
      out.push({ ...at, message: "non-test code imports test code" });
      continue;
    }
    const to = partOf(target);
    if (!from || test || !to || to === from) continue;
    const rule = ALLOWED[from];
    if (rule.runtime.includes(to)) continue;
    if (typeOnly && rule.typeOnly?.includes(to)) continue;
    if (EXCEPTIONS.some((e) => e.from === file && e.to === to)) continue;
    const kind = typeOnly ? "type-only" : "runtime";
    const hint = rule.typeOnly?.includes(to) ? " (types only: use `import type`)" : "";
    out.push({ ...at, message: `${from}/ may not import ${to}/ (${kind})${hint}` });
  }
  return out;
}

export function checkBoundaries(root: string): Violation[] {
  return sourceFiles(root).flatMap((file) => checkFile(file, readFileSync(join(root, file), "utf8")));
}

/**
 * One owner per table (AGENTS.md): the one module that writes each D1 table, and applies its defaults. Everyone else
 * calls the owner's functions. Add a table here when it gets its owner.
 */
export const TABLE_OWNERS: Record<string, string> = {
  users: "worker/access/user-store.ts",
  groups: "worker/access/group-store.ts",
  group_members: "worker/access/group-store.ts",
  zone_admins: "worker/access/group-store.ts",
  auth_sessions: "worker/auth/sign-in-store.ts",
  auth_challenges: "worker/auth/challenge-store.ts",
  totp_factors: "worker/auth/factor-store.ts",
  recovery_codes: "worker/auth/factor-store.ts",
  webauthn_credentials: "worker/auth/factor-store.ts",
  socket_tickets: "worker/auth/socket-ticket.ts",
  duo_states: "worker/auth/duo-state-store.ts",
  auth_throttle: "worker/auth/throttle-store.ts",
  // Inventory and connectors
  servers: "worker/access/server-store.ts",
  discovered_servers: "worker/access/server-store.ts",
  credentials: "worker/access/credential-store.ts",
  server_credentials: "worker/access/credential-store.ts",
  credential_rotations: "worker/access/rotations.ts",
  access_grants: "worker/access/access-grant-store.ts",
  sites: "worker/access/site-store.ts",
  site_seal_keys: "worker/access/site-store.ts",
  enrollment_tokens: "worker/access/site-store.ts",
  seal_rotations: "worker/access/seal-keys.ts",
  connectors: "edge-shared/connector-store.ts",
  seal_key_deliveries: "edge-shared/connector-store.ts",
  connector_keys: "edge-shared/connector-keys.ts",
  connector_token_uses: "worker/connector-auth.ts",
  // Policies, settings, notifications, sessions
  zones: "worker/access/zone-store.ts",
  policies: "worker/access/policy-store.ts",
  zone_allowed_policies: "worker/access/policy-store.ts",
  sessions: "edge-shared/session-store.ts",
  recordings: "edge-shared/recording-index.ts",
  checkouts: "worker/access/checkout-store.ts",
  session_extensions: "worker/access/extension-store.ts",
  notifications: "worker/notify/outbox.ts",
  notify_cursor: "worker/notify/events.ts",
  notify_preferences: "worker/notify/people.ts",
  connector_outages: "worker/notify/events.ts",
  mail_relay: "worker/notify/relay.ts",
  push_subscriptions: "worker/notify/push-subscriptions.ts",
  audit_sinks: "worker/audit-stream/sink-store.ts",
  scim_tokens: "worker/auth/scim-token.ts",
  duo_config: "worker/auth/duo-config.ts",
  auth_failure_tally: "worker/auth/failure-tally-store.ts",
  user_devices: "worker/auth/device.ts",
  user_networks: "worker/auth/device.ts",
  session_invitations: "worker/access/sharing.ts",
  command_reviews: "edge-shared/command-reviews.ts",
  recording_chunks: "worker/recording-chunks.ts",
};

/** A write in SQL text, any case: the table it names is the capture. `DO UPDATE SET` names no table. */
const SQL_WRITE =
  /\b(?:INSERT(?:\s+OR\s+[a-z]+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+[a-z]+)?|DELETE\s+FROM)\s+["`[]?(\w+)/gi;

/** Writes to an owned table in one file's string literals (comments never count), outside the table's owner. */
export function checkTableWrites(file: string, text: string, owners = TABLE_OWNERS): Violation[] {
  if (isTestFile(file) || !partOf(file)) return [];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out: Violation[] = [];
  const scan = (node: ts.Node, sql: string) => {
    for (const m of sql.matchAll(SQL_WRITE)) {
      const table = m[1]!.toLowerCase();
      const owner = owners[table];
      if (!owner || owner === file) continue;
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      out.push({ file, line, specifier: table, message: `writes ${table}, which only ${owner} may write` });
    }
  };
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) scan(node, node.text);
    // A template's pieces are read as one text, each substitution as `?`: `UPDATE ${"users"}` is not caught.
    else if (ts.isTemplateExpression(node))
      scan(node, [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(" ? "));
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

export function checkTableOwners(root: string, owners = TABLE_OWNERS): Violation[] {
  const writes = sourceFiles(root).flatMap((file) =>
    checkTableWrites(file, readFileSync(join(root, file), "utf8"), owners),
  );
  return [...writes, ...unownedTables(root, owners)];
}

export const MIGRATIONS = "worker/migrations";

/** The tables the migrations leave in the database, in order: created, minus dropped, renames followed. */
export function migratedTables(sql: string[]): string[] {
  const tables = new Set<string>();
  const statement =
    /\b(?:CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?\s+["`]?(\w+)|DROP\s+TABLE(?:\s+IF\s+EXISTS)?\s+["`]?(\w+)|ALTER\s+TABLE\s+["`]?(\w+)["`]?\s+RENAME\s+TO\s+["`]?(\w+))/gi;
  for (const text of sql) {
    for (const [, created, dropped, from, to] of text.replace(/--[^\n]*/g, "").matchAll(statement)) {
      if (created) tables.add(created.toLowerCase());
      else if (dropped) tables.delete(dropped.toLowerCase());
      else if (from && to) {
        tables.delete(from.toLowerCase());
        tables.add(to.toLowerCase());
      }
    }
  }
  return [...tables];
}

/** A table the migrations create that TABLE_OWNERS does not name: every table has its one writer. */
function unownedTables(root: string, owners: Record<string, string>): Violation[] {
  const dir = join(root, MIGRATIONS);
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  const sql = files.map((f) => readFileSync(join(dir, f), "utf8"));
  return migratedTables(sql)
    .filter((table) => !(table in owners))
    .map((table) => ({
      file: MIGRATIONS,
      line: 0,
      specifier: table,
      message: `creates ${table}, which has no owner in TABLE_OWNERS (scripts/check-boundaries.ts)`,
    }));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const violations = checkBoundaries(root);
  for (const v of violations) console.error(`${v.file}:${v.line}: "${v.specifier}": ${v.message}`);
  if (violations.length)
    console.error(`${violations.length} import(s) cross a boundary (table: scripts/check-boundaries.ts)`);
  const writes = checkTableOwners(root);
  for (const w of writes) console.error(`${w.file}:${w.line}: ${w.message}`);
  if (writes.length)
    console.error(`${writes.length} table(s) written outside their owner or without one (TABLE_OWNERS)`);
  if (violations.length || writes.length) process.exit(1);
  console.log("boundaries: ok");
}
