// The connector's own view of its health: link state, live sessions, counters and the last errors.
// Pure: fed from the structured log events the connector already emits, read by the hub report,
// `psm-connector status` (through status.json) and the Prometheus endpoint.
import type { EndReason, SpoolHealth } from "../protocol/index.ts";

/** Errors kept for status and the admin page: the last 10. Older ones are dropped. */
export const MAX_ERRORS = 10;

export type LinkState = "connecting" | "connected" | "disconnected";
export type HealthError = { at: number; event: string; reason?: string };

/** Log events that are errors an admin should see, with the field that names the cause. */
const ERROR_EVENTS: Record<string, string | undefined> = {
  "control.refused": "status",
  "control.error": undefined,
  "control.heartbeat_timeout": undefined,
  "control.bad_message": undefined,
  "session.rejected": "reason",
  "session.setup_failed": "reason",
  "session.ssh_error": "reason",
  "session.protocol_error": undefined,
  "session.fault": "in",
  "session.rdp_sandbox_unavailable": undefined,
  "process.fault": "kind",
  "empowerid.poll_failed": "status",
  "empowerid.report_failed": "status",
  "discovery.failed": "source",
  "discovery.report_failed": "status",
  "recording.spool_high": "reason",
  "recording.upload_failing": "status",
  "recording.chunk_rejected": "status",
  "recording.spool_unavailable": undefined,
  "recording.failing": "detail",
  "recording.unavailable": "detail",
};

/** Whether this connector can run RDP sessions, and sandboxed (connector/rdp/engine.ts); why not, when not. */
export type RdpHealth = { engine: boolean; sandbox: boolean; reason?: string };

export type HealthSnapshot = {
  agent: string;
  pid: number;
  startedAt: number;
  link: LinkState;
  linkSince: number;
  sessions: number;
  errors: HealthError[];
  counters: Record<string, number>;
  rdp: RdpHealth;
  /** The recording spool (connector/recording/), null when it could not be opened. */
  spool: SpoolHealth | null;
};

export class Health {
  link: LinkState = "connecting";
  /** Set once at start from the engine's probe. */
  rdp: RdpHealth = { engine: false, sandbox: false, reason: "not checked yet" };
  /** Reads the recording spool's health; set at start once the spool is open. */
  spool: (() => SpoolHealth) | null = null;
  linkSince: number;
  readonly live = new Set<string>();
  private readonly errors: HealthError[] = [];
  private readonly started = new Map<string, number>();
  readonly counters = {
    sessionsStarted: 0,
    sessionsRejected: 0,
    controlReconnects: 0,
    endedByReason: new Map<string, number>(),
  };

  constructor(
    readonly agent: string,
    private readonly now: () => number = Date.now,
    readonly startedAt = now(),
  ) {
    this.linkSince = startedAt;
  }

  /** Feeds one structured log event. */
  observe(event: string, fields: Record<string, unknown> = {}): void {
    const at = this.now();
    if (event === "control.connected") this.setLink("connected", at);
    if (event === "control.reconnecting") {
      this.setLink("disconnected", at);
      this.counters.controlReconnects++;
    }
    if (event === "session.rejected") this.counters.sessionsRejected++;
    if (event in ERROR_EVENTS) {
      const key = ERROR_EVENTS[event];
      const value = key ? fields[key] : undefined;
      const reason = value === undefined ? undefined : String(value).slice(0, 64);
      this.errors.push({ at, event, ...(reason ? { reason } : {}) });
      if (this.errors.length > MAX_ERRORS) this.errors.shift();
    }
  }

  sessionStarted(id: string): void {
    this.live.add(id);
    this.started.set(id, this.now());
    this.counters.sessionsStarted++;
  }

  sessionEnded(id: string, reason: EndReason | string): void {
    if (!this.live.delete(id)) return;
    this.started.delete(id);
    this.counters.endedByReason.set(reason, (this.counters.endedByReason.get(reason) ?? 0) + 1);
  }

  lastErrors(): HealthError[] {
    return [...this.errors];
  }

  snapshot(): HealthSnapshot {
    return {
      agent: this.agent,
      pid: process.pid,
      startedAt: this.startedAt,
      link: this.link,
      linkSince: this.linkSince,
      sessions: this.live.size,
      errors: this.lastErrors(),
      counters: {
        sessionsStarted: this.counters.sessionsStarted,
        sessionsRejected: this.counters.sessionsRejected,
        controlReconnects: this.counters.controlReconnects,
      },
      rdp: { ...this.rdp },
      spool: this.spool?.() ?? null,
    };
  }

  /** Prometheus text exposition format (version 0.0.4). */
  prometheus(): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    metric("psm_connector_info", "gauge", "Connector version.", [[`{agent="${esc(this.agent)}"}`, 1]]);
    metric("psm_connector_link_up", "gauge", "1 when the control link to the edge is up.", [
      ["", this.link === "connected" ? 1 : 0],
    ]);
    metric("psm_connector_sessions", "gauge", "Live sessions.", [["", this.live.size]]);
    metric("psm_connector_sessions_started_total", "counter", "Sessions accepted.", [
      ["", this.counters.sessionsStarted],
    ]);
    metric("psm_connector_sessions_rejected_total", "counter", "Session opens refused.", [
      ["", this.counters.sessionsRejected],
    ]);
    metric(
      "psm_connector_sessions_ended_total",
      "counter",
      "Sessions ended, by reason.",
      [...this.counters.endedByReason].map(([reason, n]) => [`{reason="${esc(reason)}"}`, n]),
    );
    metric("psm_connector_control_reconnects_total", "counter", "Control link reconnections.", [
      ["", this.counters.controlReconnects],
    ]);
    metric("psm_connector_rdp_engine", "gauge", "1 when this connector can run RDP sessions.", [
      ["", this.rdp.engine ? 1 : 0],
    ]);
    metric("psm_connector_rdp_sandbox", "gauge", "1 when the RDP bridge runs sandboxed (bubblewrap).", [
      ["", this.rdp.sandbox ? 1 : 0],
    ]);
    const spool = this.spool?.();
    if (spool) {
      const since = (at: number | null) => (at === null ? 0 : Math.max(0, (this.now() - at) / 1000));
      metric("psm_connector_spool_bytes", "gauge", "Recording chunks held in the spool, bytes.", [["", spool.bytes]]);
      metric("psm_connector_spool_limit_bytes", "gauge", "The spool's bound, bytes.", [["", spool.limit]]);
      metric("psm_connector_spool_chunks", "gauge", "Recording chunks waiting for upload.", [["", spool.chunks]]);
      metric("psm_connector_spool_oldest_age_seconds", "gauge", "Age of the oldest chunk not uploaded (0: none).", [
        ["", since(spool.oldestAt)],
      ]);
      metric("psm_connector_upload_failing_seconds", "gauge", "How long chunk uploads have been failing (0: not).", [
        ["", since(spool.failingSince)],
      ]);
    }
    metric("psm_connector_errors_recent", "gauge", "Errors kept for status (at most 10).", [["", this.errors.length]]);
    metric("psm_connector_start_time_seconds", "gauge", "Start time, unix seconds.", [
      ["", Math.floor(this.startedAt / 1000)],
    ]);
    return `${lines.join("\n")}\n`;
  }

  private setLink(state: LinkState, at: number): void {
    if (this.link === state) return;
    this.link = state;
    this.linkSince = at;
  }
}
