// How far an audit stream sink is, in words (Admin › Audit streaming): up to date, how many entries behind, or
// failing since when, why, and when it tries next. Pure: the page passes the clock and the time format.
import type { AuditSink } from "../../../protocol/index.ts";

export type SinkTone = "ok" | "behind" | "failing" | "off";

export type SinkProgressView = Pick<
  AuditSink,
  "enabled" | "behind" | "failingSince" | "lastError" | "nextAttemptAt" | "lastOkAt"
>;

const entries = (n: number) => (n === 1 ? "1 entry" : `${n} entries`);

/** The sink's state as one sentence and a tone for its pill; `time` formats an epoch ms. */
export function sinkStatus(sink: SinkProgressView, time: (ms: number) => string): { tone: SinkTone; text: string } {
  if (!sink.enabled) {
    return { tone: "off", text: sink.behind > 0 ? `Turned off, ${entries(sink.behind)} behind` : "Turned off" };
  }
  if (sink.failingSince !== null) {
    const why = sink.lastError ?? "no answer";
    const next = sink.nextAttemptAt !== null ? `, next try ${time(sink.nextAttemptAt)}` : "";
    return { tone: "failing", text: `Failing since ${time(sink.failingSince)}: ${why}${next}` };
  }
  if (sink.behind > 0) return { tone: "behind", text: `${entries(sink.behind)} behind` };
  return { tone: "ok", text: "Up to date" };
}

/** Where a sink sends: the HEC URL, or `host:port` and the site whose connectors send. */
export function sinkTarget(
  sink: Pick<AuditSink, "kind" | "url" | "host" | "port" | "siteId">,
  siteName: (id: string) => string,
): string {
  if (sink.kind === "hec") return sink.url ?? "";
  const site = sink.siteId ? siteName(sink.siteId) : "?";
  return `${sink.host ?? "?"}:${sink.port ?? "?"} via site ${site}`;
}
