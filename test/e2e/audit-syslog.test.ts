// The audit stream's syslog sink against a real collector: Debian's rsyslogd on loopback with imtcp over TLS (the
// OpenSSL stream driver, a test CA's certificate), writing each message it receives raw to a file. The connector's
// forwarder sends hash-chained ledger entries; what rsyslog wrote is parsed as RFC 5424 and checked like a SIEM would:
// idx order, hash/prev continuity (durable/audit-chain.ts verifyChain over the de-duplicated run), severities. Then
// rsyslog stops mid-stream (jobs fail), comes back on the same port, and every idx arrives at least once: the
// overlap written again after the reconnect covers what the broken connection may have lost, and de-duplicating by
// idx gives the exact sequence. A collector whose certificate another CA issued is refused and receives nothing;
// one that requires mutual TLS accepts the connector's client certificate.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyChain } from "../../durable/audit-chain.ts";
import { SEVERITY_NOTICE, SEVERITY_WARNING, SyslogFailure, SyslogForwarder } from "../../connector/audit-syslog.ts";
import type { AuditEntry } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingRsyslog, type Rsyslog, startRsyslog } from "../support/rsyslog.ts";
import { chainedEntries, parseSyslog, type Received, syslogJob } from "../support/syslog-messages.ts";

describeWithPeers("audit stream to rsyslog over TLS", missingRsyslog(), () => {
  let dir: string;
  let rsyslog: Rsyslog;
  let foreign: Rsyslog;
  let mutual: Rsyslog;
  const logs: string[] = [];
  const log = (event: string, fields?: Record<string, unknown>) => logs.push(JSON.stringify({ event, ...fields }));
  const job = syslogJob;
  const received = async (r: Rsyslog): Promise<Received[]> => (await r.lines()).map(parseSyslog);
  const waitLines = async (r: Rsyslog, count: number) => {
    for (let i = 0; i < 150; i++) {
      if ((await r.lines()).length >= count) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`rsyslog wrote ${(await r.lines()).length} of ${count} lines; its output: ${r.output()}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-rsyslog-"));
    rsyslog = await startRsyslog({ dir: join(dir, "main") });
    foreign = await startRsyslog({ dir: join(dir, "foreign") });
    mutual = await startRsyslog({ dir: join(dir, "mutual"), authMode: "x509/certvalid" });
  }, 60_000);
  afterAll(async () => {
    await rsyslog?.stop();
    await foreign?.stop();
    await mutual?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("entries arrive as RFC 5424 in idx order with an unbroken chain; a collector down mid-stream loses nothing", async () => {
    const overlap = 60;
    const fwd = new SyslogForwarder({ caFile: rsyslog.caFile, hostname: "connector-1.corp.example", overlap, log });
    const entries = await chainedEntries(300);
    const sink = "sink-main";

    // 1. Two jobs to a running collector.
    for (const [i, batch] of [entries.slice(0, 100), entries.slice(100, 150)].entries()) {
      const answer = await fwd.handle(job(sink, rsyslog.port, batch));
      // Only this process's first job for the sink is `fresh` (it holds no overlap of earlier writers).
      expect(answer.result).toEqual({
        outcome: "sent",
        through: batch.at(-1)!.idx,
        ...(i === 0 ? { fresh: true } : {}),
      });
    }
    await waitLines(rsyslog, 150);
    const first = await received(rsyslog);
    expect(first.map((r) => r.entry.idx)).toEqual(entries.slice(0, 150).map((e) => e.idx));
    for (const r of first) {
      expect(r.hostname).toBe("connector-1.corp.example");
      expect(r.appName).toBe("psm");
      expect(r.msgId).toBe(r.entry.action);
      expect(r.sdId).toBe("psm@32473");
      expect(r.sd).toEqual({ idx: String(r.entry.idx), hash: r.entry.hash, prev: r.entry.prev });
      expect(r.bom).toBe(true);
      expect(new Date(r.timestamp).getTime()).toBe(r.entry.ts);
      expect(r.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // facility 13 (log audit); warning for the kill, the denial, the failures; notice for the rest
      expect(r.pri >> 3).toBe(13);
      const warn = /(_failed|denied|killed)$/.test(r.entry.action);
      expect(r.pri & 7).toBe(warn ? SEVERITY_WARNING : SEVERITY_NOTICE);
    }
    expect(new Set(first.map((r) => r.pri & 7))).toEqual(new Set([SEVERITY_WARNING, SEVERITY_NOTICE]));
    // The entries came through byte-exact: the SIEM can check the chain from the messages alone.
    expect(first.map((r) => r.entry)).toEqual(entries.slice(0, 150));
    expect(await verifyChain(first.map((r) => r.entry))).toEqual({ ok: true, count: 150, head: entries[149]!.hash });

    // 2. The collector goes down mid-stream: the next job fails (a fixed phrase) and is answered, not hung.
    await rsyslog.stop();
    for (let i = 0; i < 50 && fwd.connected(sink); i++) await new Promise((r) => setTimeout(r, 100));
    expect(fwd.connected(sink)).toBe(false);
    const down = await fwd.handle(job(sink, rsyslog.port, entries.slice(150, 200)));
    expect(down.result).toEqual({ outcome: "failed", error: SyslogFailure.unreachable });

    // 3. It comes back on the same port; the edge sends the failed batch again, then the rest.
    await rsyslog.start();
    for (const batch of [entries.slice(150, 200), entries.slice(200, 300)]) {
      const answer = await fwd.handle(job(sink, rsyslog.port, batch));
      expect(answer.result).toEqual({ outcome: "sent", through: batch.at(-1)!.idx });
    }
    await waitLines(rsyslog, 150 + overlap + 150);
    const all = await received(rsyslog);
    const idxs = all.map((r) => r.entry.idx);
    // The new connection starts with the overlap (the last 60 written before the break: 90..149), then the batches.
    expect(idxs.slice(150, 150 + overlap)).toEqual(entries.slice(150 - overlap, 150).map((e) => e.idx));
    expect(idxs.slice(150 + overlap)).toEqual(entries.slice(150).map((e) => e.idx));
    expect(all).toHaveLength(150 + overlap + 150);
    // Every idx at least once; de-duplicated by idx (a duplicate has the same hash) it is exactly the ledger.
    const byIdx = new Map<number, AuditEntry>();
    for (const r of all) {
      const seen = byIdx.get(r.entry.idx);
      if (seen) expect(seen.hash).toBe(r.entry.hash);
      else byIdx.set(r.entry.idx, r.entry);
    }
    const deduped = [...byIdx.values()].sort((a, b) => a.idx - b.idx);
    expect(deduped).toEqual(entries);
    expect(await verifyChain(deduped)).toEqual({ ok: true, count: 300, head: entries[299]!.hash });
    // Log lines carry ids, counts and outcomes, never an entry's contents.
    const text = logs.join("\n");
    expect(text).toContain('"event":"audit_syslog.failed"');
    expect(text).toContain(`"resent":${overlap}`);
    for (const secretish of ["Person", "sudo systemctl", "db-1.corp.example", entries[5]!.hash])
      expect(text).not.toContain(secretish);
    fwd.close();
  }, 120_000);

  it("a collector whose certificate another CA issued is refused, and nothing is written to it", async () => {
    const fwd = new SyslogForwarder({ caFile: rsyslog.caFile, hostname: "connector-1", log });
    const answer = await fwd.handle(job("sink-foreign", foreign.port, await chainedEntries(5)));
    expect(answer.result).toEqual({ outcome: "failed", error: SyslogFailure.untrusted });
    await new Promise((r) => setTimeout(r, 500));
    expect(await foreign.lines()).toEqual([]);
    fwd.close();
  });

  it("a collector that requires mutual TLS takes the connector's client certificate (config certFile/keyFile)", async () => {
    const fwd = new SyslogForwarder({
      caFile: mutual.caFile,
      certFile: mutual.client.cert,
      keyFile: mutual.client.key,
      hostname: "connector-1",
      log,
    });
    const entries = await chainedEntries(20);
    const answer = await fwd.handle(job("sink-mutual", mutual.port, entries));
    expect(answer.result).toEqual({ outcome: "sent", through: 19, fresh: true });
    await waitLines(mutual, 20);
    expect((await received(mutual)).map((r) => r.entry)).toEqual(entries);
    fwd.close();
  });

  it("without a client certificate that collector refuses the connector: `failed`, never `sent`, even for one entry", async () => {
    // Under TLS 1.3 the client's handshake ends before the server checks for its certificate, so a first write would
    // succeed locally; the forwarder uses a new connection only after the collector's session ticket, and sees the alert.
    const before = (await mutual.lines()).length;
    const more = await chainedEntries(3, (await chainedEntries(20)).at(-1));
    for (const one of more) {
      const fwd = new SyslogForwarder({ caFile: mutual.caFile, hostname: "connector-1", log });
      const answer = await fwd.handle(job("sink-mutual-nocert", mutual.port, [one]));
      expect(answer.result).toEqual({ outcome: "failed", error: SyslogFailure.refused });
      fwd.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(await mutual.lines()).toHaveLength(before);
  });
});
