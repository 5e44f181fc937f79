// The audit hash chain: canonical JSON, building entries, and that every kind of tampering is
// reported at the right position (examples, then a property over random chains and mutations).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuditAction, type AuditEntry, type AuditEntryInput } from "../protocol/audit.ts";
import { canonicalJson, chain, entryHash, GENESIS, verifyChain } from "./audit-chain.ts";

async function build(inputs: AuditEntryInput[], t0 = 1_700_000_000_000): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (const [i, input] of inputs.entries()) out.push(await chain(out.at(-1), input, t0 + i * 1000));
  return out;
}

const sample = (i: number): AuditEntryInput => ({
  actor: i % 3 === 0 ? null : { id: `u${i % 4}`, name: `user ${i % 4}` },
  action: AuditAction.options[i % AuditAction.options.length]!,
  target: { type: "server", id: `s${i}`, name: i % 2 ? `db${i}` : undefined },
  refs: { userId: `u${i % 4}`, serverId: `s${i}` },
  data: { n: i, nested: { b: [1, "two", null], a: true } },
});

/** Array.prototype.toSpliced, which is ES2023 (the project's lib is ES2022). */
function spliced<T>(list: T[], start: number, remove: number, ...items: T[]): T[] {
  const copy = [...list];
  copy.splice(start, remove, ...items);
  return copy;
}

const tenEntries = () => build(Array.from({ length: 10 }, (_, i) => sample(i)));

describe("canonicalJson", () => {
  it("sorts keys at every depth, integer-like keys included, and drops undefined fields", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined }], c: undefined }, "10": 0, "9": 0 })).toBe(
      '{"10":0,"9":0,"a":{"d":[3,{"z":1}]},"b":1}',
    );
    expect(canonicalJson([undefined, Number.NaN, new Date(0)])).toBe('[null,null,"1970-01-01T00:00:00.000Z"]');
    expect(() => canonicalJson(1n)).toThrow(TypeError);
  });

  it("is stable through a JSON round trip", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonicalJson(JSON.parse(canonicalJson(v)))).toBe(canonicalJson(v));
      }),
    );
  });
});

describe("chain and verifyChain", () => {
  it("links entries from GENESIS and a valid chain verifies, also after a JSON round trip", async () => {
    const entries = await tenEntries();
    expect(entries[0]!.prev).toBe(GENESIS);
    expect(entries.map((e) => e.idx)).toEqual([...Array(10).keys()]);
    for (const [i, e] of entries.entries()) {
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      if (i > 0) expect(e.prev).toBe(entries[i - 1]!.hash);
    }
    const head = entries.at(-1)!.hash;
    expect(await verifyChain(entries)).toEqual({ ok: true, count: 10, head });
    expect(await verifyChain(JSON.parse(JSON.stringify(entries)))).toEqual({ ok: true, count: 10, head });
    expect(await verifyChain([])).toEqual({ ok: true, count: 0, head: GENESIS });
  });

  it("reads async iterables", async () => {
    const entries = await tenEntries();
    async function* stream() {
      yield* entries;
    }
    expect(await verifyChain(stream())).toMatchObject({ ok: true, count: 10 });
  });

  it("edit of entry k: first bad index k, hash_mismatch", async () => {
    const entries = await tenEntries();
    entries[4] = { ...entries[4]!, actor: { id: "u9", name: "mallory" } };
    expect(await verifyChain(entries)).toEqual({ ok: false, count: 10, firstBadIndex: 4, problem: "hash_mismatch" });
  });

  it("edit of entry k with its hash recomputed: caught at k + 1, broken_link", async () => {
    const entries = await tenEntries();
    const { hash: _, ...edited } = { ...entries[4]!, data: { n: 999 } };
    entries[4] = { ...edited, hash: await entryHash(edited) };
    expect(await verifyChain(entries)).toEqual({ ok: false, count: 10, firstBadIndex: 5, problem: "broken_link" });
  });

  it("delete of entry k: first bad index k, index_gap", async () => {
    const entries = await tenEntries();
    entries.splice(3, 1);
    expect(await verifyChain(entries)).toEqual({ ok: false, count: 9, firstBadIndex: 3, problem: "index_gap" });
  });

  it("insert of a forged entry at k: k if its hash was not recomputed, else k + 1", async () => {
    const entries = await tenEntries();
    const naive = { ...entries[6]!, data: { forged: true } };
    expect(await verifyChain(spliced(entries, 6, 0, naive))).toMatchObject({
      firstBadIndex: 6,
      problem: "hash_mismatch",
    });
    const { hash: _, ...body } = naive;
    const forged = { ...body, hash: await entryHash(body) };
    expect(await verifyChain(spliced(entries, 6, 0, forged))).toMatchObject({ firstBadIndex: 7, problem: "index_gap" });
  });

  it("swap of entries k and k + 1: index_gap at k, broken_link if each idx stays in place", async () => {
    const entries = await tenEntries();
    const swapped = spliced(entries, 2, 2, entries[3]!, entries[2]!);
    expect(await verifyChain(swapped)).toMatchObject({ firstBadIndex: 2, problem: "index_gap" });
    const contents = spliced(entries, 2, 2, { ...entries[3]!, idx: 2 }, { ...entries[2]!, idx: 3 });
    expect(await verifyChain(contents)).toMatchObject({ firstBadIndex: 2, problem: "broken_link" });
  });

  it("a non-entry is malformed; truncating the tail is not visible in the chain alone", async () => {
    const entries = await tenEntries();
    expect(await verifyChain([entries[0], "garbage"])).toMatchObject({ firstBadIndex: 1, problem: "malformed" });
    expect(await verifyChain([{ ...entries[0]!, action: "nope" }])).toMatchObject({ problem: "malformed" });
    // Why AuditLedger.verify also compares against its stored head {count, hash}.
    expect(await verifyChain(entries.slice(0, 7))).toEqual({ ok: true, count: 7, head: entries[6]!.hash });
  });
});

