// A test bench for the room core (tests only): it plays the Durable Object (storage, attachments,
// sockets) around a real `RoomCore`, and the connector's data socket with the connector's own
// credit and resend code. Every message crosses as the wire encodes it. Nothing here sleeps: time is
// a number the test moves.
import { attachResend, OutputCredit } from "../../connector/credit.ts";
import {
  decodeFrame,
  encodeCredit,
  encodeData,
  encodeDataChunks,
  encodeMessage,
  OUTPUT_WINDOW,
  OutputLog,
  PROTOCOL_VERSION,
  parseMessage,
  type RoomToBrowser,
  RoomToConnector,
} from "../../protocol/index.ts";
import { RoomCore } from "./core.ts";
import { type Action, KEYS, type Peer, type PeerId, type RoomMeta, replayKey, type Saved } from "./types.ts";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The byte the target prints at offset `o`: any mislabelled offset shows as a wrong byte. */
export const byteAt = (o: number) => (o * 7 + 3) % 251;
export const produce = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => byteAt(from + i));

/** What one socket was sent, in order (`log`), and split by kind for convenience. */
export type Received = {
  log: ({ text: RoomToBrowser | RoomToConnector } | { frame: Uint8Array })[];
  texts: (RoomToBrowser | RoomToConnector)[];
  frames: Uint8Array[];
  closed?: number;
};

export const META: RoomMeta = {
  sessionId: "s1",
  userId: "u1",
  username: "alice",
  serverId: "srv1",
  siteId: "site1",
  deadline: 10 * 60 * 60_000,
  recording: { recordingId: "r1", required: true, keystrokes: true, zoneId: "z1" },
};

export class RoomBench {
  now = 1_000;
  core = new RoomCore();
  readonly storage = new Map<string, unknown>();
  readonly attachments = new Map<PeerId, Peer>();
  /** What each socket was sent, by peer id (kept after it closes). */
  readonly got = new Map<PeerId, Received>();
  /** Actions that need I/O outside the object, in order (audits, the end, seals). */
  readonly effects: Action[] = [];
  alarmAt: number | null = null;
  wakeAt: number | null = null;
  private nextId = 0;

  constructor(meta: RoomMeta = META) {
    this.apply(this.core.init(meta, this.now));
  }

  apply(actions: Action[]): void {
    for (const a of actions) {
      switch (a.do) {
        case "send": {
          const box = this.inbox(a.to);
          if (box.closed !== undefined) break;
          box.texts.push(a.msg);
          box.log.push({ text: a.msg });
          break;
        }
        case "frame": {
          const box = this.inbox(a.to);
          if (box.closed !== undefined) break;
          const frame = new Uint8Array(a.frame instanceof ArrayBuffer ? a.frame : a.frame.slice());
          box.frames.push(frame);
          box.log.push({ frame });
          break;
        }
        case "close":
          this.inbox(a.to).closed = a.code;
          this.attachments.delete(a.to);
          break;
        case "peer":
          this.attachments.set(a.peer.id, structuredClone(a.peer));
          break;
        case "save":
          for (const [k, v] of Object.entries(a.entries)) this.storage.set(k, structuredClone(v));
          break;
        case "remove":
          for (const k of a.keys) this.storage.delete(k);
          break;
        case "alarm":
          this.alarmAt = a.at;
          break;
        case "wake":
          this.wakeAt = this.wakeAt === null ? a.at : Math.min(this.wakeAt, a.at);
          break;
        case "log":
          break;
        default:
          this.effects.push(a);
      }
    }
  }

  inbox(id: PeerId): Received {
    let box = this.got.get(id);
    if (!box) {
      box = { log: [], texts: [], frames: [] };
      this.got.set(id, box);
    }
    return box;
  }

  open(peer: DistributiveOmit<Peer, "id" | "hello">): PeerId {
    const id = `p${this.nextId++}`;
    this.apply(this.core.open({ hello: false, ...peer, id } as Peer));
    return id;
  }

  text(id: PeerId, msg: { type: string; [field: string]: unknown }): void {
    this.apply(this.core.control(id, encodeMessage(msg), this.now));
  }

  binary(id: PeerId, frame: Uint8Array): void {
    this.apply(this.core.frame(id, frame.slice().buffer as ArrayBuffer, this.now));
  }

