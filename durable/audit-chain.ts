// The audit log's hash chain as pure functions (WebCrypto only: runs in workerd and on Node 20):
// canonical JSON, an entry's hash, the next entry, and a verifier that names the first bad position.
import { AuditEntry, AuditEntryInput, type AuditVerifyResult } from "../protocol/audit.ts";
import { canonicalJson } from "../protocol/canonical-json.ts";

/** Defined in protocol/ so the connector writes the same bytes to a SIEM; re-exported for the edge. */
export { canonicalJson };

/** The `prev` of entry 0. */
export const GENESIS = "0".repeat(64);

/** Lowercase hex SHA-256 of the canonical JSON of every field but `hash` itself. */
export async function entryHash(entry: Omit<AuditEntry, "hash">): Promise<string> {
  const { idx, ts, prev, actor, action, target, refs, data } = entry;
  const bytes = new TextEncoder().encode(canonicalJson({ idx, ts, prev, actor, action, target, refs, data }));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A lone UTF-16 surrogate: no character, and stored as text it comes back as U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * JSON.parse's reviver that makes every string well-formed (a lone surrogate becomes U+FFFD, as String's
 * toWellFormed does), so what is hashed is what the ledger's text columns keep and give back: a name with a lone
 * surrogate (any text a request supplies) would otherwise read back differently and break verify for good.
 */
function wellFormed(_key: string, value: unknown): unknown {
  return typeof value === "string" ? value.replace(LONE_SURROGATE, "\uFFFD") : value;
}

/**
 * The entry that follows `prev` (or the first entry when `prev` is undefined; only its idx and hash
 * are read, so a ledger can chain from its stored head). The input is
 * validated, and its fields normalized through canonical JSON, so the returned entry is exactly
 * what reading it back from storage gives (a `Date` in `data` becomes its ISO string, and so on).
 */
export async function chain(
  prev: Pick<AuditEntry, "idx" | "hash"> | undefined,
  input: AuditEntryInput,
  ts: number,
): Promise<AuditEntry> {
  const { actor, action, target, refs, data } = JSON.parse(
    canonicalJson(AuditEntryInput.parse(input)),
    wellFormed,
  ) as AuditEntry;
  const body = {
    idx: prev ? prev.idx + 1 : 0,
    ts,
    prev: prev ? prev.hash : GENESIS,
    actor,
    action,
    target,
    refs,
    data,
  };
  return { ...body, hash: await entryHash(body) };
}

/**
 * Walks the entries in order and reports the first position where the chain breaks. Checks at
 * position i, in this order (the first failing one is reported, with firstBadIndex = i):
 *   malformed      the entry fails the AuditEntry schema (or is not an object at all);
 *   index_gap      entry.idx !== i;
 *   broken_link    entry.prev !== the hash of the entry at i - 1 (GENESIS for i = 0);
 *   hash_mismatch  entry.hash !== entryHash(entry). The raw entry is hashed, not the schema's
 *                  parse, so even an extra nested key counts as an edit.
 * `count` is the number of entries in the sequence (all of them are read, even after a failure).
 *
 * What each tampering with a sequence of n entries gives (k = the tampered position):
 *   edit a field of entry k                -> k, hash_mismatch (k, malformed if the edit breaks the
 *                                             schema; k, index_gap / broken_link if the field edited
 *                                             is idx / prev)
 *   edit entry k and recompute its hash    -> k + 1, broken_link (its prev no longer matches)
 *   delete entry k (k < n - 1)             -> k, index_gap (entry k + 1 now sits at k)
 *   delete entry k and renumber the rest   -> k, broken_link
 *   insert a forged entry at k             -> k: index_gap if its idx is not k, else broken_link if
 *                                             its prev is not hash(k - 1), else hash_mismatch if its
 *                                             hash is not recomputed. A forger who gets all three
 *                                             right passes at k and is caught at k + 1 (index_gap,
 *                                             or broken_link if the rest were renumbered too).
 *   swap entries k and k + 1               -> k, index_gap; k, broken_link if each idx stays in
 *                                             place (in SQL, where idx is the row key)
 *   truncate the tail (drop the last m)    -> NOT detected: what is left is a valid shorter chain.
 *   edit the last entry and recompute hash -> NOT detected, for the same reason.
 * The chain alone proves only that every entry is consistent with those before it, so losing or
 * rewriting the newest entries needs an anchor kept apart from the entries: the AuditLedger keeps
 * a head {count, hash} written in the same transaction as each append and compares it after this
 * walk (see AuditLedger.verify); an export is checked against a head recorded earlier. Anyone who
 * can rewrite every entry from k onwards AND the head is caught only by an anchor held elsewhere.
 */
export async function verifyChain(entries: Iterable<unknown> | AsyncIterable<unknown>): Promise<AuditVerifyResult> {
  let count = 0;
  let prevHash = GENESIS;
  let bad: { firstBadIndex: number; problem: Problem } | undefined;
  for await (const raw of entries) {
    const i = count++;
    if (bad) continue;
    const problem = await check(raw, i, prevHash);
    if (problem) bad = { firstBadIndex: i, problem };
    else prevHash = (raw as AuditEntry).hash;
  }
  return bad ? { ok: false, count, ...bad } : { ok: true, count, head: prevHash };
}

type Problem = Extract<AuditVerifyResult, { ok: false }>["problem"];

async function check(raw: unknown, i: number, prevHash: string): Promise<Problem | undefined> {
  if (!AuditEntry.safeParse(raw).success) return "malformed";
  const entry = raw as AuditEntry;
  if (entry.idx !== i) return "index_gap";
  if (entry.prev !== prevHash) return "broken_link";
  if (entry.hash !== (await entryHash(entry))) return "hash_mismatch";
  return undefined;
}
