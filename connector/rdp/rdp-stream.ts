// One RDP session's engine as the connector session sees it: a child psm-rdp-bridge process that
// speaks Guacamole on stdin/stdout. Output is cut at instruction boundaries (so a browser attaching
// later never starts mid-instruction) and filtered by clipboard policy; browser input is parsed and
// only the instructions a browser may send reach the bridge. The credential goes over stdin, once.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { encodeInstruction, type GuacInstruction, GuacParser } from "../../protocol/guacamole.ts";
import { KeyboardLayout } from "../../protocol/keyboard-layout.ts";
import { BrowserInput } from "./browser-input.ts";
import { bridgePath } from "./engine.ts";

export type RdpSecurity = "any" | "nla";

export type RdpConnectOptions = {
  host: string;
  port: number;
  /** `SHA256:<base64>` of the server certificate; anything else is refused before credentials go. */
  certFingerprint: string;
  username: string;
  /** Wiped by `start` once written to the bridge. */
  password: Buffer;
  domain: string;
  width: number;
  height: number;
  security: RdpSecurity;
  clipboard: { copy: boolean; paste: boolean; maxBytes: number };
  /** The layout the server reads scancodes with, and the bridge types characters for (docs/rdp.md). */
  keyboardLayout: KeyboardLayout;
};

/** Why the bridge could not connect (its `error` instruction), mapped to the session's end reasons. */
export type RdpFailure = "certificate_mismatch" | "auth_failed" | "security_refused" | "unreachable" | "bad_request";

const FAILURES = new Set<string>([
  "certificate_mismatch",
  "auth_failed",
  "security_refused",
  "unreachable",
  "bad_request",
]);

/** The bridge is asked to stop, then terminated after 2 s, then killed after 5 s. */
const STOP_GRACE_MS = 2_000;
const KILL_AFTER_MS = 5_000;

/**
 * Output goes in pieces of whole instructions of at most ~48 KiB plus one instruction (the bridge's
 * largest is a ~8 KiB blob), so each fits one DATA frame (64 KiB).
 */
const PIECE_CHARS = 48 * 1024;

/** Instructions the bridge may emit toward the browser. Anything else is dropped. */
const TO_BROWSER = new Set(["size", "img", "blob", "end", "sync", "cursor", "clipboard"]);

/**
 * Events: `data` (Buffer of whole instructions for the browser), `ready` (the desktop is up),
 * `close` (the bridge exited; failure reason if it never connected), `rejected` (the browser sent
 * something it may not).
 */
export class RdpStream extends EventEmitter {
  private child?: ChildProcessWithoutNullStreams;
  private readonly fromBridge = new GuacParser();
  /** Browser input, checked (paste per policy: replaced in `start`, which knows the policy). */
  private fromBrowser = new BrowserInput({ paste: false, maxBytes: 0 });
  private readonly outText = new TextDecoder();
  private failure?: RdpFailure;
  private isReady = false;
  /** Clipboard streams from the bridge being dropped by policy (copy not allowed), by index. */
  private readonly droppedStreams = new Set<string>();
  private exited = false;
  private clipboard = { copy: false, paste: false, maxBytes: 0 };

  /** Frames (`sync`s) forwarded while the browser's credit was exhausted, acknowledged on resume. */
  private heldAcks = 0;
  private paused = false;

  /** Bytes sent to the browser so far (for the bandwidth figure). */
  bytesOut = 0;

