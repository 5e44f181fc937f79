// The SFTP calls a transfer makes on the target, as promises that always settle: ssh2 leaves a request made after
// its channel died unanswered forever (it "sends" into the dead connection), so every call here also ends when
// the channel ends, and a call made after that fails at once.
import type { Client, FileEntryWithStats, SFTPWrapper, Stats } from "ssh2";

/** The part of ssh2's SFTPWrapper used here. */
export type SftpChannel = Pick<
  SFTPWrapper,
  | "open"
  | "close"
  | "read"
  | "write"
  | "fstat"
  | "stat"
  | "realpath"
  | "rename"
  | "unlink"
  | "ext_openssh_rename"
  | "opendir"
  | "readdir"
  | "once"
  | "off"
>;

/** What went wrong on the target, in our words: the server's own message text is never passed on. */
export type RemoteProblem = "no_such_file" | "permission_denied" | "failure" | "lost";

/** An SFTP call failed; `problem` says how. Its message is ours, never the server's. */
export class RemoteError extends Error {
  override name = "RemoteError";
  constructor(
    readonly problem: RemoteProblem,
    readonly operation: string,
  ) {
    super(`${operation}: ${problem}`);
  }
}

// SSH_FX_* status codes (draft-ietf-secsh-filexfer-02, section 7); ssh2 puts them on the error's `code`.
const SSH_FX_NO_SUCH_FILE = 2;
const SSH_FX_PERMISSION_DENIED = 3;

function problemOf(err: unknown): RemoteProblem {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === SSH_FX_NO_SUCH_FILE) return "no_such_file";
  if (code === SSH_FX_PERMISSION_DENIED) return "permission_denied";
  // ssh2 answers every request still waiting when the channel closes with a code-less "No response from server".
  if (typeof code !== "number") return "lost";
  return "failure";
}

/** Opens the SFTP subsystem on an already connected and authenticated ssh2 client (the session's own connection). */
export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => (err ? reject(new RemoteError("failure", "sftp")) : resolve(sftp)));
  });
}

export class RemoteFiles {
  private ended = false;
  /** Rejecters of the calls waiting for an answer: one per request in flight, so bounded by the caller's window. */
  private readonly waiting = new Set<(err: RemoteError) => void>();
  private readonly onEnd = () => {
    this.ended = true;
    for (const reject of this.waiting) reject(new RemoteError("lost", "channel"));
    this.waiting.clear();
  };

  /**
   * `posixRename: false` makes `replace` use plain SFTP rename even where the server offers
   * posix-rename@openssh.com: OpenSSH always offers it, so a test reaches the fallback only this way.
   */
  constructor(
    private readonly sftp: SftpChannel,
    private readonly options: { posixRename?: boolean } = {},
  ) {
    sftp.once("end", this.onEnd);
    sftp.once("close", this.onEnd);
  }

  /** The channel is gone: nothing more can be asked of the target through it. */
  get lost(): boolean {
    return this.ended;
  }

  /** Stops listening to the channel (it stays open: the session owns it). */
  dispose(): void {
    this.sftp.off("end", this.onEnd);
    this.sftp.off("close", this.onEnd);
  }

  realpath(path: string): Promise<string> {
    return this.call("realpath", (cb) => this.sftp.realpath(path, cb));
  }

  stat(path: string): Promise<Stats> {
    return this.call("stat", (cb) => this.sftp.stat(path, cb));
  }

  fstat(handle: Buffer): Promise<Stats> {
    return this.call("fstat", (cb) => this.sftp.fstat(handle, cb));
  }

  /** `exclusive`: create a new file (O_CREAT|O_EXCL, which never follows a symbolic link); else open for reading. */
  open(path: string, how: "read" | "exclusive", mode = 0o644): Promise<Buffer> {
    return this.call("open", (cb) =>
      how === "read" ? this.sftp.open(path, "r", cb) : this.sftp.open(path, "wx", { mode }, cb),
    );
  }

  close(handle: Buffer): Promise<void> {
    return this.call("close", (cb) => this.sftp.close(handle, (err) => cb(err, undefined)));
  }

  /** Reads up to `length` bytes at `position`; an empty buffer at the end of the file. */
  async read(handle: Buffer, length: number, position: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const bytes = await this.call<number>("read", (cb) =>
      this.sftp.read(handle, buffer, 0, length, position, (err, n) => cb(err, n)),
    );
    return buffer.subarray(0, bytes);
  }

  /** ssh2 copies `data` into its packet before returning, so the caller may reuse it at once. */
  write(handle: Buffer, data: Buffer, position: number): Promise<void> {
    return this.call("write", (cb) =>
      this.sftp.write(handle, data, 0, data.length, position, (err) => cb(err, undefined)),
    );
  }

  opendir(path: string): Promise<Buffer> {
    return this.call("opendir", (cb) => this.sftp.opendir(path, cb));
  }

  /** The next batch of a folder's entries (the server chooses how many); null at the end. */
  readdir(handle: Buffer): Promise<FileEntryWithStats[] | null> {
    return this.call("readdir", (cb) =>
      this.sftp.readdir(handle, (err, list) => {
        // The end of the folder comes as an EOF status (code 1), which is not a failure.
        if (err && (err as { code?: unknown }).code === 1) cb(undefined, null);
        else cb(err, err ? null : (list as FileEntryWithStats[]));
      }),
    );
  }

  unlink(path: string): Promise<void> {
    return this.call("unlink", (cb) => this.sftp.unlink(path, (err) => cb(err, undefined)));
  }

  /**
   * Moves `from` to `to`, replacing `to`: atomically with posix-rename@openssh.com (rename(2) on the target).
   * Without it, SFTP's own rename refuses an existing target, so `to` is removed first: a reader may then find
   * no file for a moment, but never a half-written one. Returns whether the replacement was atomic.
   */
  async replace(from: string, to: string): Promise<boolean> {
    if (this.options.posixRename !== false) {
      let supported = true;
      const done = this.call<void>("posix-rename", (cb) => {
        try {
          this.sftp.ext_openssh_rename(from, to, (err) => cb(err, undefined));
        } catch {
          // ssh2 throws at once when the server did not offer the extension.
          supported = false;
          cb(undefined, undefined);
        }
      });
      await done;
      if (supported) return true;
    }
    try {
      await this.call<void>("rename", (cb) => this.sftp.rename(from, to, (err) => cb(err, undefined)));
    } catch (err) {
      if (!(err instanceof RemoteError) || err.problem !== "failure") throw err;
      await this.unlink(to).catch(() => {});
      await this.call<void>("rename", (cb) => this.sftp.rename(from, to, (err) => cb(err, undefined)));
    }
    return false;
  }

  private call<T>(
    operation: string,
    start: (cb: (err: Error | undefined | null, value: T) => void) => void,
  ): Promise<T> {
    if (this.ended) return Promise.reject(new RemoteError("lost", operation));
    return new Promise<T>((resolve, reject) => {
      const fail = (err: RemoteError) => {
        this.waiting.delete(fail);
        reject(err);
      };
      this.waiting.add(fail);
      try {
        start((err, value) => {
          if (!this.waiting.delete(fail)) return; // already failed by the channel's end
          if (err) reject(new RemoteError(problemOf(err), operation));
          else resolve(value);
        });
      } catch {
        // ssh2 throws synchronously on a bad argument or a closed handle.
        fail(new RemoteError("failure", operation));
      }
    });
  }
}
