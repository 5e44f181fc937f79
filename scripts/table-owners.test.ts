// One owner per table (AGENTS.md): the tree as it stands writes each table listed in TABLE_OWNERS only from its
// owner, and a write from anywhere else (any case, any INSERT/UPDATE/DELETE form) fails the check.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { checkTableOwners, checkTableWrites, migratedTables, TABLE_OWNERS } from "./check-boundaries.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = mkdtempSync(join(tmpdir(), "psm-table-owners-"));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

const found = (file: string, text: string) => checkTableWrites(file, text).map((v) => `${v.line} ${v.specifier}`);

describe("table owners", () => {
  it("passes the repository as it stands", () => {
    expect(checkTableOwners(root)).toEqual([]);
  });

  it("names owners that exist and write their tables", () => {
    for (const [table, owner] of Object.entries(TABLE_OWNERS)) {
      expect(existsSync(join(root, owner)), owner).toBe(true);
      // The owner itself holds a write of the table, so the check is not passing over a renamed table.
      const elsewhere = { ...TABLE_OWNERS, [table]: "nowhere.ts" };
      const writes = checkTableWrites(owner, readFileSync(join(root, owner), "utf8"), elsewhere);
      expect(
        writes.some((w) => w.specifier === table),
        `${owner} writes ${table}`,
      ).toBe(true);
    }
  });

  it("fails a write to an owned table from any other file, in every form", () => {
    const text = [
      'const a = db.prepare("UPDATE users SET disabled = 1 WHERE id = ?");',
      "const b = db.prepare(`insert into group_members (group_id, user_id) VALUES (${g}, ?)`);",
      'const c = "INSERT OR IGNORE INTO zone_admins (zone_id, user_id) VALUES (?, ?)";',
      'const d = "DELETE FROM  groups WHERE id = ?";',
      "const e = `UPDATE OR REPLACE\n users SET roles = ?`;",
      'const f = "REPLACE INTO \\"users\\" (id) VALUES (?)";',
    ].join("\n");
    expect(found("worker/routes/any.ts", text)).toEqual([
      "1 users",
      "2 group_members",
      "3 zone_admins",
      "4 groups",
      "5 users",
      "7 users",
    ]);
    expect(found("durable/any.ts", text)).toHaveLength(6);
    expect(found("edge-shared/any.ts", text)).toHaveLength(6);
  });

  it("holds the sign-in tables to their owners", () => {
    const text = [
      'const a = db.prepare("UPDATE auth_sessions SET revoked_at = ? WHERE id = ?");',
      'const b = "DELETE FROM auth_challenges WHERE expires_at < ?";',
      'const c = "INSERT INTO totp_factors (user_id) VALUES (?) ON CONFLICT(user_id) DO UPDATE SET last_step = 0";',
      'const d = "UPDATE recovery_codes SET used_at = ?";',
      'const e = "DELETE FROM webauthn_credentials WHERE id = ?";',
      'const f = "DELETE FROM socket_tickets WHERE user_id = ?";',
      'const g = "UPDATE duo_states SET used_at = ?";',
      'const h = "DELETE FROM auth_throttle WHERE key = ?";',
    ].join("\n");
    const tables = [
      "auth_sessions",
      "auth_challenges",
      "totp_factors",
      "recovery_codes",
      "webauthn_credentials",
      "socket_tickets",
      "duo_states",
      "auth_throttle",
    ];
    expect(found("worker/routes/mfa.ts", text)).toEqual(tables.map((t, i) => `${i + 1} ${t}`));
    // The purge sweep calls the owners' purge functions; it writes nothing itself.
    expect(found("worker/auth/purge.ts", text)).toHaveLength(tables.length);
    expect(found("worker/auth/factor-store.ts", text).map((v) => v.split(" ")[1])).toEqual(
      tables.filter((t) => !["totp_factors", "recovery_codes", "webauthn_credentials"].includes(t)),
    );
  });

  it("holds the inventory and connector tables to their owners", () => {
    const writes: Record<string, string> = {
      servers: "UPDATE servers SET host_key = ? WHERE id = ?",
      discovered_servers: "UPDATE discovered_servers SET server_id = NULL WHERE server_id = ?",
      credentials: "UPDATE credentials SET sealed = ? WHERE id = ?",
      server_credentials: "INSERT INTO server_credentials (server_id, credential_id) VALUES (?, ?)",
      credential_rotations: "DELETE FROM credential_rotations WHERE id = ?",
      access_grants: "DELETE FROM access_grants WHERE id = ?",
      sites: "UPDATE sites SET seal_key = ? WHERE id = ?",
      site_seal_keys: "UPDATE site_seal_keys SET retired_at = ? WHERE site_id = ?",
      enrollment_tokens: "UPDATE enrollment_tokens SET used_at = ? WHERE token_hash = ?",
      seal_rotations: "UPDATE seal_rotations SET state = 'failed' WHERE id = ?",
      connectors: "UPDATE connectors SET seal_kid = ? WHERE id = ?",
      seal_key_deliveries: "UPDATE seal_key_deliveries SET sealed = NULL WHERE rotation_id = ?",
      connector_keys: "DELETE FROM connector_keys WHERE connector_id = ?",
      connector_token_uses: "DELETE FROM connector_token_uses WHERE expires_at < ?",
    };
    const tables = Object.keys(writes);
    const text = tables.map((t, i) => `const w${i} = "${writes[t]}";`).join("\n");
    // Some of the files that wrote them before they had owners: two routes and the hub in durable/.
    for (const file of ["worker/routes/inventory.ts", "worker/routes/connectors.ts", "durable/connector-hub.ts"])
      expect(found(file, text), file).toEqual(tables.map((t, i) => `${i + 1} ${t}`));
    for (const table of tables) expect(found(TABLE_OWNERS[table]!, writes[table]!), table).toEqual([]);
  });

  it("holds the policy, settings, notification and session tables to their owners", () => {
    const writes: Record<string, string> = {
      zones: "UPDATE zones SET recording_retention_days = ? WHERE id = ?",
      policies: "UPDATE policies SET name = ? WHERE id = ?",
      zone_allowed_policies: "DELETE FROM zone_allowed_policies WHERE zone_id = ?",
      sessions: "UPDATE sessions SET status = 'ended' WHERE id = ?",
      recordings: "UPDATE recordings SET connector_id = ? WHERE id = ?",
      checkouts: "UPDATE checkouts SET ends_at = ? WHERE id = ?",
      session_extensions: "INSERT INTO session_extensions (id) VALUES (?)",
      notifications: "UPDATE notifications SET dead_at = NULL WHERE id = ?",
      mail_relay: "INSERT INTO mail_relay (id) VALUES (1) ON CONFLICT(id) DO UPDATE SET enabled = 0",
      push_subscriptions: "DELETE FROM push_subscriptions WHERE id = ?",
      audit_sinks: "DELETE FROM audit_sinks WHERE id = ?",
      scim_tokens: "UPDATE scim_tokens SET revoked_at = ? WHERE id = ?",
      duo_config: "INSERT INTO duo_config (id) VALUES (1)",
    };
    const text = Object.values(writes)
      .map((sql, i) => `const w${i} = "${sql}";`)
      .join("\n");
    const tables = Object.keys(writes);
    expect(found("worker/routes/zones.ts", text)).toEqual(tables.map((t, i) => `${i + 1} ${t}`));
    // What the room writes goes through edge-shared/: a write from durable/ itself fails like any other.
    expect(found("durable/session-room.ts", text).map((v) => v.split(" ")[1])).toEqual(tables);
    expect(found(TABLE_OWNERS.sessions!, text).map((v) => v.split(" ")[1])).toEqual(
      tables.filter((t) => t !== "sessions"),
    );
  });

  it("lets reads, other tables, comments, the owner and tests be", () => {
    const text = [
      "// UPDATE users SET roles = ? (a comment)",
      'const a = "SELECT id FROM users WHERE id = ?";',
      'const b = "INSERT INTO users_audit (id) VALUES (?)";',
      'const c = "INSERT INTO unowned_rows (id) VALUES (?) ON CONFLICT(id) DO UPDATE SET status = ?";',
      'const d = "DELETE FROM group_members_old";',
    ].join("\n");
    expect(found("worker/routes/any.ts", text)).toEqual([]);
    const write = 'const w = "UPDATE users SET roles = ?";';
    expect(found(TABLE_OWNERS.users!, write)).toEqual([]);
    expect(found("worker/routes/any.workers.test.ts", write)).toEqual([]);
    expect(found("worker/test/harness.ts", write)).toEqual([]);
    expect(found("scripts/seed.ts", write)).toEqual([]);
  });

  it("gives every table the migrations leave an owner, and fails a new table without one", () => {
    expect(
      migratedTables([
        "CREATE TABLE a (id TEXT);\nCREATE TABLE IF NOT EXISTS b (id TEXT);\n-- CREATE TABLE commented (id TEXT);",
        "CREATE TABLE a_next (id TEXT);\nDROP TABLE a;\nALTER TABLE a_next RENAME TO a;\nDROP TABLE IF EXISTS b;",
      ]),
    ).toEqual(["a"]);
    const tree = mkdtempSync(join(tmpdir(), "psm-table-owners-migrations-"));
    try {
      mkdirSync(join(tree, "worker/migrations"), { recursive: true });
      writeFileSync(join(tree, "worker/migrations/0001_a.sql"), "CREATE TABLE users (id TEXT);\n");
      writeFileSync(join(tree, "worker/migrations/0002_b.sql"), "CREATE TABLE gadgets (id TEXT);\n");
      expect(checkTableOwners(tree).map((v) => v.message)).toEqual([
        "creates gadgets, which has no owner in TABLE_OWNERS (scripts/check-boundaries.ts)",
      ]);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  it("finds the writes in a fixture tree and names the file and line", () => {
    const files: Record<string, string> = {
      "worker/access/user-store.ts": 'export const w = "UPDATE users SET roles = ?";\n',
      "worker/routes/rogue.ts": '\nexport const w = "DELETE FROM zone_admins WHERE user_id = ?";\n',
      "worker/routes/ok.ts": 'export const r = "SELECT * FROM users";\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(fixture, path)), { recursive: true });
      writeFileSync(join(fixture, path), text);
    }
    expect(checkTableOwners(fixture).map((v) => `${v.file}:${v.line} ${v.message}`)).toEqual([
      "worker/routes/rogue.ts:2 writes zone_admins, which only worker/access/group-store.ts may write",
    ]);
  });
});
