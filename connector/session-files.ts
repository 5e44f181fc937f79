// File transfer for one SSH session (docs/governance.md): the room's requests carried out with connector/sftp on
// the session's own ssh2 connection (one SFTP channel, opened on the first request), under the grant's policy.
// Upload bytes arrive as FILE_DATA within the window this side credits; download bytes leave only against the
// page's credit. One transfer at a time; each ends with `ft_done` (the record) or `ft_refused` (why), and a marker
// in the recording.
import type { Client } from "ssh2";
import {
  type ConnectorToRoom,
  encodeFileCredit,
  encodeFileData,
  FILE_WINDOW,
  type FileTransferPolicy,
  type FileTransferRefusal,
  MAX_FILE_PAYLOAD,
  type RoomToConnector,
  transferMarker,
} from "../protocol/index.ts";
import { openSftp, RemoteFiles } from "./sftp/remote.ts";
import { listFolder, openDownload, TransferRefused, type TransferResult, upload } from "./sftp/transfer.ts";

type FileRequest = Extract<RoomToConnector, { type: "ft_list" | "ft_upload" | "ft_download" | "ft_cancel" }>;

export type FilesPeer = {
  send: (msg: ConnectorToRoom) => void;
  /** Sends a binary frame to the room; false when the data socket is not open. */
  sendFrame: (frame: Uint8Array) => boolean;
  /** Writes a marker into the session's recording (when recorded). */
  marker: (label: string) => void;
  log: (event: string, fields: Record<string, unknown>) => void;
};

class Cancelled extends Error {
  override name = "Cancelled";
}

/**
 * An upload's bytes between the socket and SFTP: at most FILE_WINDOW bytes (the room enforces the window on the
 * page; a room that did not is caught here too). Each chunk SFTP pulls is credited back to the page.
 */
