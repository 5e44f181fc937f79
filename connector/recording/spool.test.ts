// The spool on a real temp directory: a "crash" (a new Spool on the same directory) keeps exactly
// the complete chunks and removes the debris; the byte bound; removal and rejection after upload.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fakeChunk } from "./fixtures.ts";
import { Spool, SpoolFull } from "./spool.ts";

const A = "0a6f4c2e-7b1d-4e3a-9c5f-1d2e3f4a5b6c";
const B = "1b7a5d3f-8c2e-4f4b-8d6a-2e3f4a5b6c7d";

const dirs: string[] = [];
async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "psm-spool-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function add(spool: Spool, rid: string, seq: number, at: number, final = false) {
  const c = fakeChunk(rid, seq, at, final);
  await spool.add(rid, seq, c.data, c.jws, c.claims);
}

describe("Spool", () => {
  it("after a crash, lists exactly the complete chunks, oldest first, and removes the debris", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    await add(spool, A, 0, 1000);
    await add(spool, B, 0, 1500);
    await add(spool, A, 1, 2000);
    await add(spool, A, 2, 3000);
    const bytes = spool.stats().bytes;
    // Debris of a crash: a .gz whose .jws never landed, temp files, a .jws left without its .gz.
    const a = join(dir, "spool", A);
    await writeFile(join(a, "000003.gz"), "half");
    await writeFile(join(a, "000004.gz.tmp"), "partial");
    await writeFile(join(a, "000004.jws.tmp"), "partial");
    await writeFile(join(dir, "spool", B, "000001.jws"), "orphan");
    await writeFile(join(dir, "spool", "x.tmp"), "partial");

    const logged: string[] = [];
    const again = await Spool.open(dir, { log: (event) => logged.push(event) });
    expect(again.list().map((c) => `${c.rid === A ? "A" : "B"}${c.seq}`)).toEqual(["A0", "B0", "A1", "A2"]);
    expect(again.stats()).toEqual({ bytes, limit: again.limit, chunks: 4, oldestAt: 1000 });
    expect((await readdir(a)).sort()).toEqual([
      "000000.gz",
      "000000.jws",
      "000001.gz",
      "000001.jws",
      "000002.gz",
      "000002.jws",
    ]);
    expect(await readdir(join(dir, "spool", B))).toEqual(["000000.gz", "000000.jws"]);
    expect(await readdir(join(dir, "spool"))).not.toContain("x.tmp");
    expect(logged.filter((e) => e === "recording.spool_debris")).toHaveLength(2);
    // What it reads back is what was written.
    const first = await again.read(again.next()!);
    expect(new TextDecoder().decode(first.data)).toBe(`gzip bytes of ${A} #0`);
    expect(first.jws).toBe(fakeChunk(A, 0, 1000).jws);
  });

  it("moves a chunk whose claims do not read, or name another chunk, to spool-rejected", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    await add(spool, A, 0, 1000);
    await writeFile(join(dir, "spool", A, "000001.gz"), "x");
    await writeFile(join(dir, "spool", A, "000001.jws"), "not a jws");
    await writeFile(join(dir, "spool", A, "000002.gz"), "x");
    await writeFile(join(dir, "spool", A, "000002.jws"), fakeChunk(B, 2, 5).jws);
    const again = await Spool.open(dir);
    expect(again.list().map((c) => c.seq)).toEqual([0]);
    expect((await readdir(join(dir, "spool-rejected", A))).sort()).toEqual([
      "000001.gz",
      "000001.jws",
      "000002.gz",
      "000002.jws",
    ]);
  });

  it("refuses past its byte bound, and takes chunks again once uploads free room", async () => {
    const dir = await stateDir();
    const one = fakeChunk(A, 0, 1);
    const size = one.data.byteLength + one.jws.length;
    const spool = await Spool.open(dir, { maxBytes: size * 2 });
    await add(spool, A, 0, 1);
    await add(spool, A, 1, 2);
    expect(spool.full()).toBe(true);
    await expect(add(spool, A, 2, 3)).rejects.toBeInstanceOf(SpoolFull);
    expect(spool.stats().chunks).toBe(2);
    expect(await readdir(join(dir, "spool", A))).not.toContain("000002.gz");
    await spool.remove(spool.next()!);
    expect(spool.full()).toBe(false);
    await add(spool, A, 2, 3);
    expect(spool.list().map((c) => c.seq)).toEqual([1, 2]);
  });

  it("alerts once each time it passes the alert fraction", async () => {
    const dir = await stateDir();
    const one = fakeChunk(A, 0, 1);
    const size = one.data.byteLength + one.jws.length;
    const logged: [string, unknown][] = [];
    const spool = await Spool.open(dir, { maxBytes: size * 5, log: (event, fields) => logged.push([event, fields]) });
    for (let seq = 0; seq < 5; seq++) await add(spool, A, seq, seq);
    const alerts = () => logged.filter(([e]) => e === "recording.spool_high");
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]![1]).toMatchObject({ reason: "80%" });
    await spool.remove(spool.next()!);
    await spool.remove(spool.next()!);
    await add(spool, A, 5, 5);
    expect(alerts()).toHaveLength(2);
  });

  it("removes a recording's directory once its final chunk is uploaded and nothing is left", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    await add(spool, A, 0, 1);
    await spool.remove(spool.next()!);
    // The recording is live (no final chunk yet): its directory stays for the next chunk.
    expect(await readdir(join(dir, "spool"))).toEqual([A]);
    await add(spool, A, 1, 2);
    await add(spool, A, 2, 3, true);
    await spool.remove(spool.next()!);
    await spool.reject(spool.next()!);
    expect(await readdir(join(dir, "spool"))).toEqual([]);
    expect((await readdir(join(dir, "spool-rejected", A))).sort()).toEqual(["000002.gz", "000002.jws"]);
    expect(spool.stats()).toMatchObject({ bytes: 0, chunks: 0, oldestAt: null });
  });

  it("removes, after a restart, a recording's directory once its leftovers are uploaded (no session survives)", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    await add(spool, A, 0, 1);
    const again = await Spool.open(dir);
    await again.remove(again.next()!);
    expect(await readdir(join(dir, "spool"))).toEqual([]);
  });

  it("writes a group of chunks as one commit: all complete, in order, counted, no temp file left", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    let added = 0;
    spool.onAdded = () => added++;
    await add(spool, A, 0, 1);
    await spool.addAll(
      A,
      [1, 2, 3].map((seq) => ({ seq, ...fakeChunk(A, seq, seq + 1, seq === 3) })),
    );
    expect(added).toBe(4);
    expect(spool.list().map((c) => [c.seq, c.final])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [3, true],
    ]);
    const files = (await readdir(join(dir, "spool", A))).sort();
    expect(files).toEqual(["0", "1", "2", "3"].flatMap((n) => [`00000${n}.gz`, `00000${n}.jws`]));
    // After a restart, the same complete chunks.
    const again = await Spool.open(dir);
    expect(again.list().map((c) => c.seq)).toEqual([0, 1, 2, 3]);
    expect(again.stats().bytes).toBe(spool.stats().bytes);
  });

  it("writes a group up to its byte bound, then refuses the rest as separate adds would", async () => {
    const dir = await stateDir();
    const one = fakeChunk(A, 0, 1);
    const size = one.data.byteLength + one.jws.length;
    const spool = await Spool.open(dir, { maxBytes: size * 2 });
    const group = [0, 1, 2].map((seq) => ({ seq, ...fakeChunk(A, seq, seq + 1) }));
    await expect(spool.addAll(A, group)).rejects.toBeInstanceOf(SpoolFull);
    expect(spool.list().map((c) => c.seq)).toEqual([0, 1]);
    expect((await readdir(join(dir, "spool", A))).sort()).toEqual([
      "000000.gz",
      "000000.jws",
      "000001.gz",
      "000001.jws",
    ]);
  });

  it("refuses a group whose chunks are not consecutive or name another recording, writing none", async () => {
    const dir = await stateDir();
    const spool = await Spool.open(dir);
    const gap = [0, 2].map((seq) => ({ seq, ...fakeChunk(A, seq, seq) }));
    await expect(spool.addAll(A, gap)).rejects.toThrow("chunk names disagree");
    await expect(spool.addAll(A, [{ seq: 0, ...fakeChunk(B, 0, 0) }])).rejects.toThrow("chunk names disagree");
    expect(spool.stats()).toMatchObject({ bytes: 0, chunks: 0 });
  });

  it("is writable in a fresh state directory", async () => {
    const spool = await Spool.open(await stateDir());
    expect(await spool.writable()).toBe(true);
    expect(await readdir(spool.dir)).toEqual([]);
  });
});
