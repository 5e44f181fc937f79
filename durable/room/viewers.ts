// The room's live viewers (pure): a bounded lag per viewer measured by its credit, resync from the
// replay buffer for a viewer that fell behind or just joined, and the replay buffer itself, which the
// core saves to storage every few seconds while output flows so a late joiner still sees the current
// screen after the object was evicted from memory.
import { encodeData, encodeDataChunks } from "../../protocol/index.ts";
import { CreditAccount } from "../output-stream.ts";
import { ReplayBuffer } from "../replay.ts";
import { type Action, KEYS, type PeerId, replayKey } from "./types.ts";

/**
 * A viewer may fall this far behind (output sent, not yet credited back) before the room stops
 * sending to it; once it has caught up halfway it is resynchronised. The session never waits for a viewer.
 */
export const VIEWER_MAX_LAG = 1024 * 1024;

/** The replay buffer is saved at most this often while output flows: 5 s. */
export const SNAPSHOT_EVERY_MS = 5_000;

/** Saved in pieces of 64 KiB, well under the storage API's value size limit. */
const PIECE = 64 * 1024;
const RESET = new TextEncoder().encode("\x1bc");

export class Viewers {
  /** Recent output for late joiners and resyncs (terminal sessions only). */
  private readonly replay = new ReplayBuffer();
  /** The viewers that said hello, each with what it was sent and credited back: its lag. */
  private readonly accounts = new Map<PeerId, CreditAccount>();
  private readonly behind = new Set<PeerId>();
  /** Output arrived since the last save. */
  private dirty = false;

  constructor(
    /** A desktop: no terminal replay is kept (a Guacamole stream's tail cannot repaint a screen). */
    private readonly desktop: () => boolean,
    saved: Uint8Array | undefined,
    /** How many pieces the saved buffer was written in (stale ones are removed at the next save). */
    private savedPieces = 0,
  ) {
    if (saved && saved.byteLength > 0) this.replay.push(saved);
  }

  /** Who is watching, in join order. */
  list(): PeerId[] {
    return [...this.accounts.keys()];
  }

  get count(): number {
    return this.accounts.size;
  }

  /**
   * A viewer said hello (`fresh`: its account starts at zero), or was found attached after an eviction: its
   * account was lost with memory, so it may credit up to the most it can owe, VIEWER_MAX_LAG.
   */
  add(viewer: PeerId, fresh: boolean): void {
    this.accounts.set(viewer, new CreditAccount(true, fresh ? 0 : VIEWER_MAX_LAG));
  }

  gone(viewer: PeerId): void {
    this.accounts.delete(viewer);
    this.behind.delete(viewer);
  }

  /** Output from the session: into the replay buffer, and to every viewer that keeps up. */
  push(payload: Uint8Array, frame: ArrayBuffer | Uint8Array, out: Action[]): void {
    if (!this.desktop()) {
      this.replay.push(payload);
      this.dirty = true;
    }
    for (const [viewer, account] of this.accounts) {
      if (this.behind.has(viewer)) continue;
      if (account.outstanding + payload.byteLength > VIEWER_MAX_LAG) {
        this.behind.add(viewer);
        continue;
      }
      account.sentBytes(payload.byteLength);
      out.push({ do: "frame", to: viewer, frame });
    }
  }

  /** A frame for viewers only (a desktop's pointer position): not output, not counted. */
  pushAside(frame: Uint8Array, out: Action[]): void {
    for (const viewer of this.accounts.keys())
      if (!this.behind.has(viewer)) out.push({ do: "frame", to: viewer, frame });
  }

  /** Repaints a socket with the current screen: terminal reset, then recent output. Returns the bytes sent. */
  repaint(to: PeerId, withReset: boolean, out: Action[]): number {
    const snapshot = this.replay.snapshot();
    if (withReset) out.push({ do: "frame", to, frame: encodeData(RESET) });
    for (const frame of encodeDataChunks(snapshot)) out.push({ do: "frame", to, frame });
    return snapshot.byteLength + (withReset ? RESET.byteLength : 0);
  }

  /**
   * A viewer joined or caught up: a terminal viewer is repainted (its lag counts the repaint on top of what
   * it still owes); returns false for a desktop, whose repaint the core asks of the connector.
   */
  resync(viewer: PeerId, out: Action[]): boolean {
    this.behind.delete(viewer);
    const account = this.accounts.get(viewer);
    if (!account || this.desktop()) return false;
    account.sentBytes(this.repaint(viewer, true, out));
    return true;
  }

  /** A viewer returned credit: "refused" when it credits bytes it was never sent, "caught_up" to resync it. */
  credit(viewer: PeerId, bytes: number): "refused" | "caught_up" | "ok" {
    const account = this.accounts.get(viewer);
    if (!account) return "ok";
    if (!account.credit(bytes)) return "refused";
    return this.behind.has(viewer) && account.outstanding < VIEWER_MAX_LAG / 2 ? "caught_up" : "ok";
  }

  /** Writes the replay buffer to storage when output arrived since the last save. */
  save(out: Action[]): void {
    if (!this.dirty) return;
    this.dirty = false;
    const bytes = this.replay.snapshot();
    const entries: Record<string, unknown> = {};
    let count = 0;
    for (let at = 0; at < bytes.byteLength; at += PIECE, count++)
      entries[replayKey(count)] = bytes.slice(at, at + PIECE);
    entries[KEYS.replayCount] = count;
    out.push({ do: "save", entries });
    const stale: string[] = [];
    for (let i = count; i < this.savedPieces; i++) stale.push(replayKey(i));
    if (stale.length > 0) out.push({ do: "remove", keys: stale });
    this.savedPieces = count;
  }
}