class UploadSource implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private held = 0;
  received = 0;
  private finished = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private first = true;

  constructor(
    readonly size: number,
    private readonly onFirstPull: () => void,
    private readonly onPulled: (bytes: number) => void,
  ) {
    if (size === 0) this.finished = true;
  }

  /** Bytes from the page; refused past the window or the declared size. */
  push(chunk: Uint8Array): string | null {
    if (this.finished) return "more bytes than the declared size";
    if (this.held + chunk.byteLength > FILE_WINDOW) return "bytes past the window";
    if (this.received + chunk.byteLength > this.size) return "more bytes than the declared size";
    this.chunks.push(chunk);
    this.held += chunk.byteLength;
    this.received += chunk.byteLength;
    if (this.received === this.size) this.finished = true;
    this.poke();
    return null;
  }

  fail(err: Error): void {
    this.failure = err;
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      // The first pull comes once the policy and the target accepted the upload: the page may send now.
      if (this.first) {
        this.first = false;
        this.onFirstPull();
      }
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.held -= chunk.byteLength;
        this.onPulled(chunk.byteLength);
        yield chunk;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

type Current =
  | { id: number; direction: "upload"; abort: AbortController; source: UploadSource }
  | { id: number; direction: "download"; abort: AbortController; inFlight: number; wake: (() => void) | null };

export class SessionFiles {
  private remote?: Promise<RemoteFiles>;
  private current: Current | null = null;
  /** A listing is under way. */
  private listing = false;

  constructor(
    private readonly ssh: () => Client | undefined,
    private readonly policy: FileTransferPolicy | undefined,
    private readonly peer: FilesPeer,
  ) {}

  request(msg: FileRequest): void {
    if (msg.type === "ft_cancel") {
      if (this.current?.id === msg.id) this.cancel(new Cancelled("the transfer was cancelled"));
      return;
    }
    const direction = msg.type === "ft_upload" ? "upload" : msg.type === "ft_download" ? "download" : "list";
    const refuse = (reason: FileTransferRefusal, message: string) =>
      this.peer.send({ type: "ft_refused", id: msg.id, direction, path: msg.path, reason, message });
    const policy = this.policy;
    if (!policy || !(policy.upload || policy.download)) {
      refuse(direction === "upload" ? "upload_off" : "download_off", "file transfer is off for this session");
      return;
    }
    if (msg.type === "ft_list") {
      // One listing at a time (the room asks for no more): a peer cannot make this connector run SFTP readdirs
      // and hold their answers without bound.
      if (this.listing) {
        refuse("busy", "a folder is being listed");
        return;
      }
      this.listing = true;
      this.files()
        .then((remote) => listFolder(remote, policy, msg.path))
        .then(
          (listing) => this.peer.send({ type: "ft_listing", id: msg.id, ...listing }),
          (err: unknown) => this.refused(msg.id, "list", msg.path, err),
        )
        .finally(() => {
          this.listing = false;
        });
      return;
    }
    if (this.current) {
      refuse("busy", "another transfer is under way");
      return;
    }
    const abort = new AbortController();
    if (msg.type === "ft_upload") {
      const source = new UploadSource(
        msg.size,
        () => this.peer.send({ type: "ft_ready", id: msg.id }),
        (bytes) => this.peer.sendFrame(encodeFileCredit(msg.id, bytes)),
      );
      this.current = { id: msg.id, direction: "upload", abort, source };
      this.files()
        .then((remote) => upload(remote, policy, msg.path, source, { declaredSize: msg.size, signal: abort.signal }))
        .then(
          (result) => this.done(msg.id, result),
          (err: unknown) => this.refused(msg.id, "upload", msg.path, err),
        );
      return;
    }
    const current: Current = { id: msg.id, direction: "download", abort, inFlight: 0, wake: null };
    this.current = current;
    this.download(current, policy, msg.path).then(
      (result) => this.done(msg.id, result),
      (err: unknown) => this.refused(msg.id, "download", msg.path, err),
    );
  }

  /** FILE_DATA (an upload's bytes) or FILE_CREDIT (the page took a download's bytes) from the room. */
  frame(
    frame: { kind: "file_data"; id: number; payload: Uint8Array } | { kind: "file_credit"; id: number; bytes: number },
  ): void {
    const current = this.current;
    if (!current || current.id !== frame.id) return; // a transfer that just ended: frames still on the wire
    if (frame.kind === "file_data") {
      if (current.direction !== "upload") {
        this.cancel(new Cancelled("file data for a download"));
        return;
      }
      // Copied: ws hands out views of its receive buffer.
      const problem = current.source.push(Uint8Array.from(frame.payload));
      if (problem) this.cancel(new Cancelled(`the page sent ${problem}`));
      return;
    }
    if (current.direction !== "download" || frame.bytes > current.inFlight) {
      this.cancel(new Cancelled("credit for bytes never sent"));
      return;
    }
    current.inFlight -= frame.bytes;
    const wake = current.wake;
    current.wake = null;
    wake?.();
  }

  /** The data socket dropped: the room has told the page the transfer failed, so it stops here too. */
  stop(): void {
    this.cancel(new Cancelled("the connection to the edge was lost"));
  }

  /** The session is gone: whatever runs is aborted (a partial upload is removed while the channel lasts). */
  dispose(): void {
    this.cancel(new Cancelled("the session ended"));
    this.remote?.then((r) => r.dispose()).catch(() => {});
  }

  private cancel(reason: Error): void {
    const current = this.current;
    if (!current) return;
    current.abort.abort(reason);
    if (current.direction === "upload") current.source.fail(reason);
    else {
      const wake = current.wake;
      current.wake = null;
      wake?.();
    }
  }

  /** The session's one SFTP channel, opened on first use. */
  private files(): Promise<RemoteFiles> {
    if (!this.remote) {
      const ssh = this.ssh();
      this.remote = ssh
        ? openSftp(ssh).then((sftp) => new RemoteFiles(sftp))
        : Promise.reject(new TransferRefused("target_error", "the session is not connected to the target"));
      // A failed open is tried again by the next request.
      this.remote.catch(() => {
        this.remote = undefined;
      });
    }
    return this.remote;
  }

  /** Reads the file as the page credits it: at most FILE_WINDOW bytes sent and not yet credited. */
  private async download(
    current: Extract<Current, { direction: "download" }>,
    policy: FileTransferPolicy,
    path: string,
  ): Promise<TransferResult> {
    const remote = await this.files();
    const { signal } = current.abort;
    const dl = await openDownload(remote, policy, path, { signal });
    this.peer.send({ type: "ft_ready", id: current.id, size: dl.size });
    for await (const chunk of dl) {
      for (let at = 0; at < chunk.byteLength; at += MAX_FILE_PAYLOAD) {
        const piece = chunk.subarray(at, at + MAX_FILE_PAYLOAD);
        while (current.inFlight + piece.byteLength > FILE_WINDOW) {
          signal.throwIfAborted();
          await new Promise<void>((resolve) => {
            current.wake = resolve;
          });
        }
        signal.throwIfAborted();
        if (!this.peer.sendFrame(encodeFileData(current.id, piece))) throw new Cancelled("the data socket is down");
        current.inFlight += piece.byteLength;
      }
    }
    if (!dl.result) throw new TransferRefused("target_error", "the download ended early");
    return dl.result;
  }

  private done(id: number, result: TransferResult): void {
    if (this.current?.id === id) this.current = null;
    this.peer.marker(transferMarker(result));
    this.peer.log("session.file_transfer", { id, direction: result.direction, size: result.size });
    this.peer.send({ type: "ft_done", id, ...result });
  }

  private refused(id: number, direction: "upload" | "download" | "list", path: string, err: unknown): void {
    if (direction !== "list" && this.current?.id === id) this.current = null;
    const aborted = err instanceof Cancelled || (err as Error | null)?.name === "AbortError";
    const reason: FileTransferRefusal =
      err instanceof TransferRefused ? err.reason : aborted ? "cancelled" : "target_error";
    // Our own words only: a refusal's message is built from the request and the policy, never the target's text.
    const message =
      err instanceof TransferRefused || err instanceof Cancelled
        ? err.message
        : aborted
          ? "cancelled"
          : "the transfer failed";
    if (!(err instanceof TransferRefused) && !aborted)
      this.peer.log("session.file_transfer_error", { id, direction, error: (err as Error | null)?.name ?? "unknown" });
    if (direction !== "list") this.peer.marker(transferMarker({ direction, path, reason }));
    this.peer.send({
      type: "ft_refused",
      id,
      direction,
      path: path.slice(0, 4096),
      reason,
      message: message.slice(0, 300),
    });
  }
}
