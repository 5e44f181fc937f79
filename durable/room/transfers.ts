// File transfer through the room (docs/governance.md, protocol/file-transfer.ts): the session's own user asks, the
// connector does it over SFTP on its SSH connection, and the room forwards requests, answers and FILE frames between
// them, counting each transfer's bytes against FILE_WINDOW so no hop buffers more than a window. The room never reads
// a file's bytes; it audits each finished or refused transfer and witnesses it as a recording marker.
//
// One transfer at a time per session (a second is refused `busy`), and one listing beside it: a page that asks for
// more gets `busy`, and a listing the room did not ask for is dropped, so what a page can make the connector and the
// room hold is one of each. A moderated session's hold (no moderators watching, or a moderator's lock) holds files
// as it holds typing: requests are refused `input_held`, and a transfer under way is cancelled when the hold starts.
// A socket whose requests the room keeps refusing is closed after MAX_REFUSED_REQUESTS, and refusals stop being
// audited and marked after MAX_NOTED_REFUSALS per session, so one peer can neither flood the audit ledger nor use up
// the witness's markers.
import {
  type BrowserToRoom,
  type ConnectorToRoom,
  FILE_WINDOW,
  type FileRefused,
  type FileTransferRefusal,
  FrameError,
  type Frame,
  transferMarker,
} from "../../protocol/index.ts";
import type { RoomCore } from "./core.ts";
import type { Peer, PeerId } from "./types.ts";

type FileRequest = Extract<BrowserToRoom, { type: "ft_list" | "ft_upload" | "ft_download" | "ft_cancel" }>;
type FileAnswer = Extract<ConnectorToRoom, { type: "ft_listing" | "ft_ready" | "ft_done" | "ft_refused" }>;
type FileFrame = Extract<Frame, { kind: "file_data" | "file_credit" }>;

/** Requests of one socket the room may refuse before it closes the socket as misbehaving (the page asks for none). */
export const MAX_REFUSED_REQUESTS = 20;
/** Refusals of one session that are audited and marked; later ones are only told to the page. */
export const MAX_NOTED_REFUSALS = 100;

type Active = {
  id: number;
  direction: "upload" | "download";
  path: string;
  /** The connector said `ft_ready`: bytes may flow. */
  ready: boolean;
  /** Bytes the sender sent and the receiver has not credited back yet (at most FILE_WINDOW). */
  inFlight: number;
};

export class FileTransfers {
  /** The transfer under way (memory: a room evicted mid-transfer has lost its sockets too). */
  private active: Active | null = null;
  /** The last transfer that ended: frames of it still on the wire are dropped, not a violation. */
  private lastEnded = 0;
  /** The listing asked of the connector and not answered yet (its request id). */
  private listing: number | null = null;
  /** The transfer under way was cancelled by a moderation hold: the connector is told once. */
  private held = false;
  /** Requests the room refused, per socket. */
  private readonly refusedBy = new Map<PeerId, number>();
  /** Refusals audited and marked in this session (memory: bounded per activation). */
  private noted = 0;

  constructor(private readonly core: RoomCore) {}

  /** The user's page said hello: tell it what the policy allows (nothing is said when nothing is). */
  hello(user: PeerId): void {
    const allowed = this.core.meta?.fileTransfer;
    if (!allowed || this.core.desktop || !(allowed.upload || allowed.download)) return;
    this.core.send(user, { type: "ft_allowed", roots: [], ...allowed });
  }

