// One live session on the connector: the verified grant, the SSH connection to the target (host
// key pinned), and the data socket to the session's room, with output flow control and the
// grant's deadline enforced locally whatever the edge does. A data socket that drops is redialled
// for CONNECTOR_RESUME_GRACE_MS while SSH stays up; the output the browser has not acknowledged is
// kept by offset and resent from wherever the room asks. A recorded session (the grant names a
// recording) records what it relays here, at the source (connector/recording/).
import { randomBytes } from "node:crypto";
import type { JWK } from "jose";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import WebSocket from "ws";
import {
  CONNECTOR_RESUME_GRACE_MS,
  connectorEndpoint,
  type EndReason,
  encodeData,
  encodeDataChunks,
  encodeMessage,
  decodeFrame,
  type ConnectorToRoom,
  type GrantClaims,
  INPUT_HOLD_BYTES,
  isFatalClose,
  MAX_BINARY_FRAME,
  OUTPUT_WINDOW,
  OutputLog,
  PROTOCOL_VERSION,
  parseMessage,
  RoomToConnector,
} from "../protocol/index.ts";
import { checkPrivateKey } from "../protocol/private-key.ts";
import { CommandGuard, type ReviewAnswer, type ReviewRequest } from "./command-guard.ts";
import { SessionFiles } from "./session-files.ts";
import { GrantRejected, verifyGrant } from "./grant.ts";
import { attachResend, OutputCredit } from "./credit.ts";
import { trustedEdgeKeys } from "./edge-trust.ts";
import { hostKeyFingerprint } from "./host-key.ts";
import { connectorToken } from "./keys.ts";
import type { Log } from "./log.ts";
import { RdpStream } from "./rdp/rdp-stream.ts";
import { openRdpTarget } from "./rdp/rdp-target.ts";
import { CredentialInvalid, type Release, SealedProvider } from "./credentials.ts";
import { faultFields } from "./fault.ts";
import type { RecordingFailure, SessionRecorder } from "./recording/recorder.ts";
import type { Recordings } from "./recording/recordings.ts";
import { type SessionHooks, setupFailureFields, setupFailureReason } from "./session-hooks.ts";
import type { ConnectorState } from "./state.ts";

/** SSH connect + auth must finish within 15 s. */
const READY_TIMEOUT_MS = 15_000;
/** The shell opens at this size; the room's first `resize` follows. */
const SHELL_COLS = 80;
const SHELL_ROWS = 24;
/** SSH-level keepalive toward the target: 15 s. */
const SSH_KEEPALIVE_MS = 15_000;
/**
 * Command events one session sends the room (the commands timeline): at most 10,000 plain runs; past that only
 * denied and alerted lines are sent (the log says once that the rest were dropped), so a looping paste cannot
 * flood the audit.
 */
const MAX_COMMAND_EVENTS = 10_000;
/** A held line with no answer from the room this long past its rule's bound is refused here. */
const REVIEW_GRACE_S = 15;
const REVIEW_UNANSWERED = "No reviewer's answer reached the connector in time: the command did not run.";
/** Redial delays for a dropped data socket: quick first, within CONNECTOR_RESUME_GRACE_MS in all. */
const REDIAL_DELAYS_MS = [0, 100, 250, 500, 1000, 1500, 2000];
/** A redial whose upgrade has not completed in 2 s is abandoned and tried again. */
const REDIAL_HANDSHAKE_MS = 2_000;