// ---- property: any single mutation is reported at exactly the mutated position ---------------

const ref = fc.string({ minLength: 1, maxLength: 16 });
const input: fc.Arbitrary<AuditEntryInput> = fc.record({
  actor: fc.option(fc.record({ id: ref, name: fc.string({ maxLength: 16 }) })),
  action: fc.constantFrom(...AuditAction.options),
  target: fc.record(
    { type: fc.string({ maxLength: 8 }), id: ref, name: fc.string({ maxLength: 16 }) },
    { requiredKeys: ["type", "id"] },
  ),
  refs: fc.record({ userId: ref, serverId: ref, sessionId: ref, checkoutId: ref }, { requiredKeys: [] }),
  data: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })),
});

type Mutation = (entries: AuditEntry[], k: number) => AuditEntry[];
const flip = (hex: string) => (hex[0] === "a" ? "b" : "a") + hex.slice(1);
const edit =
  (change: (e: AuditEntry) => AuditEntry): Mutation =>
  (entries, k) =>
    spliced(entries, k, 1, change(entries[k]!));
const mutations: Record<string, { mutate: Mutation; lastToo: boolean }> = {
  editTs: { mutate: edit((e) => ({ ...e, ts: e.ts + 1 })), lastToo: true },
  editActor: { mutate: edit((e) => ({ ...e, actor: e.actor ? null : { id: "x", name: "x" } })), lastToo: true },
  editAction: {
    mutate: edit((e) => ({ ...e, action: AuditAction.options.find((a) => a !== e.action)! })),
    lastToo: true,
  },
  editTarget: { mutate: edit((e) => ({ ...e, target: { ...e.target, id: `${e.target.id}x` } })), lastToo: true },
  editRefs: { mutate: edit((e) => ({ ...e, refs: { ...e.refs, userId: `${e.refs.userId ?? ""}x` } })), lastToo: true },
  editData: { mutate: edit((e) => ({ ...e, data: { ...e.data, "tampered-key": 1 } })), lastToo: true },
  editIdx: { mutate: edit((e) => ({ ...e, idx: e.idx + 1 })), lastToo: true },
  editPrev: { mutate: edit((e) => ({ ...e, prev: flip(e.prev) })), lastToo: true },
  editHash: { mutate: edit((e) => ({ ...e, hash: flip(e.hash) })), lastToo: true },
  malform: { mutate: edit((e) => ({ ...e, action: "bogus" }) as unknown as AuditEntry), lastToo: true },
  delete: { mutate: (entries, k) => spliced(entries, k, 1), lastToo: false },
  insert: {
    mutate: (entries, k) =>
      spliced(entries, k, 0, { ...entries[k]!, data: { forged: true }, hash: flip(entries[k]!.hash) }),
    lastToo: true,
  },
  swap: { mutate: (entries, k) => spliced(entries, k, 2, entries[k + 1]!, entries[k]!), lastToo: false },
};

describe("verifyChain property", () => {
  it("reports any single mutation of a random chain at exactly the mutated position", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(input, { minLength: 2, maxLength: 12 }),
        fc.constantFrom(...Object.keys(mutations)),
        fc.nat(),
        async (inputs, name, seed) => {
          const entries = await build(inputs);
          const { mutate, lastToo } = mutations[name]!;
          const k = seed % (lastToo ? entries.length : entries.length - 1);
          const result = await verifyChain(mutate(entries, k));
          expect(result).toMatchObject({ ok: false, firstBadIndex: k });
        },
      ),
      { numRuns: 300 },
    );
  });
});