  /** A request from a browser socket. Only the session's own user may transfer: a viewer is refused and audited. */
  request(peer: Exclude<Peer, { role: "connector" }>, msg: FileRequest, now: number): void {
    if (msg.type === "ft_cancel") {
      const connector = this.core.liveConnector();
      if (peer.role === "user" && this.active?.id === msg.id && connector) this.core.send(connector.id, msg);
      return;
    }
    const direction = msg.type === "ft_upload" ? "upload" : msg.type === "ft_download" ? "download" : "list";
    const refuse = (reason: FileTransferRefusal, message: string) => {
      const count = (this.refusedBy.get(peer.id) ?? 0) + 1;
      this.refusedBy.set(peer.id, count);
      if (count > MAX_REFUSED_REQUESTS) {
        this.violation(peer, `${count} file requests refused`);
        return;
      }
      this.refused(peer.id, { type: "ft_refused", id: msg.id, direction, path: msg.path, reason, message }, now, true);
    };
    if (peer.role !== "user") {
      refuse("not_permitted", "Only the session's own user may transfer files.");
      return;
    }
    const allowed = this.core.meta?.fileTransfer;
    if (direction === "upload" && !allowed?.upload) {
      refuse("upload_off", "Uploads are off for this session.");
      return;
    }
    if (direction === "download" && !allowed?.download) {
      refuse("download_off", "Downloads are off for this session.");
      return;
    }
    if (direction === "list" && !(allowed?.upload || allowed?.download)) {
      refuse("download_off", "File transfer is off for this session.");
      return;
    }
    if (!this.core.moderation.inputOpen(now)) {
      refuse("input_held", "Files wait, as typing does, until the session's moderators watch and input is not locked.");
      return;
    }
    const connector = this.core.liveConnector();
    if (!connector) {
      refuse("target_error", "The session is not connected to the server.");
      return;
    }
    if (direction === "list") {
      if (this.listing !== null) {
        refuse("busy", "A folder is being listed; wait for it.");
        return;
      }
      this.listing = msg.id;
    } else {
      if (this.active) {
        refuse("busy", "Another transfer is under way; wait for it or cancel it.");
        return;
      }
      this.active = { id: msg.id, direction, path: msg.path, ready: false, inFlight: 0 };
      this.held = false;
    }
    this.core.send(connector.id, msg);
  }

  /**
   * A moderation hold began (no longer enough moderators, or a lock): the transfer under way is cancelled, as the
   * user's own cancel would (the connector answers `cancelled`, which ends it), and its bytes stop here meanwhile.
   */
  hold(): void {
    const connector = this.core.liveConnector();
    if (!this.active || this.held || !connector) return;
    this.held = true;
    this.core.send(connector.id, { type: "ft_cancel", id: this.active.id });
  }

  /** An answer from the connector: passed on to the user; an outcome is audited and marked. */
  answer(msg: FileAnswer, now: number): void {
    const user = this.core.browser();
    switch (msg.type) {
      case "ft_listing":
        // Only the listing the room asked for goes to the page (one at a time).
        if (msg.id !== this.listing) return;
        this.listing = null;
        break;
      case "ft_ready":
        // A transfer the room already ended (its user left, its data socket was replaced): the user hears nothing.
        if (this.active?.id !== msg.id) return;
        this.active.ready = true;
        break;
      case "ft_done": {
        // Done is audited even when the room had given up on it: the file did move.
        const current = this.active?.id === msg.id;
        if (current) this.ended();
        // The connector wrote its own marker into the recording; the room witnesses it.
        this.core.mark(transferMarker(msg), now, false);
        this.audit("session.file_transfer", {
          direction: msg.direction,
          path: msg.path,
          size: msg.size,
          sha256: msg.sha256,
        });
        if (!current) return;
        break;
      }
      case "ft_refused":
        if (msg.direction === "list") {
          if (msg.id !== this.listing) return;
          this.listing = null;
        } else if (this.active?.id === msg.id) this.ended();
        if (user) this.refused(user.id, msg, now, false);
        else if (msg.direction !== "list") this.refused(null, msg, now, false);
        return;
    }
    if (user) this.core.send(user.id, msg);
  }