export class TargetSession {
  private ws?: WebSocket;
  private ssh?: Client;
  /** The target: an SSH shell channel, or an RDP engine (same shape where the session uses it). */
  private stream?: ClientChannel | RdpStream;
  private readonly credit = new OutputCredit();
  /** Output not yet acknowledged by the browser, by offset: at most the window plus one chunk. */
  private readonly unacked = new OutputLog();
  private hostKeyRejected = false;
  private ended = false;
  private torn = false;
  private connected = false;
  private deadline: NodeJS.Timeout;
  private deadlineAt: number;
  /** Set while the data socket is down and being redialled. */
  private lostAt?: number;
  private redial?: NodeJS.Timeout;
  private redialAttempt = 0;
  /** Whether the first data socket has opened; until then control messages wait in `early` (a few at most). */
  private opened = false;
  private readonly early: ConnectorToRoom[] = [];
  private release?: Release;
  private endReason: EndReason = "closed";
  /** This session's recording, while it records. */
  private recorder?: SessionRecorder;
  /** The room has been told the recording is failing (said once). */
  private recordingFailing = false;
  /** Command control (docs/governance.md): present on an SSH shell whose grant carries command rules. */
  private commands?: CommandGuard;
  private commandEvents = 0;
  /** Lines held for review, by the id the room answers with: each settles its guard's hold. */
  private readonly reviews = new Map<string, (answer: ReviewAnswer) => void>();
  /** File transfer over SFTP on this session's SSH connection (the grant's `ft`), made on the first request. */
  private files?: SessionFiles;

  constructor(
    private readonly state: ConnectorState,
    private readonly sessionId: string,
    private readonly grant: GrantClaims,
    private readonly log: Log,
    private readonly onEnd: (sessionId: string) => void,
    private readonly hooks: SessionHooks = {},
    /** Recording at the source; absent, a recorded session cannot record (required ones do not start). */
    private readonly recordings?: Recordings,
  ) {
    // The backstop: the grant's deadline holds even when the edge is unreachable.
    this.deadlineAt = grant.dl * 1000;
    this.deadline = setTimeout(
      this.guard("deadline", () => this.end("time_limit")),
      Math.max(0, this.deadlineAt - Date.now()),
    );
  }

  /** Output bytes the shell produced (the next byte's offset); for status and tests. */
  get outputOffset(): number {
    return this.credit.sent;
  }

  /**
   * The SSH connection starts at once, in parallel with dialling the room (it is most of the start time).
   * Whatever fails while opening ends this session only, with a reason; never the process and its other
   * sessions (an unhandled rejection here once took the whole connector down with one bad key).
   */
  async start(): Promise<void> {
    const dialing = this.dial();
    this.connectTarget().catch((err: unknown) => this.fail("internal_error", "open", err));
    try {
      await dialing;
    } catch (err) {
      // No data socket: the caller tells the hub (`rejected`); the target connection, if any, is hung up.
      this.end("internal_error");
      throw err;
    }
  }

