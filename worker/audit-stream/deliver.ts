// The audit stream's I/O (docs/audit.md "Streaming to a SIEM"). The AuditLedger's alarm calls deliverAuditStream
// with its own reader: each enabled sink that is behind and due gets its next batches, in order, from the entry after
// the last one it acknowledged; an HEC sink by an HTTPS POST from here, a syslog sink through a connector of its site
// (ConnectorHub.sendAuditSyslog). Sinks run side by side, so a slow or failing one holds back no other, and none
// holds back the ledger: appends never wait for delivery. The decisions are worker/audit-stream/core.ts.
import {
  AUDIT_BATCH_ENTRIES,
  AUDIT_SYSLOG_REWIND,
  type AuditEntry,
  type AuditSyslogJob,
} from "../../protocol/index.ts";
import { openAtRest } from "../auth/hash.ts";
import type { Env } from "../env.ts";
import { afterDelivery, type DeliveryOutcome, hecBody, isDue, nextWake, packBatch, type SinkProgress } from "./core.ts";
import { enabledSinks, type SinkRow, saveProgress } from "./sink-store.ts";

/** What delivery reads from the ledger: entries after an idx, oldest first, and how many there are. */
export type LedgerReader = {
  page(afterIdx: number, limit: number): AuditEntry[] | Promise<AuditEntry[]>;
  count(): number | Promise<number>;
};

/** Batches one sink gets per run before the others' turn is awaited; the alarm comes back at once if it is still behind. */
const BATCHES_PER_RUN = 10;
/** How long the edge waits for an HEC collector's answer. */
const HEC_TIMEOUT_MS = 10_000;

/** The context the HEC token is sealed under: bound to the sink, so a token cannot be moved to another sink's row. */
export const hecTokenContext = (sinkId: string) => `audit sink ${sinkId}`;

export const progressOf = (row: SinkRow): SinkProgress => ({
  afterIdx: Math.max(row.after_idx, row.start_idx),
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  lastOkAt: row.last_ok_at,
  failingSince: row.failing_since,
  lastError: row.last_error,
});

/** Runs every due sink once; returns when the ledger should run it again (null: every sink has everything). */
export async function deliverAuditStream(env: Env, ledger: LedgerReader, now = Date.now()): Promise<number | null> {
  const sinks = await enabledSinks(env.DB);
  const lastIdx = (await ledger.count()) - 1;
  const progress = await Promise.all(sinks.map((row) => runSink(env, ledger, row, lastIdx, now)));
  return nextWake(
    progress.map((p) => ({ ...p, enabled: true })),
    lastIdx,
    Date.now(),
  );
}

async function runSink(
  env: Env,
  ledger: LedgerReader,
  row: SinkRow,
  lastIdx: number,
  now: number,
): Promise<SinkProgress> {
  let p = progressOf(row);
  for (let i = 0; i < BATCHES_PER_RUN && p.afterIdx < lastIdx && isDue(p, now); i++) {
    const batch = packBatch(await ledger.page(p.afterIdx, AUDIT_BATCH_ENTRIES));
    if (!batch.length) break;
    const outcome = await deliver(env, row, batch);
    p = afterDelivery(p, outcome, Date.now());
    await saveProgress(env.DB, row.id, p);
    if (!outcome.ok) {
      console.warn(`audit sink ${row.name} (${row.kind}): ${outcome.error}`);
      break;
    }
  }
  return p;
}

function deliver(env: Env, row: SinkRow, entries: AuditEntry[]): Promise<DeliveryOutcome> {
  return row.kind === "hec" ? postHec(env, row, entries) : sendSyslog(env, row, entries);
}

async function postHec(env: Env, row: SinkRow, entries: AuditEntry[]): Promise<DeliveryOutcome> {
  let token: string;
  try {
    token = await openAtRest(env.USER_TOKEN_SECRET, row.token_enc ?? "", hecTokenContext(row.id));
  } catch {
    return { ok: false, error: "the sink's token cannot be opened (set it again)" };
  }
  const host = env.APP_URL ? new URL(env.APP_URL).hostname : "psm";
  try {
    const res = await fetch(row.url ?? "", {
      method: "POST",
      headers: { authorization: `Splunk ${token}`, "content-type": "application/json" },
      body: hecBody(entries, host),
      signal: AbortSignal.timeout(HEC_TIMEOUT_MS),
      redirect: "manual",
    });
    await res.body?.cancel();
    // Only a 2xx acknowledges: a redirect is not followed (the token would go wherever it points).
    if (res.ok) return { ok: true, through: entries.at(-1)!.idx };
    return { ok: false, error: `the collector answered ${res.status}` };
  } catch (err) {
    return {
      ok: false,
      error:
        (err as Error).name === "TimeoutError"
          ? "the collector did not answer in time"
          : "the collector is unreachable",
    };
  }
}

async function sendSyslog(env: Env, row: SinkRow, entries: AuditEntry[]): Promise<DeliveryOutcome> {
  const hub = env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(row.site_id ?? ""));
  const job: AuditSyslogJob = {
    type: "audit_syslog",
    jobId: crypto.randomUUID(),
    target: { sinkId: row.id, host: row.host ?? "", port: row.port ?? 0 },
    entries,
  };
  const result = await hub.sendAuditSyslog(job);
  if (result.outcome !== "sent") return { ok: false, error: `connector: ${result.error}` };
  const through = Math.min(result.through, entries.at(-1)!.idx);
  // A connector's first job for the sink: the window before this batch goes again (the SIEM drops duplicates by idx).
  const before = entries[0]!.idx - 1;
  if (result.fresh && before > row.start_idx)
    return { ok: true, through, resendAfter: Math.max(row.start_idx, before - AUDIT_SYSLOG_REWIND) };
  return { ok: true, through };
}
