// The audit stream's decisions (docs/audit.md "Streaming to a SIEM"), pure: which entries one delivery carries, what
// a sink's state becomes after a delivery, when it is next due, and the HEC request body. The I/O around it is
// worker/audit-stream/deliver.ts; the AuditLedger's alarm runs it.
import { AUDIT_BATCH_BYTES, AUDIT_BATCH_ENTRIES, type AuditEntry } from "../../protocol/index.ts";

/** A sink's delivery state, as stored in `audit_sinks`. */
export type SinkProgress = {
  /** the last entry the sink acknowledged; -1: none */
  afterIdx: number;
  attempts: number;
  /** when the sink may be tried again (ms); 0: now */
  nextAttemptAt: number;
  lastOkAt: number | null;
  failingSince: number | null;
  lastError: string | null;
};

/**
 * A delivery's result. `resendAfter`: the sink must be sent again from the entry after this one (a syslog connector's
 * first job: the window before the batch may have been lost with another connection).
 */
export type DeliveryOutcome = { ok: true; through: number; resendAfter?: number } | { ok: false; error: string };

/** Backoff after the n-th failure in a row (1-based): 2 s, 4 s, 8 s … at most a minute. */
export function retryDelay(attempts: number): number {
  return Math.min(60_000, 2_000 * 2 ** Math.max(0, attempts - 1));
}

/** What a sink's state becomes after one delivery. The cursor moves forward, or back only to resend a window. */
export function afterDelivery(p: SinkProgress, outcome: DeliveryOutcome, now: number): SinkProgress {
  if (outcome.ok)
    return {
      afterIdx: outcome.resendAfter ?? Math.max(p.afterIdx, outcome.through),
      attempts: 0,
      nextAttemptAt: 0,
      lastOkAt: now,
      failingSince: null,
      lastError: null,
    };
  const attempts = p.attempts + 1;
  return {
    ...p,
    attempts,
    nextAttemptAt: now + retryDelay(attempts),
    failingSince: p.failingSince ?? now,
    lastError: outcome.error.slice(0, 200),
  };
}

/** Marks an entry whose `data` was too large for one delivery: the fields that chain it stay, `data` is replaced. */
export const TRUNCATED = "psm.truncated";

/**
 * The entries one delivery carries: in order from the first, at most AUDIT_BATCH_ENTRIES and AUDIT_BATCH_BYTES of
 * JSON, and at least one. A first entry that alone exceeds the byte budget goes out with its `data` replaced by
 * `{ "psm.truncated": <bytes> }`: its idx, prev and hash still chain the stream (its own hash no longer verifies
 * from the fields sent, and docs/audit.md says so), and the stream is never stuck behind it.
 */
export function packBatch(
  entries: AuditEntry[],
  limits = { entries: AUDIT_BATCH_ENTRIES, bytes: AUDIT_BATCH_BYTES },
): AuditEntry[] {
  const out: AuditEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (out.length >= limits.entries) break;
    const size = byteLength(JSON.stringify(entry));
    if (bytes + size > limits.bytes) {
      if (out.length === 0) out.push({ ...entry, data: { [TRUNCATED]: size } });
      break;
    }
    out.push(entry);
    bytes += size;
  }
  return out;
}

const byteLength = (text: string) => new TextEncoder().encode(text).byteLength;

/** The sink is due now: enabled, and not waiting out a backoff. */
export const isDue = (p: Pick<SinkProgress, "nextAttemptAt">, now: number) => p.nextAttemptAt <= now;

/**
 * When the ledger should run the stream next: now if a sink is behind and due, at the earliest backoff end if
 * every behind sink waits, never (null) when all have everything.
 */
export function nextWake(sinks: (SinkProgress & { enabled: boolean })[], lastIdx: number, now: number): number | null {
  let wake: number | null = null;
  for (const s of sinks) {
    if (!s.enabled || s.afterIdx >= lastIdx) continue;
    const at = Math.max(now, s.nextAttemptAt);
    wake = wake === null ? at : Math.min(wake, at);
  }
  return wake;
}

/**
 * A Splunk HEC request body: one JSON event object per entry, newline-separated (HEC accepts concatenated events in
 * one POST). `time` is in seconds; the entry rides whole in `event`, with its idx, prev and hash for de-duplication
 * and chain checks on the collector's side.
 */
export function hecBody(entries: AuditEntry[], host: string): string {
  return entries
    .map((e) => JSON.stringify({ time: e.ts / 1000, host, source: "psm", sourcetype: "psm:audit", event: e }))
    .join("\n");
}