  /**
   * Wraps a callback on this session's path (socket, SSH, timer events): a throw in it ends this session
   * with `internal_error` instead of reaching the process as an uncaught exception.
   */
  private guard<A extends unknown[]>(where: string, callback: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        callback(...args);
      } catch (err) {
        this.fail("internal_error", where, err);
      }
    };
  }

  /** Ends this session after a failure it did not expect; the log gets the error's class and place only. */
  private fail(reason: EndReason, where: string, err: unknown): void {
    this.log("session.fault", { session: this.sessionId, in: where, reason, ...faultFields(err) });
    try {
      this.end(reason);
    } catch (again) {
      // Ending failed half-way (a socket or SSH call threw): what is left is torn down on its own close.
      this.log("session.fault", { session: this.sessionId, in: "end", ...faultFields(again) });
    }
  }

  private async dial(): Promise<void> {
    const endpoint = connectorEndpoint.session(this.sessionId);
    const url = new URL(endpoint, this.state.edgeUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const token = await connectorToken(this.state.connectorId, this.state.identityKey, endpoint);
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: MAX_BINARY_FRAME,
      perMessageDeflate: false,
      ...(this.lostAt !== undefined ? { handshakeTimeout: REDIAL_HANDSHAKE_MS } : {}),
    });
    this.ws = ws;
    ws.binaryType = "nodebuffer";
    ws.on(
      "open",
      this.guard("socket_open", () => {
        if (this.lostAt !== undefined) {
          // Redialled: SSH is still up; the room answers with `attach` saying what to resend.
          this.log("session.resumed", { session: this.sessionId, downMs: Date.now() - this.lostAt });
          this.lostAt = undefined;
          this.sendControl({
            type: "hello",
            v: PROTOCOL_VERSION,
            sessionId: this.sessionId,
            resume: { sent: this.credit.sent },
          });
          return;
        }
        this.opened = true;
        // Sent on `ws` itself: a session that already failed has dropped its reference to the socket.
        const first: ConnectorToRoom[] = [
          { type: "hello", v: PROTOCOL_VERSION, sessionId: this.sessionId },
          { type: "status", state: "connecting" },
          // What SSH reported before the socket was up (connected, or why it failed) follows the hello.
          ...this.early.splice(0),
        ];
        for (const message of first) ws.send(encodeMessage(message));
      }),
    );
    ws.on(
      "message",
      this.guard("socket_message", (data: Buffer, isBinary: boolean) => {
        if (ws === this.ws) this.onRoomMessage(data, isBinary);
      }),
    );
    ws.on(
      "close",
      this.guard("socket_close", (code: number) => {
        if (ws !== this.ws) return;
        this.ws = undefined;
        if (this.ended) return this.teardown();
        // A fatal code means the room is done with this session; anything else may be a blip.
        // The room gave up on a transfer running over this socket: it stops here too.
        this.files?.stop();
        if (!this.connected || isFatalClose(code)) {
          this.log("session.edge_closed", { session: this.sessionId, code });
          return this.teardown();
        }
        this.lost(code);
      }),
    );
    ws.on("error", (err) => this.log("session.socket_error", { session: this.sessionId, error: err.message }));
    // Torn down while the token was signed (a start refused at once, as a required recording without a
    // spool): the room still hears why, then this socket closes.
    if (this.torn) ws.once("open", () => ws.close(1000));
  }

  /** The data socket dropped mid-session: keep SSH, redial until the grace period runs out. */
  private lost(code: number): void {
    if (this.lostAt === undefined) {
      this.lostAt = Date.now();
      this.redialAttempt = 0;
      this.log("session.edge_lost", { session: this.sessionId, code });
    }
    const delay = REDIAL_DELAYS_MS[Math.min(this.redialAttempt++, REDIAL_DELAYS_MS.length - 1)]!;
    if (Date.now() + delay - this.lostAt > CONNECTOR_RESUME_GRACE_MS) {
      this.log("session.edge_gone", { session: this.sessionId });
      this.ended = true;
      this.teardown();
      return;
    }
    clearTimeout(this.redial);
    this.redial = setTimeout(() => {
      // A dial that fails closes its socket, and the close handler comes back here.
      this.dial().catch((err: Error) => {
        this.log("session.redial_failed", { session: this.sessionId, error: err.message });
        this.lost(code);
      });
    }, delay);
  }

  /** Ends the session with a reason the room passes on to the user. */
  end(reason: EndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    this.log("session.end", { session: this.sessionId, reason });
    // Output read in this turn (the shell's last words before it closed) goes before the end, so the room relays
    // and witnesses it: it is already in the recording, and a recording holding bytes the room never saw from a
    // session the connector ended reads as tampered.
    this.flushOutput();
    this.sendControl({ type: "end", reason });
    this.teardown();
  }

  private async connectTarget(): Promise<void> {
    const { tgt } = this.grant;
    let secret: Buffer;
    let address: string;
    if (!(await this.openRecording())) return;
    try {
      address = this.hooks.resolveTarget ? await this.hooks.resolveTarget(tgt.host) : tgt.host;
      const provider = this.hooks.credentials ?? new SealedProvider(() => this.state.sealKey as JWK);
      this.release = await provider.release({
        sessionId: this.sessionId,
        grant: this.grant,
        terminate: (reason) => this.end(reason),
      });
      secret = this.release.secret;
    } catch (err) {
      const reason = setupFailureReason(err);
      this.log("session.setup_failed", { session: this.sessionId, reason, ...setupFailureFields(err) });
      this.end(reason);
      return;
    }
    if (this.ended) {
      secret.fill(0);
      this.release.ended(this.endReason);
      return;
    }
    try {
      if (tgt.protocol === "rdp") this.openRdp(address, secret);
      else this.openSsh(address, secret);
    } catch (err) {
      // Nothing of the secret outlives a failed open; the reason says whether the credential is to blame.
      secret.fill(0);
      const reason: EndReason = err instanceof CredentialInvalid ? "credential_invalid" : "internal_error";
      this.log("session.setup_failed", { session: this.sessionId, reason, ...setupFailureFields(err) });
      this.end(reason);
    }
  }

  /**
   * Before any target connection: the recorder, when the grant names a recording. A required recording
   * that cannot be kept (spool not writable or full, uploads failing past the outage bound) ends the
   * session with `recording_unavailable`; an optional one goes on unrecorded and the room is told.
   * False when the session must not go on.
   */
  private async openRecording(): Promise<boolean> {
    const { rec } = this.grant;
    if (!rec.id) return true;
    const opened = this.recordings
      ? await this.recordings.begin({
          sessionId: this.sessionId,
          grant: this.grant,
          cols: SHELL_COLS,
          rows: SHELL_ROWS,
          onFailure: this.guard("recording_failed", (failure: RecordingFailure) => this.recordingFailed(failure)),
          onDrain: this.guard("recording_drain", () => this.resumeTarget()),
        })
      : { unavailable: "spool_unwritable" as const };
    if ("recorder" in opened) {
      this.recorder = opened.recorder;
      // Ended while the spool was checked: the recording closes at once.
      if (this.ended) this.recorder.end(this.endReason);
      return !this.ended;
    }
    this.log("recording.unavailable", { session: this.sessionId, detail: opened.unavailable, required: rec.required });
    if (!rec.required) {
      this.tellRecordingFailing(opened.unavailable);
      return true;
    }
    this.end("recording_unavailable");
    return false;
  }

  /** The spool refused a chunk mid-session: a required recording ends the session, an optional one stops. */
  private recordingFailed(failure: RecordingFailure): void {
    if (this.ended) return;
    this.log("recording.failing", { session: this.sessionId, detail: failure, required: this.grant.rec.required });
    if (this.grant.rec.required) {
      this.end("recording_unavailable");
      return;
    }
    this.recorder = undefined;
    this.tellRecordingFailing(failure);
    // A target paused for the recorder's backlog runs again.
    this.resumeTarget();
  }

  private tellRecordingFailing(detail: string): void {
    if (this.recordingFailing) return;
    this.recordingFailing = true;
    this.sendControl({ type: "recording", state: "failing", detail });
  }

  /**
   * Resumes the target when nothing holds it: the browser's credit (none before the first attach) and
   * the recorder's backlog (a spool slower than the relay slows the target, not memory).
   */
  private resumeTarget(): void {
    if (this.credit.bytes > 0 && !this.recorder?.behind) this.stream?.resume();
  }

  private openRdp(address: string, secret: Buffer): void {
    const rdp = openRdpTarget(
      this.sessionId,
      { ...this.grant, tgt: { ...this.grant.tgt, host: address } },
      secret,
      this.log,
      (reason) => this.end(reason),
    );
    rdp?.once(
      "ready",
      this.guard("rdp_ready", () => this.attachShell(rdp)),
    );
    this.stream = rdp;
  }

  /** Starts SSH to the checked address. Throws CredentialInvalid for a key ssh2 cannot load. */
  private openSsh(address: string, secret: Buffer): void {
    const { tgt, cred } = this.grant;
    if (cred.kind === "private_key") {
      // The same check the credential form and `psm-connector seal` make: the log can then say what is
      // wrong (a key sealed by hand, or by an older form, never went through it).
      const verdict = checkPrivateKey(secret.toString("utf8"));
      if (!verdict.ok) throw new CredentialInvalid(verdict.problem);
    }
    const ssh = new Client();
    this.ssh = ssh;
    const config: ConnectConfig = {
      host: address,
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
    ssh.on(
      "ready",
      this.guard("ssh_ready", () => {
        secret.fill(0);
        ssh.shell(
          { term: "xterm-256color", cols: SHELL_COLS, rows: SHELL_ROWS },
          this.guard("ssh_shell", (err: Error | undefined, stream: ClientChannel) => {
            if (err) {
              this.log("session.shell_failed", { session: this.sessionId, error: err.message });
              this.end("target_unreachable");
              return;
            }
            this.attachShell(stream);
          }),
        );
      }),
    );
    ssh.on(
      "error",
      this.guard("ssh_error", (err: Error & { level?: string }) => {
        secret.fill(0);
        const reason: EndReason = this.hostKeyRejected
          ? "host_key_mismatch"
          : err.level === "client-authentication"
            ? "auth_failed"
            : "target_unreachable";
        this.log("session.ssh_error", { session: this.sessionId, reason, level: err.level });
        this.end(reason);
      }),
    );
    ssh.on(
      "close",
      this.guard("ssh_close", () => this.end("user_exit")),
    );
    try {
      // ssh2 parses the key here and throws (synchronously) on one it cannot load.
      ssh.connect(config);
    } catch (err) {
      if (cred.kind === "private_key") throw new CredentialInvalid("unloadable");
      throw err;
    }
  }

  private attachShell(stream: ClientChannel | RdpStream): void {
    this.stream = stream;
    if (!(stream instanceof RdpStream) && this.grant.cmd?.length) this.commands = this.commandGuard(this.grant.cmd);
    // Nothing flows until the room grants a window; the shell waits paused.
    stream.pause();
    stream.on(
      "data",
      this.guard("target_data", (chunk: Buffer) => {
        // Recorded as read, in order; the recorder only appends text here (sealing runs off this path).
        this.recorder?.output(chunk);
        this.commands?.output(chunk);
        if (stream instanceof RdpStream) {
          // RDP output comes in pieces of whole Guacamole instructions, each its own DATA frame, so a
          // browser attaching between frames never starts mid-instruction. Nothing is kept for resends:
          // an attaching browser gets a repaint instead (see attach).
          if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeData(chunk));
          if (this.credit.spend(chunk.byteLength) || this.recorder?.behind) stream.pause();
          return;
        }
        this.unacked.append(chunk);
        this.queueOutput(chunk);
        if (this.credit.spend(chunk.byteLength) || this.recorder?.behind) stream.pause();
      }),
    );
    stream.on(
      "close",
      this.guard("target_close", () => this.end("user_exit")),
    );
    this.connected = true;
    this.recorder?.marker("connected");
    this.sendControl({ type: "status", state: "connected" });
    this.release?.connected();
    this.hooks.onStage?.("connected");
    this.log("session.connected", { session: this.sessionId, host: this.grant.tgt.host });
  }

  /**
   * The guard for this shell: what it lets through goes to the target; a refusal is told to the user (the room
   * passes `notice` on); every command, run or refused, goes to the room for the commands timeline, with the output
   * offset at which Enter was pressed. The log says only the action and rule, never the line.
   */
  private commandGuard(rules: NonNullable<GrantClaims["cmd"]>): CommandGuard {
    return new CommandGuard(rules, SHELL_COLS, SHELL_ROWS, {
      send: (bytes) => this.writeInput(bytes),
      denied: (message) => this.sendControl({ type: "notice", code: "command_denied", message }),
      command: ({ line, action, rule, message }) => {
        this.commandEvents++;
        if (this.commandEvents === MAX_COMMAND_EVENTS + 1)
          this.log("session.commands_capped", { session: this.sessionId, max: MAX_COMMAND_EVENTS });
        // `ms`: the recording's clock at Enter, for the timeline's link into the replay.
        const ms = this.recorder?.elapsedMs;
        if (this.commandEvents <= MAX_COMMAND_EVENTS || action !== "allow")
          this.sendControl({
            type: "command",
            line,
            action,
            rule,
            at: this.credit.sent,
            ...(ms !== undefined ? { ms: Math.round(ms) } : {}),
            ...(message ? { message } : {}),
          });
        this.log("session.command", { session: this.sessionId, action, rule: rule ?? undefined });
      },
      review: (request, withdrawn) => this.askReview(request, withdrawn),
      overflow: () => {
        this.log("session.input_overflow", { session: this.sessionId, held: "command_guard" });
        this.end("input_overflow");
      },
      fault: (err) => this.fail("internal_error", "command_guard", err),
    });
  }

  /**
   * Asks the room to have a held line reviewed and settles with its answer. The room ends the hold at the rule's
   * bound; the connector's own bound, a little later, refuses the line should no answer come at all (the data
   * socket down for good). Withdrawn by the user: the room is told, and a later answer finds nothing.
   */
  private askReview(request: ReviewRequest, withdrawn: AbortSignal): Promise<ReviewAnswer> {
    return new Promise((resolve) => {
      const id = randomBytes(8).toString("hex");
      const settle = (answer: ReviewAnswer) => {
        clearTimeout(timer);
        this.reviews.delete(id);
        withdrawn.removeEventListener("abort", onWithdrawn);
        resolve(answer);
      };
      const onWithdrawn = () => {
        this.sendControl({ type: "command_review_withdrawn", id });
        settle({ allowed: false, message: "" });
      };
      const timer = setTimeout(
        () => settle({ allowed: false, message: REVIEW_UNANSWERED }),
        (request.seconds + REVIEW_GRACE_S) * 1000,
      );
      withdrawn.addEventListener("abort", onWithdrawn, { once: true });
      this.reviews.set(id, settle);
      const ms = this.recorder?.elapsedMs;
      this.sendControl({
        type: "command_review",
        id,
        ...request,
        at: this.credit.sent,
        ...(ms !== undefined ? { ms: Math.round(ms) } : {}),
      });
      this.log("session.command_review", { session: this.sessionId, rule: request.rule });
    });
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
      this.flushOutput();
    });
  }

  /** Sends the output queued so far (also at the end, before the `end` message: see `end`). */
  private flushOutput(): void {
    if (this.pending.length === 0) return;
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    // With the socket down the bytes stay in `unacked`, and the resume resends them.
    if (this.ws?.readyState === WebSocket.OPEN) for (const frame of encodeDataChunks(bytes)) this.ws.send(frame);
  }

  /** The room (re)attached a browser: open the window from `acked`, then resend from `from`. */
  private attach(acked: number | null | undefined, from: number | null): void {
    if (this.stream instanceof RdpStream) {
      // A desktop is not resent byte by byte: the browser gets the whole screen again, from here.
      if (this.credit.attach(OUTPUT_WINDOW, null)) this.resumeTarget();
      this.sendControl({ type: "sync", from: this.credit.sent, to: this.credit.sent });
      this.stream.refresh();
      return;
    }
    const resend = attachResend(this.credit, this.unacked, OUTPUT_WINDOW, acked, from);
    if (resend.resume) this.resumeTarget();
    // Anything queued is part of the resend (or older than the browser needs).
    this.pending = [];
    this.sendControl({ type: "sync", from: resend.from, to: resend.to });
    for (const chunk of resend.chunks) for (const frame of encodeDataChunks(chunk)) this.ws?.send(frame);
  }

  /** An extension: a fresh grant for this session with a later deadline moves the backstop. */
  private async extend(grant: string): Promise<void> {
    const claims = await verifyGrant(grant, {
      edgeKey: trustedEdgeKeys(this.state),
      siteId: this.state.siteId,
      sessionId: this.sessionId,
    });
    const same =
      claims.tgt.host === this.grant.tgt.host &&
      claims.tgt.port === this.grant.tgt.port &&
      claims.cred.id === this.grant.cred.id &&
      claims.usr.id === this.grant.usr.id;
    if (!same) throw new GrantRejected("extension grant is for another target");
    if (claims.dl * 1000 <= this.deadlineAt) return;
    this.deadlineAt = claims.dl * 1000;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => this.end("time_limit"), Math.max(0, this.deadlineAt - Date.now()));
    this.log("session.extended", { session: this.sessionId, deadline: new Date(this.deadlineAt).toISOString() });
  }

  private onRoomMessage(data: Buffer, isBinary: boolean): void {
    try {
      if (!isBinary) {
        const msg = parseMessage(RoomToConnector, data.toString("utf8"));
        switch (msg.type) {
          case "hello":
            return;
          case "command_review_answer":
            this.reviews.get(msg.id)?.({ allowed: msg.allowed, message: msg.message });
            return;
          case "resize":
            this.stream?.setWindow(msg.rows, msg.cols, 0, 0);
            this.commands?.resize(msg.cols, msg.rows);
            this.recorder?.resize(msg.cols, msg.rows);
            return;
          case "marker":
            // Lands in the recording where it arrives, in order with the bytes around it.
            this.recorder?.marker(msg.label);
            return;
          case "attach":
            this.attach(msg.acked, msg.from);
            return;
          case "repaint":
            // A desktop viewer joined: the whole screen again, into the ordinary stream.
            if (this.stream instanceof RdpStream) this.stream.refresh();
            return;
          case "extend":
            this.extend(msg.grant).catch((err: Error) => {
              this.log("session.extension_refused", { session: this.sessionId, error: err.message });
            });
            return;
          case "ft_list":
          case "ft_upload":
          case "ft_download":
          case "ft_cancel":
            this.fileTransfer().request(msg);
            return;
          case "end":
            this.log("session.ended_by_edge", { session: this.sessionId, reason: msg.reason });
            this.ended = true;
            this.endReason = msg.reason;
            this.teardown();
            return;
        }
      }
      const frame = decodeFrame(data);
      if (frame.kind === "data") {
        // Input the room relayed: recorded (per policy) and counted as the room counts it.
        this.recorder?.input(frame.payload);
        // Under command control, Enter waits for the line's check (connector/command-guard.ts); other keys pass.
        if (this.commands) this.commands.input(Buffer.from(frame.payload));
        else this.writeInput(frame.payload);
      } else if (frame.kind === "file_data" || frame.kind === "file_credit") {
        this.files?.frame(frame);
      } else {
        const resume = this.credit.grant(frame.bytes);
        this.unacked.trimTo(this.credit.acked);
        if (resume) this.resumeTarget();
      }
    } catch (err) {
      this.log("session.protocol_error", { session: this.sessionId, error: (err as Error).message });
      this.end("protocol_error");
    }
  }

  /**
   * Input to the target. A target that does not read it (ssh2's channel window shut, the RDP bridge's pipe
   * full) leaves it queued in the stream; past INPUT_HOLD_BYTES the session ends with `input_overflow`
   * instead of growing this process. (Pausing the data socket would also hold the room's `end` and credit.)
   */
  private writeInput(payload: Uint8Array): void {
    const stream = this.stream;
    if (!stream) return;
    stream.write(payload);
    const held = stream instanceof RdpStream ? stream.pendingInput() : stream.writableLength;
    if (held <= INPUT_HOLD_BYTES) return;
    this.log("session.input_overflow", { session: this.sessionId, held });
    this.end("input_overflow");
  }

  /** The session's file transfer, made on the first request (an RDP session or a grant without `ft` refuses). */
  private fileTransfer(): SessionFiles {
    this.files ??= new SessionFiles(() => (this.stream instanceof RdpStream ? undefined : this.ssh), this.grant.ft, {
      send: (msg) => this.sendControl(msg),
      sendFrame: (frame) => {
        if (this.ws?.readyState !== WebSocket.OPEN) return false;
        this.ws.send(frame);
        return true;
      },
      marker: (label) => this.recorder?.marker(label),
      log: (event, fields) => this.log(event, { session: this.sessionId, ...fields }),
    });
    return this.files;
  }

  private sendControl(message: ConnectorToRoom): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeMessage(message));
    else if (!this.opened) this.early.push(message);
  }

  private teardown(): void {
    if (this.torn) return;
    this.torn = true;
    this.ended = true;
    clearTimeout(this.deadline);
    clearTimeout(this.redial);
    this.commands?.dispose();
    this.files?.dispose();
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
    const ws = this.ws;
    // An SSH failure before the first socket opened: the room still hears why, then the socket closes.
    if (ws?.readyState === WebSocket.CONNECTING && this.early.length > 0) ws.once("open", () => ws.close(1000));
    else if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    this.ws = undefined;
    // Each report runs whatever the one before did: a session left in the connector's table never ends.
    for (const [where, report] of [
      // The recording's last chunk is sealed and spooled in the background, after the sockets are gone.
      ["recording_end", () => this.recorder?.end(this.endReason)],
      ["release_ended", () => this.release?.ended(this.endReason)],
      ["stage_ended", () => this.hooks.onStage?.("ended", this.endReason)],
      ["on_end", () => this.onEnd(this.sessionId)],
    ] as const) {
      try {
        report();
      } catch (err) {
        this.log("session.fault", { session: this.sessionId, in: where, ...faultFields(err) });
      }
    }
  }
}
