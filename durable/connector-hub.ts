// ConnectorHub: one Durable Object per site. Holds the control sockets of the site's connectors
// (hibernating between messages; heartbeats answered by auto-response) and dispatches each new
// session's signed grant to one live connector: the least loaded first, the next one when a
// connector does not accept in time or dies while asked, so a dead connector never fails a start.
import { DurableObject } from "cloudflare:workers";
import {
  CloseCode,
  ConnectorToHub,
  encodeMessage,
  HEARTBEAT_TIMEOUT_MS,
  type HubToConnector,
  AUDIT_SYSLOG_ANSWER_TIMEOUT_MS,
  type AuditSyslogJob,
  type AuditSyslogResult,
  MAIL_ANSWER_TIMEOUT_MS,
  type MailJob,
  type MailResult,
  MessageError,
  PING,
  PONG,
  PROTOCOL_VERSION,
  parseMessage,
  SPOOL_ALERT_FRACTION,
  type SpoolHealth,
} from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";
import { record } from "../edge-shared/audit.ts";
import {
  adoptSealKeyDelivery,
  noteConnectorHello,
  pendingSealKeys,
  setSealKid,
} from "../edge-shared/connector-store.ts";
import { signedKeyAnnouncement } from "../edge-shared/keys.ts";
import { PEER_HEADER, peerOf } from "../protocol/peer.ts";

type ReportedError = { at: number; event: string; reason?: string };
/** A connector's spool alert is audited at most once per 15 minutes. */
const SPOOL_ALERT_INTERVAL_MS = 15 * 60_000;

type Attachment = {
  connectorId: string;
  siteId: string;
  hello: boolean;
  agent: string;
  since: number;
  /** Sessions the connector last reported, plus those dispatched to it since. */
  sessions: number;
  errors: ReportedError[];
  /** Its recording spool, from its last report. */
  spool?: SpoolHealth;
  /**
   * The spool passed SPOOL_ALERT_FRACTION of its bound and that was audited; cleared once it is below half of that
   * again (so a fill level that hovers at the line is one alert, not one per report).
   */
  spoolAlerted?: boolean;
  /** When the last spool alert was audited (unix ms): at most one per SPOOL_ALERT_INTERVAL_MS per connector. */
  spoolAlertedAt?: number;
  /** It has sent a report: a connector that answers `open` with `accepted`. Older ones never do. */
  acks?: boolean;
  /** The site seal key it holds (from its hello, or its last adoption); absent from older connectors. */
  sealKid?: string;
};

export type ConnectorHealth = {
  connectorId: string;
  agent: string;
  connectedAt: number;
  lastSeen: number;
  sessions: number;
  errors: ReportedError[];
  spool: SpoolHealth | null;
};

/** Storage key: the newest site seal key a connector of this site adopted. */
const SEAL_KID = "sealKid";

/** How long a connector has to accept an `open` before the next one is asked: 5 s. */
export const ACCEPT_TIMEOUT_MS = 5_000;

type Answer = "accepted" | "rejected" | "gone" | "timeout";

/** How long the edge waits for a host key probe's answer (the connector's key exchange gives up at 8 s). */
export const PROBE_ANSWER_TIMEOUT_MS = 12_000;
/** A probe's outcome as the edge reports it; `offline`: no connector of the site is live, or none answered. */
export type ProbeOutcome =
  | { ok: true; fingerprint: string; keyType: string; connectorId: string }
  | { ok: false; error: "refused" | "unreachable" | "offline" };

export type MailOutcome = MailResult["result"];
export type AuditSyslogOutcome = AuditSyslogResult["result"];
/** A connector's answer to a job, or why there was none. */
type JobResult = { ok: true; result: MailOutcome | AuditSyslogOutcome } | { ok: false; error: string };

