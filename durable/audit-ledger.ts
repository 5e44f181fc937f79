// AuditLedger: the single writer of the append-only, hash-chained audit log (one instance for the
// whole deployment), in the object's SQLite storage. Appends, queries, export pages and verify.
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import {
  AuditAction,
  AuditEntryInput,
  AuditQuery,
  type AuditEntry,
  type AuditVerifyResult,
} from "../protocol/audit.ts";
import type { Env } from "../worker/env.ts";
import { canonicalJson, chain, GENESIS, verifyChain } from "./audit-chain.ts";
import { workerEffects } from "./worker-effects.ts";

/** Appends waiting behind the one being written. Past this, append throws "ledger busy": the caller's
 * request fails rather than the object's memory growing without bound behind a slow writer. */
const MAX_PENDING_APPENDS = 1000;
/** Most entries in one appendMany call (one transaction). */
const MAX_BATCH = 500;
/** Most entries one page() call returns. */
const MAX_PAGE = 1000;
/** Rows verify reads from SQLite at a time, so a long ledger is never held in memory whole. */
const VERIFY_READ = 1000;

/**
 * An entry as it crosses RPC: AuditEntry with `data` typed as JSON fields (it is: canonical JSON
 * in, JSON.parse out). The RPC stub types turn `unknown` into `never`, and a recursive JSON type
 * overflows their instantiation depth, so a field is typed one level deep. Assignable to AuditEntry.
 */
export type LedgerEntry = Omit<AuditEntry, "data"> & { data: Record<string, JsonField> };
type JsonField = string | number | boolean | null | object;

/** Most ids one filter list carries (the worker resolves a typed name to at most this many). */
export const MAX_FILTER_IDS = 500;
const Ids = z.array(z.string().max(128)).max(MAX_FILTER_IDS);

/**
 * What the ledger filters by. Names are the worker's business (D1 holds them): it turns a typed name
 * into the ids it matches (worker/audit-filter.ts). userId/userIds match the actor or the entry's user
 * ref; zoneIds/zoneServerIds match entries about a zone's servers or about the zone itself.
 */
export const LedgerFilter = AuditQuery.pick({
  userId: true,
  serverId: true,
  action: true,
  from: true,
  to: true,
}).extend({
  userIds: Ids.optional(),
  serverIds: Ids.optional(),
  zoneIds: Ids.optional(),
  zoneServerIds: Ids.optional(),
});
export type LedgerFilter = z.input<typeof LedgerFilter>;
const LedgerQuery = LedgerFilter.extend(AuditQuery.pick({ before: true, limit: true }).shape);
export type LedgerQuery = z.input<typeof LedgerQuery>;

/** The commands timeline's question: entries of these actions whose `data.line` contains `text` (any case). */
const CommandsLedgerQuery = LedgerFilter.omit({ action: true }).extend({
  actions: z.array(AuditAction).min(1).max(3),
  text: z.string().max(200).optional(),
  before: z.number().int().optional(),
  limit: z.number().int().min(1).max(200),
});
export type CommandsLedgerQuery = z.input<typeof CommandsLedgerQuery>;

type Head = { count: number; hash: string };
type Row = {
  idx: number;
  ts: number;
  prev: string;
  hash: string;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target_type: string;
  target_id: string;
  target_name: string | null;
  user_id: string | null;
  server_id: string | null;
  session_id: string | null;
  checkout_id: string | null;
  data: string;
};

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, ts INTEGER NOT NULL, prev TEXT NOT NULL,
    hash TEXT NOT NULL, actor_id TEXT, actor_name TEXT, action TEXT NOT NULL, target_type TEXT NOT NULL,
    target_id TEXT NOT NULL, target_name TEXT, user_id TEXT, server_id TEXT, session_id TEXT, checkout_id TEXT,
    data TEXT NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS entries_actor ON entries (actor_id)",
  "CREATE INDEX IF NOT EXISTS entries_user ON entries (user_id)",
  "CREATE INDEX IF NOT EXISTS entries_server ON entries (server_id)",
  "CREATE INDEX IF NOT EXISTS entries_ts ON entries (ts)",
  // The commands timeline reads one kind of entry newest first (commands()).
  "CREATE INDEX IF NOT EXISTS entries_action ON entries (action, idx)",
  // The head: how many entries the ledger has written and the last one's hash. Written in the same
  // transaction as each insert, so it is the anchor that shows a truncated or rewritten tail.
  "CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL, hash TEXT NOT NULL)",
  `INSERT OR IGNORE INTO head (id, count, hash) VALUES (0, 0, '${GENESIS}')`,
  // Guards against our own bugs, not attackers (who can drop them): entries are never changed.
  "CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
  "CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
  // Whether any audit sink is on (the stream, worker/audit-stream): set by streamChanged; while on, every append
  // wakes the alarm that delivers.
  "CREATE TABLE IF NOT EXISTS stream (id INTEGER PRIMARY KEY CHECK (id = 0), active INTEGER NOT NULL)",
];