  start(opts: RdpConnectOptions): void {
    this.clipboard = opts.clipboard;
    this.fromBrowser = new BrowserInput(opts.clipboard);
    // Only a layout the bridge knows goes on its command stream (it refuses any other with bad_request).
    const keyboardLayout = KeyboardLayout.parse(opts.keyboardLayout);
    const child = spawn(bridgePath(), [], {
      stdio: ["pipe", "pipe", "pipe"],
      // Nothing of the connector's environment goes to the bridge.
      env: { PATH: "/usr/bin:/bin" },
    });
    this.child = child;
    child.stdin.on("error", () => {}); // EPIPE after exit: the exit handler reports
    const connect = encodeInstruction(
      "connect",
      opts.host,
      opts.port,
      opts.username,
      opts.password.toString("utf8"),
      opts.domain,
      opts.width,
      opts.height,
      opts.certFingerprint,
      opts.security,
      1, // WebP: every browser we support decodes it
      opts.clipboard.copy ? 1 : 0,
      opts.clipboard.paste ? 1 : 0,
      opts.clipboard.maxBytes,
      keyboardLayout,
    );
    const bytes = Buffer.from(connect, "utf8");
    child.stdin.write(bytes, () => bytes.fill(0));
    opts.password.fill(0);
    child.stdout.on("data", (chunk: Buffer) => this.onOutput(chunk));
    child.stderr.on("data", (chunk: Buffer) => this.emit("log", chunk.toString("utf8")));
    child.once("exit", (code, signal) => {
      this.exited = true;
      this.emit("close", { code, signal, failure: this.isReady ? undefined : (this.failure ?? "unreachable") });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Resident memory of the bridge process in bytes (Linux), for the per-session figure. */
  rssBytes(): number | undefined {
    if (!this.child?.pid) return undefined;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, "utf8"));
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The browser's output credit ran out (1 MiB unacknowledged). Reading stops, and so do frame
   * acknowledgements: the bridge then merges further changes into fewer, later frames instead of
   * queueing them (its own bound is 4 unacknowledged frames).
   */
  pause(): void {
    this.paused = true;
    this.child?.stdout.pause();
  }

  resume(): void {
    this.paused = false;
    this.child?.stdout.resume();
    if (this.heldAcks > 0) this.ack(this.heldAcks);
    this.heldAcks = 0;
  }

  private ack(frames: number): void {
    if (!this.exited) this.child?.stdin.write(encodeInstruction("sync", 0).repeat(frames));
  }

  /** Input from the browser: Guacamole text, split anywhere. Returns false if it broke the rules. */
  write(data: Uint8Array): boolean {
    const out = this.fromBrowser.push(data);
    if (out === undefined) {
      this.emit("rejected");
      return false;
    }
    if (out && !this.exited) this.child?.stdin.write(out);
    return true;
  }

  /** Input written and not yet taken by the bridge (its stdin's queue). */
  pendingInput(): number {
    return this.child?.stdin.writableLength ?? 0;
  }

  /** A browser (re)attached with an empty screen: the bridge sends the whole desktop again. */
  refresh(): void {
    if (!this.exited && this.isReady) this.child?.stdin.write(encodeInstruction("refresh"));
  }

  /** Ends the RDP connection; the bridge exits (and is killed if it does not). */
  close(): void {
    const child = this.child;
    if (!child || this.exited) return;
    child.stdin.end(encodeInstruction("disconnect"));
    const term = setTimeout(() => child.kill("SIGTERM"), STOP_GRACE_MS);
    const kill = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
    child.once("exit", () => {
      clearTimeout(term);
      clearTimeout(kill);
    });
  }

  /** ssh2-channel-shaped no-ops, so the connector session can treat both targets alike. */
  setWindow(): void {}
  signal(): void {}

  private onOutput(chunk: Buffer): void {
    let instructions: GuacInstruction[];
    try {
      instructions = this.fromBridge.push(this.outText.decode(chunk, { stream: true }));
    } catch {
      this.emit("log", "bridge output malformed");
      this.close();
      return;
    }
    let frames = 0;
    let out = "";
    for (const ins of instructions) {
      if (out.length >= PIECE_CHARS) {
        this.emitPiece(out);
        out = "";
      }
      if (ins.opcode === "ready") {
        this.isReady = true;
        this.emit("ready");
        continue;
      }
      if (ins.opcode === "error") {
        if (FAILURES.has(ins.args[0] ?? "")) this.failure = ins.args[0] as RdpFailure;
        continue; // the session reports the reason itself, in its own words
      }
      if (!TO_BROWSER.has(ins.opcode) || !this.allowCopy(ins)) continue;
      out += encodeInstruction(ins.opcode, ...ins.args);
      if (ins.opcode === "sync") frames++;
    }
    if (frames > 0 && this.paused) this.heldAcks += frames;
    else if (frames > 0) this.ack(frames);
    if (out) this.emitPiece(out);
  }

  private emitPiece(text: string): void {
    const bytes = Buffer.from(text, "utf8");
    this.bytesOut += bytes.byteLength;
    this.emit("data", bytes);
  }

  private allowCopy(ins: GuacInstruction): boolean {
    if (ins.opcode === "clipboard") {
      if (this.clipboard.copy) return true;
      this.droppedStreams.add(ins.args[0]!);
      return false;
    }
    if ((ins.opcode === "blob" || ins.opcode === "end") && this.droppedStreams.has(ins.args[0]!)) {
      if (ins.opcode === "end") this.droppedStreams.delete(ins.args[0]!);
      return false;
    }
    return true;
  }
}