export class ConnectorHub extends DurableObject<Env> {
  /** Mail jobs waiting for their connector's answer, by job id (memory: the outbox retries one that is lost). */
  /** Jobs handed to a connector (mail, audit syslog) waiting for its answer, by `kind:jobId`. */
  private readonly jobs = new Map<string, { connectorId: string; answer: (result: JobResult) => void }>();
  /** `open`s waiting for their connector's answer, by session id. In memory: a dispatch is one RPC. */
  private readonly waiting = new Map<string, { connectorId: string; answer: (a: Answer) => void }>();
  /** Host key probes waiting for their connector's answer, by probe id (memory: a probe lives seconds). */
  private readonly probes = new Map<string, { connectorId: string; answer: (outcome: ProbeOutcome) => void }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    const peer = peerOf(request.headers.get(PEER_HEADER));
    if (peer?.role !== "connector") return new Response("forbidden", { status: 403 });
    // A connector that reconnects replaces its previous socket.
    for (const old of this.ctx.getWebSockets(peer.connectorId)) closeQuietly(old, CloseCode.Replaced, "replaced");
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [peer.connectorId]);
    server.serializeAttachment({
      connectorId: peer.connectorId,
      siteId: peer.siteId,
      hello: false,
      agent: "",
      since: Date.now(),
      sessions: 0,
      errors: [],
    } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as Attachment;
    try {
      if (typeof message !== "string") throw new MessageError("binary on control socket");
      const msg = parseMessage(ConnectorToHub, message);
      if (!att.hello) {
        if (msg.type !== "hello") throw new MessageError("first message must be hello");
        if (msg.v !== PROTOCOL_VERSION) {
          closeQuietly(ws, CloseCode.VersionMismatch, `server speaks v${PROTOCOL_VERSION}`);
          return;
        }
        ws.serializeAttachment({
          ...att,
          hello: true,
          agent: msg.agent,
          ...(msg.sealKid ? { sealKid: msg.sealKid } : {}),
        } satisfies Attachment);
        send(ws, { type: "hello", v: PROTOCOL_VERSION, siteId: att.siteId, connectorId: att.connectorId });
        // The keys the edge signs with now and next, vouched for by the current one (protocol/edge-keys.ts).
        send(ws, { type: "edge_keys", keys: await signedKeyAnnouncement(this.env) });
        if (msg.transportKey || msg.sealKid) {
          // Where a rotated site key can be sealed to, and which key it holds (protocol/seal-rotation.ts).
          await noteConnectorHello(this.env.DB, att.connectorId, {
            transportKey: msg.transportKey ? JSON.stringify(msg.transportKey) : null,
            sealKid: msg.sealKid ?? null,
          });
        }
        await this.deliverSealKeys(att.connectorId);
        return;
      }
      if (msg.type === "hello") throw new MessageError("hello sent twice");
      if (msg.type === "report") {
        const fill = msg.spool ? msg.spool.bytes / Math.max(1, msg.spool.limit) : 0;
        const now = Date.now();
        // An alert before the bound is reached: audited once per crossing, so it is seen and notified; re-armed
        // only well below the line, and never more often than SPOOL_ALERT_INTERVAL_MS (a connector cannot flood
        // the audit log by flapping its report).
        const alert =
          fill >= SPOOL_ALERT_FRACTION &&
          !att.spoolAlerted &&
          now - (att.spoolAlertedAt ?? 0) >= SPOOL_ALERT_INTERVAL_MS;
        const alerted = alert || (!!att.spoolAlerted && fill >= SPOOL_ALERT_FRACTION / 2);
        ws.serializeAttachment({
          ...att,
          sessions: msg.sessions,
          errors: msg.errors,
          ...(msg.spool ? { spool: msg.spool } : {}),
          spoolAlerted: alerted,
          ...(alert ? { spoolAlertedAt: now } : {}),
          acks: true,
        } satisfies Attachment);
        if (alert) await this.spoolAlert(att.connectorId, msg.spool!);
        return;
      }
      if (msg.type === "accepted") {
        this.answer(msg.sessionId, att.connectorId, "accepted");
        return;
      }
      if (msg.type === "host_key") {
        // Only the connector the probe went to may answer it.
        const probe = this.probes.get(msg.probeId);
        if (probe?.connectorId === att.connectorId)
          probe.answer(msg.result.ok ? { ...msg.result, connectorId: att.connectorId } : msg.result);
        return;
      }
      if (msg.type === "mail_result" || msg.type === "audit_syslog_result") {
        const job = this.jobs.get(`${msg.type}:${msg.jobId}`);
        if (job?.connectorId === att.connectorId) job.answer({ ok: true, result: msg.result });
        return;
      }
      if (msg.type === "seal_key_adopted") {
        await this.sealKeyAdopted(ws, att, msg.rotationId, msg.kid);
        return;
      }
      this.answer(msg.sessionId, att.connectorId, "rejected");
      console.warn(`connector ${att.connectorId} rejected session ${msg.sessionId}: ${msg.reason}`);
      const room = this.env.SESSION_ROOM.get(this.env.SESSION_ROOM.idFromName(msg.sessionId));
      await room.end(msg.reason, { bySite: att.siteId });
    } catch (err) {
      if (!(err instanceof MessageError)) throw err;
      console.warn(`hub: connector ${att.connectorId} protocol error: ${err.message}`);
      closeQuietly(ws, CloseCode.ProtocolError, "protocol_error");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, "");
    this.connectorGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.connectorGone(ws);
  }

  /**
   * Hands a session to a live connector: the least loaded first (ties at random), then the next
   * until one accepts. False when none is live or none accepted: the caller ends the session.
   */
  async dispatch(sessionId: string, grant: string): Promise<boolean> {
    const tried = new Set<string>();
    // After a seal key rotation, connectors that already hold the new key first (one still waiting for its
    // delivery could not open the credential).
    const kid = await this.ctx.storage.get<string>(SEAL_KID);
    const holds = (att: Attachment) => (kid === undefined || att.sealKid === undefined || att.sealKid === kid ? 0 : 1);
    for (;;) {
      const candidates = this.live()
        .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment, tie: Math.random() }))
        .filter((c) => !tried.has(c.att.connectorId))
        .sort((a, b) => holds(a.att) - holds(b.att) || a.att.sessions - b.att.sessions || a.tie - b.tie);
      const next = candidates[0];
      if (!next) return false;
      tried.add(next.att.connectorId);
      // A connector from before `accepted` existed (rolling upgrade): a delivered `open` is all we get.
      if (!next.att.acks) {
        if (send(next.ws, { type: "open", sessionId, grant })) return true;
        continue;
      }
      const answer = await this.ask(next.ws, next.att.connectorId, sessionId, grant);
      if (answer === "accepted" || answer === "rejected") {
        // A rejection already ended the session with the connector's reason; another would refuse too.
        if (answer === "accepted" && next.ws.readyState === WebSocket.OPEN) {
          const att = next.ws.deserializeAttachment() as Attachment;
          next.ws.serializeAttachment({ ...att, sessions: att.sessions + 1 } satisfies Attachment);
        }
        return true;
      }
      console.warn(
        `hub: connector ${next.att.connectorId} did not take session ${sessionId} (${answer}); trying another`,
      );
    }
  }

  private ask(ws: WebSocket, connectorId: string, sessionId: string, grant: string): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => this.answer(sessionId, connectorId, "timeout"), ACCEPT_TIMEOUT_MS);
      this.waiting.set(sessionId, {
        connectorId,
        answer: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
      if (!send(ws, { type: "open", sessionId, grant })) this.answer(sessionId, connectorId, "gone");
    });
  }

  /**
   * Asks the least loaded live connector which host key host:port presents (an admin compares it before pinning;
   * nothing trusts it). One connector is asked: a site's connectors reach the same network.
   */
  async probeHostKey(host: string, port: number): Promise<ProbeOutcome> {
    const next = this.live()
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }))
      .sort((a, b) => a.att.sessions - b.att.sessions)[0];
    if (!next) return { ok: false, error: "offline" };
    const probeId = crypto.randomUUID();
    return new Promise<ProbeOutcome>((resolve) => {
      const done = (outcome: ProbeOutcome) => {
        clearTimeout(timer);
        this.probes.delete(probeId);
        resolve(outcome);
      };
      const timer = setTimeout(() => done({ ok: false, error: "offline" }), PROBE_ANSWER_TIMEOUT_MS);
      this.probes.set(probeId, { connectorId: next.att.connectorId, answer: done });
      if (!send(next.ws, { type: "probe_host_key", probeId, host, port })) done({ ok: false, error: "offline" });
    });
  }

  /**
   * Hands a notification email to one live connector, which relays it to the organisation's SMTP relay
   * (connector/mail.ts), and waits for its answer. No connector, a lost socket or no answer in time: retryable.
   * The connector is chosen by the job id among the live ones, so a retry goes to the same connector while the
   * site's connectors stay up: the one that remembers whether its relay already accepted this job.
   */
  async sendMail(job: MailJob): Promise<MailOutcome> {
    const answer = await this.askOne(job, "mail_result", job.jobId, MAIL_ANSWER_TIMEOUT_MS);
    if (answer.ok) return answer.result as MailOutcome;
    return { outcome: "failed", retryable: true, error: answer.error };
  }

  /**
   * Hands a batch of audit entries to one live connector, which writes them to the on-prem syslog collector
   * (connector/audit-syslog.ts), and waits for its answer. Chosen by the sink's id, so the connector that holds the
   * sink's connection and its overlap keeps it while the site's connectors stay up.
   */
  async sendAuditSyslog(job: AuditSyslogJob): Promise<AuditSyslogOutcome> {
    const answer = await this.askOne(job, "audit_syslog_result", job.target.sinkId, AUDIT_SYSLOG_ANSWER_TIMEOUT_MS);
    if (answer.ok) return answer.result as AuditSyslogOutcome;
    return { outcome: "failed", error: answer.error };
  }

  /**
   * Sends a job to one live connector, picked by `pickBy` among them (sorted by id, so the same one while the set
   * stays), and waits for the `answerType` message naming the job. No connector, a lost socket, the connector going
   * away or no answer in time: `{ ok: false }` with a fixed phrase.
   */
  private askOne(
    job: MailJob | AuditSyslogJob,
    answerType: "mail_result" | "audit_syslog_result",
    pickBy: string,
    timeoutMs: number,
  ): Promise<JobResult> {
    const live = this.live()
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }))
      .sort((a, b) => (a.att.connectorId < b.att.connectorId ? -1 : 1));
    const next = live[stableIndex(pickBy, live.length)];
    if (!next) return Promise.resolve({ ok: false, error: "no connector of the site is online" });
    const key = `${answerType}:${job.jobId}`;
    return new Promise<JobResult>((resolve) => {
      const done = (result: JobResult) => {
        clearTimeout(timer);
        if (this.jobs.get(key)?.connectorId === next.att.connectorId) this.jobs.delete(key);
        resolve(result);
      };
      const timer = setTimeout(() => done({ ok: false, error: "the connector did not answer in time" }), timeoutMs);
      this.jobs.set(key, { connectorId: next.att.connectorId, answer: done });
      if (!send(next.ws, job)) done({ ok: false, error: "the connector's socket closed" });
    });
  }

  /** Asks the connector to replace its identity key; false when it is not online. */
  async rotateIdentity(connectorId: string): Promise<boolean> {
    const ws = this.ctx
      .getWebSockets(connectorId)
      .find((s) => (s.deserializeAttachment() as Attachment).hello && s.readyState === WebSocket.OPEN);
    if (!ws) return false;
    send(ws, { type: "rotate_identity" });
    return true;
  }

  /**
   * Sends a credential rotation job (signed, protocol/rotation.ts) to one live connector, the least loaded;
   * its id, or null when none is live. The connector answers over HTTPS (POST /connector/rotations/:job).
   */
  async rotate(job: string): Promise<string | null> {
    const candidates = this.live()
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }))
      .sort((a, b) => a.att.sessions - b.att.sessions);
    for (const { ws, att } of candidates) if (send(ws, { type: "rotate", job })) return att.connectorId;
    return null;
  }

  /**
   * Asks one live connector that holds the site's current seal key (`kid`) to make a new one and re-seal the
   * site's credentials (protocol/seal-rotation.ts); its id, or null when none is live.
   */
  async rotateSealKey(rotationId: string, kid: string): Promise<string | null> {
    const candidates = this.live()
      .map((ws) => ({ ws, att: ws.deserializeAttachment() as Attachment }))
      .filter((c) => c.att.sealKid === kid)
      .sort((a, b) => a.att.sessions - b.att.sessions);
    for (const { ws, att } of candidates) if (send(ws, { type: "rotate_seal_key", rotationId })) return att.connectorId;
    return null;
  }

  /** Sends each live connector (or only `only`) the rotated site keys that wait for it. */
  async deliverSealKeys(only?: string): Promise<void> {
    const live = new Map(
      this.live().map((ws) => [(ws.deserializeAttachment() as Attachment).connectorId, ws] as const),
    );
    if (only !== undefined) for (const id of live.keys()) if (id !== only) live.delete(id);
    if (live.size === 0) return;
    for (const d of await pendingSealKeys(this.env.DB, this.siteOf(live))) {
      const ws = live.get(d.connector_id);
      if (ws) send(ws, { type: "seal_key", rotationId: d.rotation_id, kid: d.new_kid, sealed: d.sealed });
    }
  }

  private siteOf(live: Map<string, WebSocket>): string {
    return (live.values().next().value!.deserializeAttachment() as Attachment).siteId;
  }

  /**
   * A connector holds a rotated site key now: the one it made (it was the rotating connector) or one
   * delivered to it (the sealed copy is dropped). Anything else is ignored.
   */
  private async sealKeyAdopted(ws: WebSocket, att: Attachment, rotationId: string, kid: string): Promise<void> {
    const db = this.env.DB;
    const rotation = await db
      .prepare(
        "SELECT connector_id FROM seal_rotations WHERE id = ? AND site_id = ? AND state = 'done' AND new_kid = ?",
      )
      .bind(rotationId, att.siteId, kid)
      .first<{ connector_id: string }>();
    if (!rotation) return;
    const delivered = await adoptSealKeyDelivery(db, rotationId, att.connectorId, Date.now());
    if (!delivered && rotation.connector_id !== att.connectorId) return;
    await setSealKid(db, att.connectorId, kid).run();
    ws.serializeAttachment({ ...att, sealKid: kid } satisfies Attachment);
    await this.ctx.storage.put(SEAL_KID, kid);
    await record(this.env, {
      actor: null,
      action: "connector.seal_key_adopted",
      target: { type: "connector", id: att.connectorId },
      data: { rotation: rotationId, kid },
    });
  }

  /** A connector's recording spool passed SPOOL_ALERT_FRACTION of its bound (uploads lag or fail). */
  private async spoolAlert(connectorId: string, spool: SpoolHealth): Promise<void> {
    const percent = Math.floor((spool.bytes / Math.max(1, spool.limit)) * 100);
    await record(this.env, {
      actor: null,
      action: "recording.alert",
      target: { type: "connector", id: connectorId },
      data: {
        detail: `recording spool ${percent}% full (${spool.chunks} chunks waiting${spool.failingSince !== null ? "; uploads failing" : ""})`,
      },
    });
  }

  /** The connector was revoked: its control socket closes now (its tokens no longer authenticate). */
  async revoke(connectorId: string): Promise<number> {
    const sockets = this.ctx.getWebSockets(connectorId);
    for (const ws of sockets) {
      this.connectorGone(ws);
      closeQuietly(ws, CloseCode.Forbidden, "revoked");
    }
    return sockets.length;
  }

  /** Settles a waiting dispatch, if one waits for this connector's answer. */
  private answer(sessionId: string, connectorId: string, answer: Answer): void {
    const w = this.waiting.get(sessionId);
    if (!w || w.connectorId !== connectorId) return;
    this.waiting.delete(sessionId);
    w.answer(answer);
  }

  private connectorGone(ws: WebSocket): void {
    const { connectorId } = ws.deserializeAttachment() as Attachment;
    for (const [sessionId, w] of this.waiting)
      if (w.connectorId === connectorId) this.answer(sessionId, connectorId, "gone");
    for (const job of this.jobs.values())
      if (job.connectorId === connectorId) job.answer({ ok: false, error: "the connector went away" });
  }

  async health(): Promise<ConnectorHealth[]> {
    return this.live().map((ws) => {
      const att = ws.deserializeAttachment() as Attachment;
      return {
        connectorId: att.connectorId,
        agent: att.agent,
        connectedAt: att.since,
        lastSeen: this.lastSeen(ws, att),
        sessions: att.sessions,
        errors: att.errors,
        spool: att.spool ?? null,
      };
    });
  }

  /** Connectors that said hello and pinged recently; silent ones are closed so they reconnect. */
  private live(): WebSocket[] {
    const now = Date.now();
    return this.ctx.getWebSockets().filter((ws) => {
      const att = ws.deserializeAttachment() as Attachment;
      if (!att.hello || ws.readyState !== WebSocket.OPEN) return false;
      if (now - this.lastSeen(ws, att) <= HEARTBEAT_TIMEOUT_MS) return true;
      closeQuietly(ws, CloseCode.TryAgain, "heartbeat timeout");
      return false;
    });
  }

  private lastSeen(ws: WebSocket, att: Attachment): number {
    return Math.max(att.since, this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0);
  }
}

function send(ws: WebSocket, message: HubToConnector): boolean {
  try {
    ws.send(encodeMessage(message));
    return true;
  } catch {
    return false;
  }
}

/** The same index in [0, n) for the same id (FNV-1a of its UTF-16 units); 0 when n is 0. */
function stableIndex(id: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return n === 0 ? 0 : h % n;
}

function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
