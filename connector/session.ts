// One live session on the connector: the verified grant, the SSH connection to the target (host
// key pinned), and the data socket to the session's room, with output flow control and the
// grant's deadline enforced locally whatever the edge does.
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import WebSocket from "ws";
import {
  type EndReason,
  encodeData,
  encodeDataChunks,
  encodeMessage,
  decodeFrame,
  type ConnectorToRoom,
  type GrantClaims,
  MAX_BINARY_FRAME,
  PROTOCOL_VERSION,
  parseMessage,
  RoomToConnector,
} from "../protocol/index.ts";
import { OutputCredit } from "./credit.ts";
import { hostKeyFingerprint } from "./host-key.ts";
import { connectorToken } from "./keys.ts";
import type { Log } from "./log.ts";
import { RdpStream } from "./rdp/rdp-stream.ts";
import { openRdpTarget } from "./rdp/rdp-target.ts";
import { openSealed } from "./seal.ts";
import type { ConnectorState } from "./state.ts";

/** SSH connect + auth must finish within 15 s. */
const READY_TIMEOUT_MS = 15_000;
/** SSH-level keepalive toward the target: 15 s. */
const SSH_KEEPALIVE_MS = 15_000;

export class TargetSession {
  private ws?: WebSocket;
  private ssh?: Client;
  /** The target: an SSH shell channel, or an RDP engine (same shape where the session uses it). */
  private stream?: ClientChannel | RdpStream;
  private readonly credit = new OutputCredit();
  private hostKeyRejected = false;
  private ended = false;
  private torn = false;
  private readonly deadline: NodeJS.Timeout;

  constructor(
    private readonly state: ConnectorState,
    private readonly sessionId: string,
    private readonly grant: GrantClaims,
    private readonly log: Log,
    private readonly onEnd: (sessionId: string) => void,
  ) {
    // The backstop: the grant's deadline holds even when the edge is unreachable.
    const ms = Math.max(0, grant.dl * 1000 - Date.now());
    this.deadline = setTimeout(() => this.end("time_limit"), ms);
  }