  /** A FILE frame from a browser: only the user's, for the transfer under way, within the window. */
  userFrame(peer: Exclude<Peer, { role: "connector" }>, frame: FileFrame, message: ArrayBuffer, now: number): void {
    if (peer.role !== "user") {
      this.violation(peer, "file frame from a viewer");
      return;
    }
    const active = this.active;
    if (!active || active.id !== frame.id || !active.ready) {
      if (frame.id === this.lastEnded) return; // sent before the page heard that it ended
      this.violation(peer, `file frame for transfer ${frame.id}, not under way`);
      return;
    }
    if (frame.kind === "file_data") {
      if (active.direction !== "upload") {
        this.violation(peer, "file data for a download");
        return;
      }
      active.inFlight += frame.payload.byteLength;
      if (active.inFlight > FILE_WINDOW) {
        this.violation(peer, `file data past the window (${active.inFlight} bytes in flight)`);
        return;
      }
      // Held (the page has not heard yet): the bytes stop here and the transfer is cancelled.
      if (this.held || !this.core.moderation.inputOpen(now)) {
        this.hold();
        return;
      }
    } else {
      if (active.direction !== "download") {
        this.violation(peer, "file credit for an upload");
        return;
      }
      if (frame.bytes > active.inFlight) {
        this.violation(peer, `file credit of ${frame.bytes} bytes past what was sent`);
        return;
      }
      active.inFlight -= frame.bytes;
    }
    const connector = this.core.liveConnector();
    if (connector) this.core.emit({ do: "frame", to: connector.id, frame: message });
  }

  /** A FILE frame from the connector: a download's bytes or an upload's credit, passed on to the user. */
  connectorFrame(frame: FileFrame, message: ArrayBuffer): void {
    const active = this.active;
    // Frames of a transfer the room already ended (the user left, it was cancelled) are dropped.
    if (!active || active.id !== frame.id) return;
    if (frame.kind === "file_data") {
      if (active.direction !== "download" || !active.ready) throw new FrameError("file data out of turn");
      active.inFlight += frame.payload.byteLength;
      if (active.inFlight > FILE_WINDOW) throw new FrameError("connector sent file data past the window");
    } else {
      if (active.direction !== "upload" || frame.bytes > active.inFlight)
        throw new FrameError("connector credited file bytes never sent");
      active.inFlight -= frame.bytes;
    }
    const user = this.core.browser();
    if (user) this.core.emit({ do: "frame", to: user.id, frame: message });
  }

  /** A socket went away: the user's cancels the transfer; the connector's ends it as failed. */
  gone(role: Peer["role"], now: number): void {
    // A listing's answer would go to a page that did not ask for it, or never come.
    if (role === "user" || role === "connector") this.listing = null;
    const active = this.active;
    if (!active) return;
    if (role === "user") {
      const connector = this.core.liveConnector();
      if (connector) this.core.send(connector.id, { type: "ft_cancel", id: active.id });
      return;
    }
    if (role !== "connector") return;
    this.ended();
    const msg: FileRefused = {
      type: "ft_refused",
      id: active.id,
      direction: active.direction,
      path: active.path,
      reason: "target_error",
      message: "The connection to the server was lost.",
    };
    this.refused(this.core.browser()?.id ?? null, msg, now, true);
  }

  /** A browser broke the file protocol: its socket closes (audited), and a user's transfer is cancelled. */
  private violation(peer: Exclude<Peer, { role: "connector" }>, detail: string): void {
    this.core.relay.violation(peer.id, detail);
    if (peer.role === "user") this.gone("user", 0);
  }

  private ended(): void {
    this.lastEnded = this.active?.id ?? 0;
    this.active = null;
  }

  /**
   * Tells `to` why; a refused upload or download (not a listing) is audited and marked. `roomDecided`: the room
   * refused it, so the marker goes to the connector's recording too.
   */
  private refused(to: PeerId | null, msg: FileRefused, now: number, roomDecided: boolean): void {
    if (to) this.core.send(to, msg);
    if (msg.direction === "list" || this.noted >= MAX_NOTED_REFUSALS) return;
    this.noted++;
    const outcome = { direction: msg.direction, path: msg.path, reason: msg.reason };
    this.core.mark(transferMarker(outcome), now, roomDecided);
    const peer = to ? this.core.peers.get(to) : undefined;
    this.audit(
      "session.file_transfer_refused",
      { ...outcome, message: msg.message },
      peer?.role === "viewer" ? { id: peer.userId, name: peer.username } : undefined,
    );
  }

  private audit(
    action: "session.file_transfer" | "session.file_transfer_refused",
    data: Record<string, unknown>,
    actor?: { id: string; name: string },
  ): void {
    const meta = this.core.meta!;
    this.core.auditSession(actor ?? { id: meta.userId, name: meta.username }, action, data);
  }
}
