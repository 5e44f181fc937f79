// The audit stream's syslog sink end to end: an admin adds a syslog sink for the site (POST /api/audit/sinks); the
// real edge (wrangler dev, the AuditLedger's alarm) hands batches to the site's real connector process, which writes
// them over TLS to Debian's rsyslogd (its CA trusted through the connector's `syslog.caFile`). What rsyslog wrote,
// de-duplicated by idx, is exactly the ledger (GET /api/audit) and its chain verifies; a collector that goes down
// makes the sink fail visibly (lastError, failingSince) while admin changes go on being recorded, and once it is
// back the sink catches up: every idx at least once, nothing lost.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyChain } from "../../durable/audit-chain.ts";
import type { AuditEntry, AuditListEntry, AuditSink } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingRsyslog, type Rsyslog, startRsyslog } from "../support/rsyslog.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { parseSyslog } from "../support/syslog-messages.ts";

describeWithPeers(
  "audit stream to rsyslog through the edge and the connector",
  missingPeers() ?? missingRsyslog(),
  () => {
    let stack: Stack;
    let rsyslog: Rsyslog;

    const sinks = () => stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks");
    /** The ledger, oldest first, as stored (the list's `context` removed). */
    const ledger = async (): Promise<AuditEntry[]> => {
      const page = await stack.admin.request<AuditListEntry[]>("GET", "/api/audit?limit=500");
      return page.map(({ context: _, ...e }) => e as AuditEntry).reverse();
    };
    const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> => {
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const v = await probe();
        if (v !== undefined) return v;
        await new Promise((r) => setTimeout(r, 250));
      }
      console.log(JSON.stringify(await sinks()), (await stack.logs()).slice(-4000), rsyslog.output());
      throw new Error(`never: ${what}`);
    };
    /** Waits until the sink has acknowledged every entry written so far. */
    const caughtUp = (id: string) =>
      until(`sink ${id} caught up`, async () => {
        const s = (await sinks()).find((x) => x.id === id);
        return s && s.behind === 0 && s.afterIdx >= 0 && s.lastError === null ? s : undefined;
      });
    const deduped = async () => {
      const byIdx = new Map<number, AuditEntry>();
      const lines = await rsyslog.lines();
      for (const line of lines) {
        const { entry } = parseSyslog(line);
        const seen = byIdx.get(entry.idx);
        if (seen) expect(seen.hash).toBe(entry.hash);
        else byIdx.set(entry.idx, entry);
      }
      return { lines: lines.length, entries: [...byIdx.values()].sort((a, b) => a.idx - b.idx) };
    };

    beforeAll(async () => {
      stack = await startStack();
      rsyslog = await startRsyslog({ dir: join(stack.dir, "rsyslog") });
      const configFile = join(stack.connectorState, "config.json");
      const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
      await writeFile(
        configFile,
        JSON.stringify({ ...config, syslog: { caFile: rsyslog.caFile, hostname: "psm-connector-e2e", overlap: 50 } }),
        { mode: 0o600 },
      );
      await stack.restartConnector();
      for (let i = 0; i < 50; i++) {
        const connectors = await stack.admin.request<{ online: boolean }[]>(
          "GET",
          `/api/sites/${stack.siteId}/connectors`,
        );
        if (connectors.some((c) => c.online)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }, 400_000);
    afterAll(async () => {
      await rsyslog?.stop();
      await stack?.stop();
    });

    it("the whole ledger arrives in order; a collector down and back loses nothing", async () => {
      const created = await stack.admin.request<AuditSink>("POST", "/api/audit/sinks", {
        kind: "syslog",
        name: "On-prem SIEM",
        siteId: stack.siteId,
        host: "127.0.0.1",
        port: rsyslog.port,
      });
      await caughtUp(created.id);
      const before = await ledger();
      const first = await deduped();
      expect(first.entries.slice(0, before.length)).toEqual(before);
      const sample = parseSyslog((await rsyslog.lines())[0]!);
      expect(sample).toMatchObject({ hostname: "psm-connector-e2e", appName: "psm", sdId: "psm@32473", bom: true });
      expect(sample.msgId).toBe(sample.entry.action);

      // The collector goes down; the ledger goes on (admin changes are recorded); the sink says it is failing.
      await rsyslog.stop();
      for (let i = 0; i < 5; i++) await stack.admin.createZone(`while the SIEM is down ${i}`, stack.siteId);
      const failing = await until("the sink fails", async () => {
        const s = (await sinks()).find((x) => x.id === created.id);
        return s?.failingSince && s.lastError ? s : undefined;
      });
      expect(failing.lastError).toMatch(/collector/);
      expect(failing.behind).toBeGreaterThan(0);

      // Back on the same port: it catches up, and with what came before it is exactly the ledger.
      await rsyslog.start();
      await caughtUp(created.id);
      const after = await ledger();
      expect(after.length).toBeGreaterThanOrEqual(before.length + 5);
      const all = await deduped();
      expect(all.entries.slice(0, after.length)).toEqual(after);
      expect(await verifyChain(all.entries)).toMatchObject({ ok: true, count: all.entries.length });
      // The connector logs ids, counts and outcomes, never an entry's contents.
      const logs = await stack.logs();
      expect(logs).toContain("audit_syslog.sent");
      expect(logs).not.toContain("while the SIEM is down");
    }, 300_000);
  },
);
