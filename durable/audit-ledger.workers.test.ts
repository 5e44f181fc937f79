// AuditLedger inside the Workers runtime: appends, queries and export pages, concurrent appends
// staying one chain, and verify naming the first bad position for each way of tampering with storage.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditEntry, AuditEntryInput } from "../protocol/audit.ts";
import { entryHash, GENESIS } from "./audit-chain.ts";
import { type AuditLedger, entryColumns } from "./audit-ledger.ts";

const ledger = () => env.AUDIT_LEDGER.get(env.AUDIT_LEDGER.idFromName(`t-${crypto.randomUUID()}`));
type Ledger = ReturnType<typeof ledger>;

const input = (i: number): AuditEntryInput => ({
  actor: { id: `admin${i % 2}`, name: `Admin ${i % 2}` },
  action: i % 3 === 0 ? "checkout.approved" : "session.started",
  target: { type: "server", id: `srv${i % 4}`, name: i % 2 ? `db${i}` : undefined },
  refs: { userId: `user${i % 3}`, serverId: `srv${i % 4}`, sessionId: `sess${i}` },
  data: { i, note: "x" },
});

async function seeded(n = 10): Promise<{ stub: Ledger; entries: AuditEntry[] }> {
  const stub = ledger();
  for (let i = 0; i < n; i++) await stub.append(input(i));
  return { stub, entries: await stub.page(-1, 1000) };
}

/** runInDurableObject types the instance against Cloudflare.Env, which the tests widen with
 * TEST_MIGRATIONS, so AuditLedger (typed with the Worker's Env) does not match its constraint. */
const asLedger = (instance: unknown) => instance as AuditLedger;

type Statement = [string, ...(string | number | null)[]];

/** Runs SQL against the object's storage as someone with raw access would, guards dropped first. */
async function tamper(stub: Ledger, ...statements: Statement[]) {
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec("DROP TRIGGER IF EXISTS entries_no_update");
    state.storage.sql.exec("DROP TRIGGER IF EXISTS entries_no_delete");
    for (const [query, ...args] of statements) state.storage.sql.exec(query, ...args);
  });
}

const withoutHash = ({ hash: _, ...body }: AuditEntry) => body;

/** An INSERT of a whole entry, columns as the ledger writes them. */
const insertRow = (e: AuditEntry): Statement => [
  "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  ...entryColumns(e).slice(0, -1),
  JSON.stringify(e.data),
];

describe("AuditLedger appends and reads", () => {
  it("chains appends from GENESIS and returns what it stored", async () => {
    const stub = ledger();
    expect(await stub.count()).toBe(0);
    expect(await stub.verify()).toEqual({ ok: true, count: 0, head: GENESIS });
    const first = await stub.append({ actor: null, action: "auth.login_failed", target: { type: "user", id: "bob" } });
    expect(first).toMatchObject({ idx: 0, prev: GENESIS, actor: null, refs: {}, data: {} });
    const second = await stub.append(input(1));
    expect(second).toMatchObject({ idx: 1, prev: first.hash });
    expect(await stub.page(-1, 10)).toEqual([first, second]);
    expect(await stub.count()).toBe(2);
    expect(await stub.verify()).toEqual({ ok: true, count: 2, head: second.hash });
  });

  it("rejects an invalid entry", async () => {
    const stub = ledger();
    // Called on the instance, not through the stub: under vitest-pool-workers every rejecting DO RPC
    // also leaks an unhandled rejection (cloudflare/workers-sdk#14736).
    await runInDurableObject(stub, async (instance) => {
      const bad = { actor: null, action: "nope", target: { type: "x", id: "y" } } as never;
      await expect(asLedger(instance).append(bad)).rejects.toThrow(/action/);
    });
    expect(await stub.count()).toBe(0);
  });

  it("queries newest first by user (actor or ref), server, action, time, before and limit", async () => {
    const { stub, entries } = await seeded(12);
    const idxs = (list: AuditEntry[]) => list.map((e) => e.idx);
    expect(idxs(await stub.query({ limit: 100 }))).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(idxs(await stub.query({ userId: "user1", limit: 100 }))).toEqual([10, 7, 4, 1]);
    expect(idxs(await stub.query({ userId: "admin1", limit: 100 }))).toEqual([11, 9, 7, 5, 3, 1]);
    expect(idxs(await stub.query({ serverId: "srv2", limit: 100 }))).toEqual([10, 6, 2]);
    expect(idxs(await stub.query({ action: "checkout.approved", limit: 100 }))).toEqual([9, 6, 3, 0]);
    expect(idxs(await stub.query({ userId: "user0", action: "checkout.approved", limit: 100 }))).toEqual([9, 6, 3, 0]);
    expect(idxs(await stub.query({ before: 5, limit: 2 }))).toEqual([4, 3]);
    const [lo, hi] = [entries[0]!.ts, entries.at(-1)!.ts];
    expect(await stub.query({ from: lo, to: hi, limit: 100 })).toHaveLength(12);
    expect(await stub.query({ from: hi + 1, limit: 100 })).toEqual([]);
    expect(await stub.query({ to: lo - 1, limit: 100 })).toEqual([]);
  });

  it("pages oldest first for export", async () => {
    const { stub, entries } = await seeded(7);
    expect(await stub.page(-1, 3)).toEqual(entries.slice(0, 3));
    expect(await stub.page(2, 3)).toEqual(entries.slice(3, 6));
    expect(await stub.page(5, 3)).toEqual(entries.slice(6));
    expect(await stub.page(6, 3)).toEqual([]);
  });

  it("keeps 50 concurrent appends on one chain", async () => {
    const stub = ledger();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => stub.append(input(i))));
    expect(results.map((e) => e.idx).sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    const stored = await stub.page(-1, 100);
    expect(stored.map((e) => e.idx)).toEqual([...Array(50).keys()]);
    for (let i = 1; i < 50; i++) expect(stored[i]!.prev).toBe(stored[i - 1]!.hash);
    expect(await stub.verify()).toEqual({ ok: true, count: 50, head: stored[49]!.hash });
  });

  it("serializes appends that interleave at their awaits (many calls within one event)", async () => {
    const stub = ledger();
    // Through RPC, workerd happens to run each append to completion before the next (its digest
    // resolves at once); called on the instance, all 50 read the head before any has hashed.
    await runInDurableObject(stub, async (instance) => {
      await Promise.all(Array.from({ length: 50 }, (_, i) => asLedger(instance).append(input(i))));
    });
    expect(await stub.verify()).toMatchObject({ ok: true, count: 50 });
  });

  it("appendMany writes a batch in order on the same chain", async () => {
    const { stub } = await seeded(2);
    const batch = await stub.appendMany([input(2), input(3), input(4)]);
    expect(batch.map((e) => e.idx)).toEqual([2, 3, 4]);
    expect(await stub.verify()).toMatchObject({ ok: true, count: 5 });
  });

  it("refuses UPDATE and DELETE on entries from inside the object (append-only guard)", async () => {
    const { stub } = await seeded(1);
    await runInDurableObject(stub, (_instance, state) => {
      expect(() => state.storage.sql.exec("UPDATE entries SET actor_name = 'x'")).toThrow(/append-only/);
      expect(() => state.storage.sql.exec("DELETE FROM entries")).toThrow(/append-only/);
    });
  });
});