  async start(): Promise<void> {
    const url = new URL(`/connector/sessions/${this.sessionId}`, this.state.edgeUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const token = await connectorToken(this.state.connectorId, this.state.identityKey);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: MAX_BINARY_FRAME,
      perMessageDeflate: false,
    });
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    ws.on("open", () => {
      this.sendControl({ type: "hello", v: PROTOCOL_VERSION, sessionId: this.sessionId });
      this.sendControl({ type: "status", state: "connecting" });
      void this.connectTarget();
    });
    ws.on("message", (data: Buffer, isBinary) => this.onRoomMessage(data, isBinary));
    ws.on("close", (code) => {
      if (!this.ended) this.log("session.edge_closed", { session: this.sessionId, code });
      this.teardown();
    });
    ws.on("error", (err) => this.log("session.socket_error", { session: this.sessionId, error: err.message }));
  }

  /** Ends the session with a reason the room passes on to the user. */
  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.log("session.end", { session: this.sessionId, reason });
    this.sendControl({ type: "end", reason });
    this.teardown();
  }

  private async connectTarget(): Promise<void> {
    const { tgt, cred } = this.grant;
    let secret: Buffer;
    try {
      secret = await openSealed(this.state.sealKey, cred.sealed);
    } catch (err) {
      this.log("session.credential_unopenable", { session: this.sessionId, error: (err as Error).name });
      this.end("credential_unavailable");
      return;
    }
    if (this.ended) return;
    if (tgt.protocol === "rdp") {
      const rdp = openRdpTarget(this.sessionId, this.grant, secret, this.log, (reason) => this.end(reason));
      rdp?.once("ready", () => this.attachShell(rdp));
      this.stream = rdp;
      return;
    }
    const ssh = new Client();
    this.ssh = ssh;
    const config: ConnectConfig = {
      host: tgt.host,
      port: tgt.port,
      username: cred.username,
      readyTimeout: READY_TIMEOUT_MS,
      keepaliveInterval: SSH_KEEPALIVE_MS,
      tryKeyboard: false,
      // Pinned host key. ssh2 accepts any key unless a verifier says otherwise; this one refuses
      // everything but the pin, during key exchange, before any authentication is attempted.
      hostVerifier: (key: Buffer) => {
        const ok = hostKeyFingerprint(key) === tgt.hostKey;
        if (!ok) this.hostKeyRejected = true;
        return ok;
      },
      ...(cred.kind === "password" ? { password: secret.toString("utf8") } : { privateKey: secret }),
    };
    ssh.on("ready", () => {
      secret.fill(0);
      ssh.shell({ term: "xterm-256color", cols: 80, rows: 24 }, (err, stream) => {
        if (err) {
          this.log("session.shell_failed", { session: this.sessionId, error: err.message });
          this.end("target_unreachable");
          return;
        }
        this.attachShell(stream);
      });
    });
    ssh.on("error", (err: Error & { level?: string }) => {
      secret.fill(0);
      const reason: EndReason = this.hostKeyRejected
        ? "host_key_mismatch"
        : err.level === "client-authentication"
          ? "auth_failed"
          : "target_unreachable";
      this.log("session.ssh_error", { session: this.sessionId, reason, level: err.level });
      this.end(reason);
    });
    ssh.on("close", () => this.end("user_exit"));
    ssh.connect(config);
  }

  private attachShell(stream: ClientChannel | RdpStream): void {
    this.stream = stream;
    // Nothing flows until the room grants a window; the shell waits paused.
    stream.pause();
    stream.on("data", (chunk: Buffer) => {
      // RDP output comes in pieces of whole Guacamole instructions; each goes as its own DATA frame
      // so that a browser attaching between frames never starts mid-instruction.
      if (stream instanceof RdpStream) this.ws?.send(encodeData(chunk));
      else this.queueOutput(chunk);
      if (this.credit.spend(chunk.byteLength)) stream.pause();
    });
    stream.on("close", () => this.end("user_exit"));
    this.sendControl({ type: "status", state: "connected" });
    this.log("session.connected", { session: this.sessionId, host: this.grant.tgt.host });
  }

  /**
   * Output read in one event-loop turn goes out together: sshd reads the pty 4 KiB at a time, and
   * every frame costs the same on each hop whatever its size. Bounded by the credit window (1 MiB).
   */
  private pending: Buffer[] = [];
  private flushScheduled = false;

  private queueOutput(chunk: Buffer): void {
    this.pending.push(chunk);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.pending = [];
      for (const frame of encodeDataChunks(bytes)) this.ws?.send(frame);
    });
  }

  private onRoomMessage(data: Buffer, isBinary: boolean): void {
    try {
      if (!isBinary) {
        const msg = parseMessage(RoomToConnector, data.toString("utf8"));
        switch (msg.type) {
          case "hello":
            return;
          case "resize":
            this.stream?.setWindow(msg.rows, msg.cols, 0, 0);
            return;
          case "window":
            if (this.credit.reset(msg.bytes)) this.stream?.resume();
            if (this.stream instanceof RdpStream) this.stream.refresh();
            return;
          case "end":
            this.log("session.ended_by_edge", { session: this.sessionId, reason: msg.reason });
            this.ended = true;
            this.teardown();
            return;
        }
      }
      const frame = decodeFrame(data);
      if (frame.kind === "data") this.stream?.write(frame.payload);
      else if (this.credit.grant(frame.bytes)) this.stream?.resume();
    } catch (err) {
      this.log("session.protocol_error", { session: this.sessionId, error: (err as Error).message });
      this.end("protocol_error");
    }
  }

  private sendControl(message: ConnectorToRoom): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeMessage(message));
  }

  private teardown(): void {
    if (this.torn) return;
    this.torn = true;
    this.ended = true;
    clearTimeout(this.deadline);
    // Hang up the shell explicitly (OpenSSH delivers channel signals since 7.9) as well as closing:
    // bash passes SIGHUP on to its jobs, so nothing started in the session outlives it.
    try {
      this.stream?.signal("HUP");
    } catch {
      // The channel is already gone.
    }
    this.stream?.close();
    this.ssh?.end();
    this.ssh = undefined;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
    this.ws = undefined;
    this.onEnd(this.sessionId);
  }
}
