// The audit stream's HEC sink end to end: the real edge (wrangler dev; the AuditLedger's alarm) posts every ledger
// entry to a loopback HTTPS event collector (Splunk HEC shapes) whose certificate comes from a private CA that the
// edge trusts only through NODE_EXTRA_CA_CERTS, as a deployment trusts its own collector. Attacks: take the collector
// down and drop connections mid-answer while entries keep being written (nothing lost, the ledger not held up); point
// a sink at a collector whose certificate the edge does not trust (refused, shown); look for the HEC token anywhere a
// browser or a log could see it.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyChain } from "../../durable/audit-chain.ts";
import type { AuditEntry, AuditListEntry, AuditSink } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { read, testCa } from "../support/pki.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

type Mode = "ok" | "fail" | "drop";

/** A loopback Splunk-HEC-compatible collector: checks the token, keeps every event it acknowledged. */
async function hecCollector(tls: { cert: string; key: string }, token: string) {
  const events: AuditEntry[] = [];
  let mode: Mode = "ok";
  let refusedAuth = 0;
  const server: Server = createServer({ cert: read(tls.cert), key: read(tls.key) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (mode === "drop") {
        req.socket.destroy();
        return;
      }
      if (mode === "fail") {
        res.writeHead(503, { "content-type": "application/json" }).end('{"text":"Server is busy","code":9}');
        return;
      }
      if (req.url !== "/services/collector/event" || req.headers.authorization !== `Splunk ${token}`) {
        refusedAuth++;
        res.writeHead(401).end('{"text":"Invalid token","code":4}');
        return;
      }
      for (const line of Buffer.concat(chunks).toString("utf8").split("\n"))
        events.push((JSON.parse(line) as { event: AuditEntry }).event);
      res.writeHead(200, { "content-type": "application/json" }).end('{"text":"Success","code":0}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/services/collector/event`,
    events,
    refusedAuth: () => refusedAuth,
    setMode: (m: Mode) => {
      mode = m;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describeWithPeers("audit stream to an HTTPS event collector through the edge", missingPeers(), () => {
  const token = `hec-canary-${randomBytes(12).toString("hex")}`;
  let stack: Stack;
  let trusted: Awaited<ReturnType<typeof hecCollector>>;
  let foreign: Awaited<ReturnType<typeof hecCollector>>;

  const sinks = () => stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks");
  const ledger = async (): Promise<AuditEntry[]> => {
    const page = await stack.admin.request<AuditListEntry[]>("GET", "/api/audit?limit=500");
    return page.map(({ context: _, ...e }) => e as AuditEntry).reverse();
  };
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`never: ${what}: ${JSON.stringify(await sinks())}`);
  };
  const sink = async (name: string) => (await sinks()).find((s) => s.name === name);
  /** Admin changes: each writes an entry to the ledger. */
  const writeEntries = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) await stack.admin.createSite(`${tag}-${i}`);
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "psm-hec-"));
    const ca = testCa(dir, "hec");
    const other = testCa(dir, "untrusted");
    trusted = await hecCollector(ca.server(), token);
    foreign = await hecCollector(other.server(), token);
    // The edge (workerd under wrangler dev) trusts the collector's private CA only through this variable.
    const before = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = ca.cert;
    try {
      stack = await startStack();
    } finally {
      if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = before;
    }
  });

  afterAll(async () => {
    await stack?.stop();
    await trusted?.close();
    await foreign?.close();
  });

  it("sends the whole ledger in order, survives an outage and dropped answers without losing an entry, and never shows its token", async () => {
    const created = await stack.admin.request<AuditSink>("POST", "/api/audit/sinks", {
      kind: "hec",
      name: "splunk",
      url: trusted.url,
      token,
    });
    expect(created.tokenSet).toBe(true);
    await until("caught up", async () => ((await sink("splunk"))?.behind === 0 ? true : undefined));
    let stored = await ledger();
    expect(trusted.events.map((e) => e.idx)).toEqual(stored.map((e) => e.idx));
    expect(await verifyChain(trusted.events)).toMatchObject({ ok: true });

    // Down (503), then answers dropped mid-connection: entries go on being written, none is acknowledged.
    for (const mode of ["fail", "drop"] as const) {
      trusted.setMode(mode);
      await writeEntries(3, `during-${mode}`);
      const expected = mode === "fail" ? /answered 503/ : /unreachable|in time/;
      // The next attempt comes after the sink's backoff (at most a minute).
      const failing = await until(
        `${mode} seen`,
        async () => {
          const s = await sink("splunk");
          return s?.lastError && expected.test(s.lastError) && s.behind >= 3 ? s : undefined;
        },
        90_000,
      );
      expect(failing.failingSince).not.toBeNull();
    }
    trusted.setMode("ok");
    await writeEntries(2, "after");
    await until(
      "caught up again",
      async () => {
        const s = await sink("splunk");
        return s?.behind === 0 && s.lastError === null ? s : undefined;
      },
      90_000,
    );
    stored = await ledger();
    // Every entry exactly once (a batch the collector never answered was not acknowledged, so it was sent again
    // whole; one it dropped after reading could arrive twice, and then with the same idx and hash).
    const byIdx = new Map<number, AuditEntry>();
    for (const e of trusted.events) {
      const seen = byIdx.get(e.idx);
      if (seen) expect(seen.hash).toBe(e.hash);
      byIdx.set(e.idx, e);
    }
    const received = [...byIdx.values()].sort((a, b) => a.idx - b.idx);
    expect(received.map((e) => e.idx)).toEqual(stored.map((e) => e.idx));
    expect(await verifyChain(received)).toMatchObject({ ok: true, count: stored.length });
    expect(trusted.refusedAuth()).toBe(0);

    // The token: in no API answer, no ledger entry, no edge or connector log.
    expect(JSON.stringify(await sinks())).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(await stack.logs()).not.toContain(token);
  }, 300_000);

  it("refuses a collector whose certificate the edge does not trust, and says so", async () => {
    await stack.admin.request<AuditSink>("POST", "/api/audit/sinks", {
      kind: "hec",
      name: "untrusted",
      url: foreign.url,
      token,
      from: "now",
    });
    await writeEntries(1, "to-untrusted");
    const s = await until("refused", async () => {
      const x = await sink("untrusted");
      return x?.lastError ? x : undefined;
    });
    expect(s.lastError).toBe("the collector is unreachable");
    expect(foreign.events).toHaveLength(0);
    // The healthy sink is not held back by the failing one.
    await until("splunk still current", async () => ((await sink("splunk"))?.behind === 0 ? true : undefined));
  }, 120_000);
});