describe("AuditLedger.verify after tampering with storage", () => {
  it("an edited field: hash_mismatch at that entry, and appends go on", async () => {
    const { stub } = await seeded();
    await tamper(stub, ["UPDATE entries SET actor_name = 'mallory' WHERE idx = 4"]);
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 4, problem: "hash_mismatch" });
    await stub.append(input(10));
    expect(await stub.verify()).toEqual({ ok: false, count: 11, firstBadIndex: 4, problem: "hash_mismatch" });
  });

  it("an edited field with the hash recomputed: broken_link at the next entry", async () => {
    const { stub, entries } = await seeded();
    const edited = { ...entries[4]!, data: { i: 4, note: "nothing happened" } };
    const hash = await entryHash(withoutHash(edited));
    await tamper(stub, ["UPDATE entries SET data = ?, hash = ? WHERE idx = 4", JSON.stringify(edited.data), hash]);
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 5, problem: "broken_link" });
  });

  it("data that is not JSON: malformed", async () => {
    const { stub } = await seeded();
    await tamper(stub, ["UPDATE entries SET data = '{oops' WHERE idx = 2"]);
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 2, problem: "malformed" });
  });

  it("a deleted row: index_gap where it was", async () => {
    const { stub } = await seeded();
    await tamper(stub, ["DELETE FROM entries WHERE idx = 3"]);
    expect(await stub.verify()).toEqual({ ok: false, count: 9, firstBadIndex: 3, problem: "index_gap" });
  });

  it("an inserted row: at k if its hash is stale, at k + 1 (broken_link) if forged well", async () => {
    for (const recompute of [false, true]) {
      const { stub, entries } = await seeded();
      const forged = { ...entries[6]!, data: { forged: true } };
      if (recompute) forged.hash = await entryHash(withoutHash(forged));
      // idx is the row key: move rows 6.. up by one (through negatives, keys stay unique), then insert.
      await tamper(
        stub,
        ["UPDATE entries SET idx = -idx - 1 WHERE idx >= 6"],
        ["UPDATE entries SET idx = -idx WHERE idx < 0"],
        insertRow(forged),
      );
      expect(await stub.verify()).toEqual(
        recompute
          ? { ok: false, count: 10, firstBadIndex: 7, problem: "broken_link" }
          : { ok: false, count: 10, firstBadIndex: 6, problem: "hash_mismatch" },
      );
    }
  });

  it("two rows' contents swapped: broken_link at the first", async () => {
    const { stub } = await seeded();
    await tamper(
      stub,
      ["UPDATE entries SET idx = -1 WHERE idx = 2"],
      ["UPDATE entries SET idx = 2 WHERE idx = 3"],
      ["UPDATE entries SET idx = 3 WHERE idx = -1"],
    );
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 2, problem: "broken_link" });
  });

  it("a truncated tail: index_gap at the first missing entry, from the stored head", async () => {
    const { stub } = await seeded();
    await tamper(stub, ["DELETE FROM entries WHERE idx >= 7"]);
    expect(await stub.verify()).toEqual({ ok: false, count: 7, firstBadIndex: 7, problem: "index_gap" });
  });

  it("the last entry rewritten with its hash recomputed: hash_mismatch at it, from the stored head", async () => {
    const { stub, entries } = await seeded();
    const edited = { ...entries[9]!, data: { rewritten: true } };
    const hash = await entryHash(withoutHash(edited));
    await tamper(stub, ["UPDATE entries SET data = ?, hash = ? WHERE idx = 9", JSON.stringify(edited.data), hash]);
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 9, problem: "hash_mismatch" });
  });

  it("a well-forged row past the head: index_gap at the head's count", async () => {
    const { stub, entries } = await seeded();
    const forged = { ...entries[9]!, idx: 10, prev: entries[9]!.hash, data: { forged: true } };
    forged.hash = await entryHash(withoutHash(forged));
    await tamper(stub, insertRow(forged));
    expect(await stub.verify()).toEqual({ ok: false, count: 10, firstBadIndex: 10, problem: "index_gap" });
  });
});
