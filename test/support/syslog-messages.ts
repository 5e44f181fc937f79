// For the audit stream's syslog tests: a realistic hash-chained run of ledger entries (durable/audit-chain.ts, the
// ledger's own chain function), and a strict reader of the RFC 5424 messages a collector received, as a SIEM would
// parse them.
import type { AuditAction, AuditEntry, AuditEntryInput, AuditSyslogJob } from "../../protocol/index.ts";
import { chain } from "../../durable/audit-chain.ts";

const ACTIONS: { action: AuditAction; data?: Record<string, unknown> }[] = [
  { action: "auth.login" },
  { action: "checkout.requested", data: { reason: 'patching "db-1" \\ ] [x] — ünïcødé 🔑' } },
  { action: "checkout.approved" },
  { action: "session.started" },
  { action: "session.command", data: { line: "sudo systemctl restart nginx", offset: 4096 } },
  { action: "session.command_denied", data: { line: "rm -rf /", rule: "no-rm" } },
  { action: "session.killed" },
  { action: "auth.login_failed", data: { reason: "bad_password", count: 3 } },
  { action: "admin.change", data: { before: { name: "old" }, after: { name: "new" } } },
  { action: "credential.rotation_failed" },
];

/** `count` chained entries after `after` (the ledger's head), cycling through realistic actions; ts from `t0`. */
export async function chainedEntries(
  count: number,
  after?: AuditEntry,
  t0 = Date.UTC(2026, 3, 1, 12, 0, 0, 123),
): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  let prev = after;
  for (let i = 0; i < count; i++) {
    const idx = prev ? prev.idx + 1 : 0;
    const a = ACTIONS[idx % ACTIONS.length]!;
    const input: AuditEntryInput = {
      actor: { id: `u-${idx % 7}`, name: `Person ${idx % 7}` },
      action: a.action,
      target: { type: "server", id: `srv-${idx % 3}`, name: `db-${idx % 3}.corp.example` },
      refs: { userId: `u-${idx % 7}`, serverId: `srv-${idx % 3}` },
      data: { ...(a.data ?? {}), n: idx },
    };
    prev = await chain(prev, input, t0 + idx * 1000);
    out.push(prev);
  }
  return out;
}

export type Received = {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  sd: Record<string, string>;
  /** The MSG began with a UTF-8 BOM. */
  bom: boolean;
  entry: AuditEntry;
};

/**
 * One RFC 5424 message (as rsyslog's %rawmsg% gives it, or as the forwarder framed it without the length): the
 * header, exactly one SD-ELEMENT with escaped values, then BOM + JSON. Throws on anything else.
 */
export function parseSyslog(line: string): Received {
  const head = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[([^ \]]+)((?: [^=\s]+="(?:[^"\\]|\\["\\\]])*")*)\] /.exec(
    line,
  );
  if (!head) throw new Error(`not an RFC 5424 message with one SD-ELEMENT: ${line.slice(0, 120)}`);
  const sd: Record<string, string> = {};
  for (const m of head[8]!.matchAll(/ ([^=\s]+)="((?:[^"\\]|\\["\\\]])*)"/g))
    sd[m[1]!] = m[2]!.replace(/\\(["\\\]])/g, "$1");
  let msg = line.slice(head[0].length);
  const bom = msg.startsWith("\ufeff");
  if (bom) msg = msg.slice(1);
  return {
    pri: Number(head[1]),
    timestamp: head[2]!,
    hostname: head[3]!,
    appName: head[4]!,
    procId: head[5]!,
    msgId: head[6]!,
    sdId: head[7]!,
    sd,
    bom,
    entry: JSON.parse(msg) as AuditEntry,
  };
}

let jobs = 0;
/** An `audit_syslog` job for a sink on loopback `port`, as the edge's hub hands one to a connector. */
export function syslogJob(sinkId: string, port: number, entries: AuditEntry[]): AuditSyslogJob {
  return { type: "audit_syslog", jobId: `job-${++jobs}`, target: { sinkId, host: "127.0.0.1", port }, entries };
}