export class AuditLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /**
   * Appends run one at a time through this promise chain. The input gate alone is not enough:
   * it holds other events back only while a *storage* call is pending, and hashing
   * (crypto.subtle.digest) is not one, so two appends awaiting their hashes could both have read
   * the same head and fork the chain. (workerd's digest happens to resolve at once, so two RPCs do
   * not interleave today, but nothing promises that; and calls made within one event, such as
   * several appends from one request, interleave at every await regardless.) Each append reads
   * the head, hashes, and inserts with the head update in one synchronous transaction only after
   * the previous append has settled; the transaction also re-checks the head and refuses rather
   * than fork. Reads (query, page, count, verify) do not queue. blockConcurrencyWhile would also
   * serialize, but it stalls every reader too, and an exception inside it resets the object.
   */
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** The audit stream's delivery run in progress (alarm), if any. */
  private delivering: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      for (const statement of SCHEMA) this.sql.exec(statement);
    });
  }

  async append(input: AuditEntryInput): Promise<LedgerEntry> {
    const [entry] = await this.enqueue([AuditEntryInput.parse(input)]);
    return entry!;
  }

  /** Appends up to 500 entries in order, all or none. */
  async appendMany(inputs: AuditEntryInput[]): Promise<LedgerEntry[]> {
    if (inputs.length > MAX_BATCH) throw new RangeError(`appendMany: at most ${MAX_BATCH} entries`);
    return this.enqueue(inputs.map((input) => AuditEntryInput.parse(input)));
  }

  /** Newest first; from/to are inclusive, in ms. */
  async query(q: LedgerQuery): Promise<LedgerEntry[]> {
    const { before, limit, ...filter } = LedgerQuery.parse(q);
    const { where, args } = whereOf(filter);
    if (before !== undefined) {
      where.push("idx < ?");
      args.push(before);
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    return this.rows(`SELECT * FROM entries ${clause} ORDER BY idx DESC LIMIT ?`, ...args, limit);
  }

  /**
   * Command entries (the commands timeline), newest first, at most `limit`. Reads the (action, idx) index
   * for each action, below the cursor; the text is a LIKE on the line in `data`, its wildcards escaped.
   */
  async commands(q: CommandsLedgerQuery): Promise<LedgerEntry[]> {
    const { actions, text, before, limit, ...filter } = CommandsLedgerQuery.parse(q);
    const { where, args } = whereOf(filter);
    where.unshift("action IN (SELECT value FROM json_each(?))");
    args.unshift(JSON.stringify(actions));
    if (before !== undefined) {
      where.push("idx < ?");
      args.push(before);
    }
    if (text) {
      where.push("json_extract(data, '$.line') LIKE ? ESCAPE '\\'");
      args.push(`%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    }
    return this.rows(`SELECT * FROM entries WHERE ${where.join(" AND ")} ORDER BY idx DESC LIMIT ?`, ...args, limit);
  }

  /** Oldest first, entries after `afterIdx` (-1 for the start), optionally filtered: the export walks these pages. */
  async page(afterIdx: number, limit: number, filter: LedgerFilter = {}): Promise<LedgerEntry[]> {
    const n = Number.isFinite(limit) ? Math.max(1, Math.min(MAX_PAGE, Math.trunc(limit))) : MAX_PAGE;
    const after = Number.isFinite(afterIdx) ? Math.trunc(afterIdx) : -1;
    const { where, args } = whereOf(LedgerFilter.parse(filter));
    const clause = ["idx > ?", ...where].join(" AND ");
    return this.rows(`SELECT * FROM entries WHERE ${clause} ORDER BY idx LIMIT ?`, after, ...args, n);
  }

  async count(): Promise<number> {
    return this.head().count;
  }

  /**
   * An admin changed the audit sinks: `active` says whether any is on. While on, each append wakes the alarm that
   * delivers to them (worker/audit-stream/deliver.ts); appends never wait for it.
   */
  async streamChanged(active: boolean): Promise<void> {
    this.sql.exec("INSERT OR REPLACE INTO stream (id, active) VALUES (0, ?)", active ? 1 : 0);
    if (active) await this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * Delivers to the audit sinks; comes back when one is behind and due again. A throw is retried by the runtime.
   * Runs one at a time: a second call waits for the first, so two runs never send one sink the same batch.
   */
  override async alarm(): Promise<void> {
    const previous = this.delivering;
    const run = (async () => {
      await previous;
      if (!this.streaming()) return;
      const next = await workerEffects().deliverAuditStream(this.env, {
        page: (afterIdx, limit) =>
          this.rows("SELECT * FROM entries WHERE idx > ? ORDER BY idx LIMIT ?", afterIdx, limit),
        count: () => this.head().count,
      });
      if (next !== null) await this.ctx.storage.setAlarm(next);
    })();
    this.delivering = run.catch(() => undefined);
    await run;
  }

  /**
   * Walks every entry in idx order through verifyChain, then holds the result against the stored
   * head {count, hash} (see audit-chain.ts for what the walk itself reports). The head is read
   * first and the walk covers idx < head.count, so appends landing meanwhile do not count as
   * tampering. After a clean walk of `found` entries:
   *   found < head.count          -> index_gap at `found` (the tail from there is missing)
   *   last hash != head.hash      -> hash_mismatch at head.count - 1 (the newest entry was
   *                                  rewritten, hash recomputed; or everything from some earlier
   *                                  point was: the head proves only that the end is wrong)
   *   rows beyond the head exist  -> index_gap at head.count (entries the ledger never wrote;
   *                                  checked once the walk is done, against the head as it is then)
   * `count` in every result is the number of entries walked.
   */
  async verify(): Promise<AuditVerifyResult> {
    const anchor = this.head();
    const walked = await verifyChain(this.entriesBelow(anchor.count));
    if (!walked.ok) return walked;
    const found = walked.count;
    if (found < anchor.count) return { ok: false, count: found, firstBadIndex: found, problem: "index_gap" };
    if (walked.head !== anchor.hash) {
      return { ok: false, count: found, firstBadIndex: anchor.count - 1, problem: "hash_mismatch" };
    }
    const now = this.head();
    const beyond = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM entries WHERE idx >= ?", anchor.count).one();
    if (beyond.n !== now.count - anchor.count) {
      return { ok: false, count: found, firstBadIndex: anchor.count, problem: "index_gap" };
    }
    return walked;
  }

  // ---- internals ------------------------------------------------------------------------------

  private enqueue(inputs: AuditEntryInput[]): Promise<LedgerEntry[]> {
    if (this.pending >= MAX_PENDING_APPENDS) return Promise.reject(new Error("audit ledger busy"));
    this.pending++;
    const run = this.tail.then(() => this.write(inputs));
    this.tail = run.catch(() => undefined);
    return run.finally(() => this.pending--);
  }

  /** Runs only from the queue in `enqueue`: nothing else moves the head while it awaits hashing. */
  private async write(inputs: AuditEntryInput[]): Promise<LedgerEntry[]> {
    // Chains onto the head, not onto the last row: a tampered row is for verify to report, and
    // must not stop the ledger recording.
    const start = this.head();
    let last: Pick<AuditEntry, "idx" | "hash"> | undefined =
      start.count === 0 ? undefined : { idx: start.count - 1, hash: start.hash };
    const entries: LedgerEntry[] = [];
    for (const input of inputs) {
      const entry = await chain(last, input, Date.now());
      entries.push(entry as LedgerEntry); // chain() passed data through canonical JSON
      last = entry;
    }
    const end = entries.at(-1);
    if (!end) return entries;
    this.ctx.storage.transactionSync(() => {
      const head = this.head();
      // Cannot happen while appends are queued; refuse rather than fork the chain if it ever does.
      if (head.count !== start.count || head.hash !== start.hash) throw new Error("audit ledger: head moved");
      for (const e of entries) insert(this.sql, e);
      this.sql.exec("UPDATE head SET count = ?, hash = ? WHERE id = 0", end.idx + 1, end.hash);
    });
    if (this.streaming()) await this.wakeStream();
    return entries;
  }

  private streaming(): boolean {
    return this.sql.exec<{ active: number }>("SELECT active FROM stream WHERE id = 0").toArray()[0]?.active === 1;
  }

  /** New entries go out now, unless a delivery is already due within a second (a failing sink's backoff is not). */
  private async wakeStream(): Promise<void> {
    const at = await this.ctx.storage.getAlarm();
    if (at === null || at > Date.now() + 1000) await this.ctx.storage.setAlarm(Date.now());
  }

  private head(): Head {
    return this.sql.exec<Head>("SELECT count, hash FROM head WHERE id = 0").one();
  }

  private rows(query: string, ...args: (string | number)[]): LedgerEntry[] {
    return this.sql
      .exec<Row>(query, ...args)
      .toArray()
      .map(fromRow);
  }

  /** Entries with idx below `end` in order, VERIFY_READ rows at a time. */
  private async *entriesBelow(end: number): AsyncGenerator<LedgerEntry> {
    let after = -1;
    for (;;) {
      const batch = this.rows(
        "SELECT * FROM entries WHERE idx > ? AND idx < ? ORDER BY idx LIMIT ?",
        after,
        end,
        VERIFY_READ,
      );
      yield* batch;
      if (batch.length < VERIFY_READ) return;
      after = batch.at(-1)!.idx;
    }
  }
}

/** The SQL conditions for a filter. Id lists travel as one JSON parameter each (json_each), never spliced in. */
function whereOf(f: z.output<typeof LedgerFilter>): { where: string[]; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const filter = (condition: string, ...values: (string | number)[]) => {
    where.push(condition);
    args.push(...values);
  };
  const list = (ids: string[]) => JSON.stringify(ids);
  const anyOf = "(SELECT value FROM json_each(?))";
  if (f.userId !== undefined) filter("(actor_id = ? OR user_id = ?)", f.userId, f.userId);
  if (f.userIds !== undefined)
    filter(`(actor_id IN ${anyOf} OR user_id IN ${anyOf})`, list(f.userIds), list(f.userIds));
  if (f.serverId !== undefined) filter("server_id = ?", f.serverId);
  if (f.serverIds !== undefined) filter(`server_id IN ${anyOf}`, list(f.serverIds));
  if (f.zoneIds !== undefined || f.zoneServerIds !== undefined)
    filter(
      `(server_id IN ${anyOf} OR (target_type = 'zone' AND target_id IN ${anyOf}))`,
      list(f.zoneServerIds ?? []),
      list(f.zoneIds ?? []),
    );
  if (f.action !== undefined) filter("action = ?", f.action);
  if (f.from !== undefined) filter("ts >= ?", f.from);
  if (f.to !== undefined) filter("ts <= ?", f.to);
  return { where, args };
}

/** The columns of `entries` in table order, as the ledger writes an entry (tests reuse it to forge rows). */
export function entryColumns(e: AuditEntry): (string | number | null)[] {
  return [
    e.idx,
    e.ts,
    e.prev,
    e.hash,
    e.actor?.id ?? null,
    e.actor?.name ?? null,
    e.action,
    e.target.type,
    e.target.id,
    e.target.name ?? null,
    e.refs.userId ?? null,
    e.refs.serverId ?? null,
    e.refs.sessionId ?? null,
    e.refs.checkoutId ?? null,
    canonicalJson(e.data),
  ];
}

function insert(sql: SqlStorage, e: AuditEntry): void {
  sql.exec(
    `INSERT INTO entries (idx, ts, prev, hash, actor_id, actor_name, action, target_type, target_id, target_name,
      user_id, server_id, session_id, checkout_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ...entryColumns(e),
  );
}

/**
 * The stored row as the entry that was hashed: absent optional fields stay absent. `data` that is
 * not JSON (only a hand edit makes that) is passed on as the raw string, which verify reports as
 * malformed instead of throwing.
 */
function fromRow(r: Row): LedgerEntry {
  const target: AuditEntry["target"] = { type: r.target_type, id: r.target_id };
  if (r.target_name !== null) target.name = r.target_name;
  const refs: AuditEntry["refs"] = {};
  if (r.user_id !== null) refs.userId = r.user_id;
  if (r.server_id !== null) refs.serverId = r.server_id;
  if (r.session_id !== null) refs.sessionId = r.session_id;
  if (r.checkout_id !== null) refs.checkoutId = r.checkout_id;
  return {
    idx: r.idx,
    ts: r.ts,
    prev: r.prev,
    hash: r.hash,
    actor: r.actor_id === null ? null : { id: r.actor_id, name: r.actor_name ?? "" },
    action: r.action as AuditEntry["action"],
    target,
    refs,
    data: parseData(r.data),
  };
}

function parseData(text: string): LedgerEntry["data"] {
  try {
    return JSON.parse(text) as LedgerEntry["data"];
  } catch {
    return text as unknown as LedgerEntry["data"];
  }
}
