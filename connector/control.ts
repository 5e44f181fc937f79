// The connector's control socket to its site's ConnectorHub: dialled out, kept alive with
// heartbeats, redialled with capped backoff. Session `open`s arrive here.
import WebSocket from "ws";
import {
  type AuditSyslogJob,
  backoffDelay,
  CloseCode,
  connectorEndpoint,
  type ConnectorHello,
  type ConnectorToHub,
  encodeMessage,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_TIMEOUT_MS,
  HubToConnector,
  type MailJob,
  MAX_HUB_MESSAGE,
  type Open,
  PING,
  PONG,
  PROTOCOL_VERSION,
  parseMessage,
} from "../protocol/index.ts";
import type { z } from "zod";
import { connectorToken } from "./keys.ts";
import type { Log } from "./log.ts";
import type { ConnectorState } from "./state.ts";

export const AGENT = "psm-connector/0.1.0";

/** What the agent does with each message the hub sends (all but `open` optional). */
export type ControlHandlers = {
  open: (open: z.infer<typeof Open>) => void;
  /** The hub has acknowledged this connector (each time it reconnects). */
  ready?: () => void;
  /** The edge asked for a new identity key. */
  rotateIdentity?: () => void;
  /** A credential rotation job (still to be verified). */
  rotationJob?: (job: string) => void;
  /** The edge announced its signing keys (still to be verified). */
  edgeKeys?: (announcement: string) => void;
  /** Make a new site seal key and re-seal the site's credentials. */
  rotateSealKey?: (rotationId: string) => void;
  /** Read a server's host key and answer with `host_key`. */
  probeHostKey?: (probe: { probeId: string; host: string; port: number }) => void;
  /** A site seal key another connector made, sealed to this one. */
  sealKey?: (delivery: { rotationId: string; kid: string; sealed: string }) => void;
  /** Relay a notification email (connector/mail.ts); answer with `mail_result`. */
  mail?: (job: MailJob) => void;
  /** Write audit entries to the on-prem syslog collector (connector/audit-syslog.ts); answer `audit_syslog_result`. */
  auditSyslog?: (job: AuditSyslogJob) => void;
  /** Extra fields of the hello: the transport key and the seal key held. */
  hello?: () => Promise<Partial<z.infer<typeof ConnectorHello>>>;
};

export class ControlLink {
  private ws?: WebSocket;
  private attempt = 0;
  private stopped = false;
  private heartbeat?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private lastPong = 0;

  constructor(
    private readonly state: ConnectorState,
    private readonly log: Log,
    private readonly on: ControlHandlers,
  ) {}

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    this.ws?.close(1000);
  }

  send(message: ConnectorToHub): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeMessage(message));
  }

  /**
   * One dial, and another after a backoff if this one fails before its socket exists (signing the token,
   * a bad URL): such a failure has no `close` event to schedule the retry, and must not reach the process.
   */
  private connect(): void {
    this.dial().catch((err: Error) => {
      this.log("control.error", { error: err.message });
      if (!this.stopped) this.retry = setTimeout(() => this.connect(), backoffDelay(this.attempt++));
    });
  }

  private async dial(): Promise<void> {
    const url = new URL(connectorEndpoint.control, this.state.edgeUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const token = await connectorToken(this.state.connectorId, this.state.identityKey, connectorEndpoint.control);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: MAX_HUB_MESSAGE,
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.on("open", () => {
      this.lastPong = Date.now();
      void (this.on.hello?.() ?? Promise.resolve({}))
        .catch(() => ({}))
        .then((extra) => ws.send(encodeMessage({ ...extra, type: "hello", v: PROTOCOL_VERSION, agent: AGENT })));
      this.heartbeat = setInterval(() => {
        if (Date.now() - this.lastPong > HEARTBEAT_TIMEOUT_MS) {
          this.log("control.heartbeat_timeout");
          ws.terminate();
          return;
        }
        ws.send(PING);
      }, HEARTBEAT_INTERVAL_MS);
    });
    ws.on("message", (data: Buffer, isBinary) => {
      const text = data.toString("utf8");
      if (text === PONG) {
        this.lastPong = Date.now();
        return;
      }
      try {
        if (isBinary) throw new Error("binary on control socket");
        const msg = parseMessage(HubToConnector, text, MAX_HUB_MESSAGE);
        switch (msg.type) {
          case "hello":
            this.attempt = 0;
            this.log("control.connected", { site: msg.siteId, connector: msg.connectorId });
            this.on.ready?.();
            break;
          case "rotate_identity":
            this.on.rotateIdentity?.();
            break;
          case "rotate":
            this.on.rotationJob?.(msg.job);
            break;
          case "edge_keys":
            this.on.edgeKeys?.(msg.keys);
            break;
          case "rotate_seal_key":
            this.on.rotateSealKey?.(msg.rotationId);
            break;
          case "seal_key":
            this.on.sealKey?.(msg);
            break;
          case "probe_host_key":
            this.on.probeHostKey?.(msg);
            break;
          case "audit_syslog":
            this.on.auditSyslog?.(msg);
            break;
          case "mail":
            this.on.mail?.(msg);
            break;
          case "open":
            this.on.open(msg);
        }
      } catch (err) {
        this.log("control.bad_message", { error: (err as Error).message });
      }
    });
    ws.on("unexpected-response", (_req, res) => {
      this.log("control.refused", { status: res.statusCode });
      ws.terminate();
    });
    ws.on("error", (err) => this.log("control.error", { error: err.message }));
    ws.on("close", (code) => {
      clearInterval(this.heartbeat);
      if (this.stopped) return;
      if (code === CloseCode.Replaced)
        this.log("control.replaced", { hint: "another process runs with this connector's identity" });
      const delay = backoffDelay(this.attempt++);
      this.log("control.reconnecting", { code, inMs: delay });
      this.retry = setTimeout(() => this.connect(), delay);
    });
  }
}