  /** The socket went away (its close event). */
  drop(id: PeerId): void {
    this.inbox(id).closed ??= 1000;
    this.attachments.delete(id);
    this.apply(this.core.gone(id, this.now));
  }

  /** Time passes: the alarm and memory timers run when due. */
  advance(ms: number): void {
    this.now += ms;
    if (this.wakeAt !== null && this.wakeAt <= this.now) {
      this.wakeAt = null;
      this.apply(this.core.tick(this.now));
    }
    if (this.alarmAt !== null && this.alarmAt <= this.now) {
      this.alarmAt = null;
      this.apply(this.core.alarm(this.now));
    }
  }

  /** The object is evicted and rebuilt from storage and the sockets' attachments alone. */
  evict(): void {
    const saved: Record<string, unknown> = {};
    for (const [name, key] of Object.entries(KEYS))
      if (this.storage.has(key) && key !== KEYS.replayCount) saved[name] = structuredClone(this.storage.get(key));
    const pieces = (this.storage.get(KEYS.replayCount) as number | undefined) ?? 0;
    const parts = Array.from({ length: pieces }, (_, i) => this.storage.get(replayKey(i)) as Uint8Array);
    const replay = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const part of parts) {
      replay.set(part, at);
      at += part.byteLength;
    }
    this.core = new RoomCore({ ...(saved as Saved), replay, replayPieces: pieces }, [
      ...structuredClone([...this.attachments.values()]),
    ]);
    this.wakeAt = null;
  }
}

/** The connector's end of the data socket, with its real credit and resend log. */
export class ConnectorModel {
  readonly credit = new OutputCredit();
  readonly unacked = new OutputLog();
  /** Every output byte the target printed, as the connector records it at the source. */
  readonly recorded: number[] = [];
  /** Input that reached the target. */
  readonly input: number[] = [];
  socket: PeerId | null = null;
  private seen = 0;

  constructor(private readonly bench: RoomBench) {}

  dial(resume: boolean): void {
    this.socket = this.bench.open({ role: "connector", connectorId: "c1", state: "connecting" });
    this.seen = 0;
    this.bench.text(this.socket, {
      type: "hello",
      v: PROTOCOL_VERSION,
      sessionId: META.sessionId,
      ...(resume ? { resume: { sent: this.credit.sent } } : {}),
    });
    if (!resume) this.bench.text(this.socket, { type: "status", state: "connected" });
  }

  /** The target prints `n` bytes; sent while the window allows (recorded either way, as read). */
  prints(n: number): void {
    if (this.credit.bytes <= 0) return;
    const bytes = produce(this.credit.sent, n);
    for (const b of bytes) this.recorded.push(b);
    this.unacked.append(bytes);
    this.credit.spend(n);
    if (this.socket && this.bench.attachments.has(this.socket)) this.send(bytes);
  }

  /** Whether the room sent something this connector has not read yet. */
  get unread(): boolean {
    return this.socket !== null && this.bench.inbox(this.socket).log.length > this.seen;
  }

  /** Handles what the room sent since the last call, in order. */
  reads(): void {
    if (!this.socket) return;
    const log = this.bench.inbox(this.socket).log;
    while (this.socket && this.seen < log.length) {
      const item = log[this.seen++]!;
      if ("frame" in item) {
        const f = decodeFrame(item.frame);
        if (f.kind === "credit") {
          this.credit.grant(f.bytes);
          this.unacked.trimTo(this.credit.acked);
        } else if (f.kind === "data") for (const b of f.payload) this.input.push(b);
        continue;
      }
      const msg = parseMessage(RoomToConnector, JSON.stringify(item.text));
      if (msg.type !== "attach" || !this.bench.attachments.has(this.socket)) continue;
      const resend = attachResend(this.credit, this.unacked, OUTPUT_WINDOW, msg.acked, msg.from);
      this.bench.text(this.socket, { type: "sync", from: resend.from, to: resend.to });
      for (const chunk of resend.chunks) this.send(chunk);
    }
  }

  private send(bytes: Uint8Array): void {
    for (const frame of encodeDataChunks(bytes)) if (this.socket) this.bench.binary(this.socket, frame);
  }

  drops(): void {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    this.bench.drop(socket);
  }
}

export { encodeCredit, encodeData };
