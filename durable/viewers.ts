// The room's live viewers: a bounded lag per viewer measured by its credit, resync from the replay
// buffer for a viewer that fell behind or just joined, and the replay buffer itself, saved to the
// room's storage every few seconds while output flows so a late joiner still sees the current
// screen after the room was evicted from memory.
import { encodeData, encodeDataChunks } from "../protocol/index.ts";
import { CreditAccount } from "./output-stream.ts";
import { ReplayBuffer } from "./replay.ts";

/**
 * A viewer may fall this far behind (output sent, not yet credited back) before the room stops
 * sending to it; once it has caught up halfway it is resynchronised from the replay buffer. The
 * session itself never waits for a viewer.
 */
export const VIEWER_MAX_LAG = 1024 * 1024;

/** The replay buffer is saved at most this often while output flows: 5 s. */
export const SNAPSHOT_EVERY_MS = 5_000;

/** Saved in pieces of 64 KiB, well under the storage API's value size limit. */
const PIECE = 64 * 1024;
const RESET = new TextEncoder().encode("\x1bc");

export class LiveViewers {
  /** Recent output for late joiners and resyncs. */
  private replay = new ReplayBuffer();
  /** What each viewer was sent and credited back: its lag, and a bound on what it may credit. */
  private readonly accounts = new Map<WebSocket, CreditAccount>();
  private readonly behind = new Set<WebSocket>();
  /** Whether the buffer was loaded from storage (memory starts empty after an eviction). */
  private loaded = false;
  /** Output arrived since the last save. */
  dirty = false;

  /**
   * Set for desktop sessions: no terminal replay is kept (a Guacamole stream's tail cannot repaint a
   * screen); a viewer that joins or catches up is handed to this instead, and the room has the
   * connector repaint the whole desktop.
   */
  desktopRepaint: ((viewer: WebSocket) => void) | null = null;

  /** The attached viewers, kept between frames (rebuilt after a wake-up, a hello or a close). */
  private cached: WebSocket[] | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** The viewers attached right now (said hello, socket open), from the runtime. */
    private readonly sockets: () => WebSocket[],
  ) {}

  /** Who is watching; cheap enough to call per output frame. */
  list(): WebSocket[] {
    this.cached ??= this.sockets();
    return this.cached;
  }

  /** A viewer said hello or went away. */
  changed(): void {
    this.cached = undefined;
  }

  /** Output from the session: into the replay buffer and to every viewer that keeps up. */
  push(payload: Uint8Array, frame: ArrayBuffer | Uint8Array): void {
    if (!this.desktopRepaint) {
      this.replay.push(payload);
      this.dirty = true;
    }
    for (const viewer of this.list()) {
      if (this.behind.has(viewer)) continue;
      if (viewer.readyState !== WebSocket.OPEN) {
        this.changed();
        continue;
      }
      const account = this.account(viewer);
      if (account.outstanding + payload.byteLength > VIEWER_MAX_LAG) {
        this.behind.add(viewer);
        continue;
      }
      account.sentBytes(payload.byteLength);
      viewer.send(frame);
    }
  }

  /** Repaints a socket with the current screen: terminal reset, then recent output. Returns the bytes sent. */
  async repaint(ws: WebSocket, withReset = true): Promise<number> {
    await this.load();
    const snapshot = this.replay.snapshot();
    if (withReset) ws.send(encodeData(RESET));
    for (const frame of encodeDataChunks(snapshot)) ws.send(frame);
    return snapshot.byteLength + (withReset ? RESET.byteLength : 0);
  }

  /** A viewer joined or caught up: repaint it; its lag counts the repaint on top of what it still owes. */
  async resync(viewer: WebSocket): Promise<void> {
    this.behind.delete(viewer);
    const account = this.account(viewer);
    if (this.desktopRepaint) this.desktopRepaint(viewer);
    else account.sentBytes(await this.repaint(viewer));
  }

  /**
   * A viewer returned credit. "refused": it credited bytes it was never sent (the room closes it);
   * a promise: it caught up and is being resynchronised.
   */
  credit(viewer: WebSocket, bytes: number): "refused" | Promise<void> | undefined {
    const account = this.account(viewer);
    if (!account.credit(bytes)) return "refused";
    if (this.behind.has(viewer) && account.outstanding < VIEWER_MAX_LAG / 2) return this.resync(viewer);
  }

  /**
   * A viewer's account. One lost with the room's memory (an eviction, only while idle) starts with an
   * allowance of the most it can owe, VIEWER_MAX_LAG.
   */
  private account(viewer: WebSocket): CreditAccount {
    let account = this.accounts.get(viewer);
    if (!account) {
      account = new CreditAccount(true, VIEWER_MAX_LAG);
      this.accounts.set(viewer, account);
    }
    return account;
  }

  /** A viewer said hello: its account starts at zero (nothing sent yet, nothing to credit). */
  joined(viewer: WebSocket): void {
    this.accounts.set(viewer, new CreditAccount(true));
  }

  gone(viewer: WebSocket): void {
    this.accounts.delete(viewer);
    this.behind.delete(viewer);
    this.changed();
  }

  /** Writes the replay buffer to storage (the room calls this from its snapshot timer). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    await this.load();
    this.dirty = false;
    const bytes = this.replay.snapshot();
    const pieces: Record<string, Uint8Array> = {};
    for (let at = 0, i = 0; at < bytes.byteLength; at += PIECE, i++)
      pieces[`replay:${i}`] = bytes.subarray(at, at + PIECE);
    const stale = (await this.storage.get<number>("replay:n")) ?? 0;
    const count = Object.keys(pieces).length;
    await this.storage.put({ ...pieces, "replay:n": count });
    for (let i = count; i < stale; i++) await this.storage.delete(`replay:${i}`);
    this.loaded = true;
  }

  /** After an eviction, the saved buffer comes back before anyone is repainted from it. */
  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const count = (await this.storage.get<number>("replay:n")) ?? 0;
    if (count === 0) return;
    // Output that arrived since the wake-up goes after the saved screen.
    const since = this.replay.snapshot();
    this.replay = new ReplayBuffer();
    for (let i = 0; i < count; i++) {
      const piece = await this.storage.get<Uint8Array>(`replay:${i}`);
      if (piece) this.replay.push(piece);
    }
    if (since.byteLength > 0) this.replay.push(since);
  }
}
