// Audited file transfer over the session's own SSH connection (SFTP, docs/governance.md): an upload streams
// chunks pulled from the caller into a partial file and renames it into place; a download hands out chunks as
// the caller pulls them. Both hash as they go, stop at the policy's size, keep at most a window of bytes in
// flight, and end with the record the audit and the recording's marker carry: {direction, path, size, sha256}.
import { createHash, randomBytes } from "node:crypto";
import { posix } from "node:path";
import {
  type FileTransferPolicy,
  type FileTransferRefusal,
  type ListingEntry,
  MAX_LISTING_ENTRIES,
  MAX_LISTING_NAME,
} from "../../protocol/index.ts";
import {
  checkRequestedPath,
  checkResolvedPath,
  type PathVerdict,
  policyRoots,
  type Roots,
  withResolvedRoots,
} from "./policy.ts";
import { RemoteError, type RemoteFiles } from "./remote.ts";

/** One SFTP read or write request carries at most 64 KiB (OpenSSH's sftp-server takes up to 255 KiB). */
export const TRANSFER_PIECE_BYTES = 64 * 1024;
/**
 * At most 2 MiB requested from or sent to the target and not yet answered, per transfer. This bounds what
 * ssh2 buffers for it (a write waiting for channel window sits in ssh2's queue) and what a download reads
 * ahead of its consumer: a consumer that stops pulling stops the reads, so a 1 GB file costs 2 MiB.
 */
export const TRANSFER_WINDOW_BYTES = 2 * 1024 * 1024;

/** What a finished transfer reports: `path` is the file's real path on the target (symbolic links resolved). */
export type TransferResult = { direction: "upload" | "download"; path: string; size: number; sha256: string };

/**
 * A transfer refused by the policy or failed on the target. The message is for the user and built here from
 * paths and the policy, never from the server's text or a credential. `leftover`: a partial upload that could
 * not be removed because the connection was lost (its name is never the final one).
 */
export class TransferRefused extends Error {
  override name = "TransferRefused";
  constructor(
    readonly reason: FileTransferRefusal,
    message: string,
    readonly leftover?: string,
  ) {
    super(message);
  }
}

export type TransferOptions = {
  /** Aborting ends the transfer: an upload's partial file is removed, a download's handle closed. */
  signal?: AbortSignal;
  windowBytes?: number;
  pieceBytes?: number;
  /** After each change: bytes done (written and acknowledged, or handed out) and bytes in flight. */
  onProgress?: (progress: { done: number; inFlight: number }) => void;
};

/**
 * Uploads what `source` yields to `requestedPath`. Chunks are pulled only while fewer than the window's bytes
 * are in flight, so a source that can wait (a socket paused by credit) is never read ahead. The bytes go to
 * `.<name>.psm-partial-<random>` beside the final name, created exclusively, and are renamed over the final
 * name only when all were written and the file closed: the final name never holds a partial file.
 * `declaredSize` only refuses early; the limit is enforced on the bytes as they stream.
 */
export async function upload(
  remote: RemoteFiles,
  policy: FileTransferPolicy,
  requestedPath: string,
  source: AsyncIterable<Uint8Array>,
  options: TransferOptions & { declaredSize?: number } = {},
): Promise<TransferResult> {
  const requested = accept(checkRequestedPath(policy, "upload", requestedPath));
  if (options.declaredSize !== undefined && options.declaredSize > policy.maxBytes) throw tooLarge(policy);
  const { signal } = options;
  signal?.throwIfAborted();
  const roots = await resolveRoots(remote, policyRoots(policy));
  const { dest, mode } = await uploadDestination(remote, roots, requested).catch((err) => {
    throw targetRefusal(err, "reach", requested);
  });
  signal?.throwIfAborted();
  const partial = posix.join(posix.dirname(dest), partialName(posix.basename(dest)));
  // Not raced with the signal: an open that completed after we stopped waiting would leave a file behind.
  const handle = await remote.open(partial, "exclusive", mode).catch((err) => {
    throw targetRefusal(err, "create a file in", posix.dirname(dest));
  });

  const window = options.windowBytes ?? TRANSFER_WINDOW_BYTES;
  const piece = Math.min(options.pieceBytes ?? TRANSFER_PIECE_BYTES, window);
  const abort = abortRace(signal);
  const hash = createHash("sha256");
  const writes = new Set<Promise<void>>();
  let size = 0;
  let done = 0;
  let inFlight = 0;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let open = true;
  const progress = () => options.onProgress?.({ done, inFlight });
  const submit = (data: Buffer, position: number) => {
    inFlight += data.length;
    const write: Promise<void> = remote
      .write(handle, data, position)
      .then(
        () => {
          done += data.length;
        },
        (err) => {
          failure ??= err;
        },
      )
      .finally(() => {
        inFlight -= data.length;
        writes.delete(write);
        wake?.();
        progress();
      });
    writes.add(write);
    progress();
  };
  const room = async (bytes: number) => {
    while (inFlight + bytes > window && failure === undefined)
      await abort.race(
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
      );
    if (failure !== undefined) throw failure;
  };

  const chunks = source[Symbol.asyncIterator]();
  let drained = false;
  try {
    for (;;) {
      const next = await abort.race(chunks.next());
      if (next.done) {
        drained = true;
        break;
      }
      const chunk = next.value;
      if (size + chunk.byteLength > policy.maxBytes) throw tooLarge(policy);
      hash.update(chunk);
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let at = 0; at < bytes.length; at += piece) {
        const part = bytes.subarray(at, at + piece);
        await room(part.length);
        submit(part, size + at);
      }
      size += bytes.length;
    }
    await abort.race(Promise.all(writes));
    if (failure !== undefined) throw failure;
    open = false;
    await remote.close(handle);
    signal?.throwIfAborted();
    // From here on the file is complete; once renamed, an abort no longer undoes it.
    await remote.replace(partial, dest);
    return { direction: "upload", path: dest, size, sha256: hash.digest("hex") };
  } catch (err) {
    if (!drained) Promise.resolve(chunks.return?.()).catch(() => {});
    // Every write settles (answered, or failed when the channel ends), so this wait is bounded.
    await Promise.allSettled(writes);
    if (open) await remote.close(handle).catch(() => {});
    const removed = await remote.unlink(partial).then(
      () => true,
      () => false,
    );
    const leftover = removed ? undefined : partial;
    if (err instanceof RemoteError) throw targetRefusal(err, "write", dest, leftover);
    if (err instanceof TransferRefused && leftover) throw new TransferRefused(err.reason, err.message, leftover);
    throw err;
  } finally {
    abort.dispose();
  }
}

/**
 * Opens `requestedPath` for download once the policy and the target agree: its real path is inside an allowed
 * root and no denied one, and it is a regular file within the size limit. Read it by iterating the result.
 */
export async function openDownload(
  remote: RemoteFiles,
  policy: FileTransferPolicy,
  requestedPath: string,
  options: TransferOptions = {},
): Promise<Download> {
  const requested = accept(checkRequestedPath(policy, "download", requestedPath));
  options.signal?.throwIfAborted();
  const { path, stats } = await resolveExisting(remote, policy, requested);
  // Checked before opening: opening a FIFO would block the target's sftp-server.
  if (!stats.isFile()) throw new TransferRefused("not_a_file", `${requested} is not a regular file`);
  if (stats.size > policy.maxBytes) throw tooLarge(policy);
  const handle = await remote.open(path, "read").catch((err) => {
    throw targetRefusal(err, "open", requested);
  });
  try {
    // What was opened, which a rename between the stat and the open may have changed.
    const opened = await remote.fstat(handle);
    if (!opened.isFile()) throw new TransferRefused("not_a_file", `${requested} is not a regular file`);
    if (opened.size > policy.maxBytes) throw tooLarge(policy);
    return new Download(remote, handle, path, opened.size, policy.maxBytes, options);
  } catch (err) {
    await remote.close(handle).catch(() => {});
    throw err instanceof RemoteError ? targetRefusal(err, "open", requested) : err;
  }
}

/**
 * An open download: iterate it once for its chunks, then read `result`. Reads run ahead of the consumer by at
 * most the window; a consumer that stops pulling stops them. Breaking out of the loop, an abort or an error
 * closes the file; a download never iterated must be `close`d.
 */
export class Download implements AsyncIterable<Uint8Array> {
  /** Set once every byte was handed out. */
  result: TransferResult | undefined;
  private started = false;
  private closed = false;

  constructor(
    private readonly remote: RemoteFiles,
    private readonly handle: Buffer,
    /** The real path being read. */
    readonly path: string,
    /** The size the target reported when the file was opened; the bytes read decide the result's size. */
    readonly size: number,
    private readonly maxBytes: number,
    private readonly options: TransferOptions,
  ) {}

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.remote.close(this.handle).catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.started || this.closed) throw new Error("a download is read once");
    this.started = true;
    const { signal } = this.options;
    const window = this.options.windowBytes ?? TRANSFER_WINDOW_BYTES;
    const piece = Math.min(this.options.pieceBytes ?? TRANSFER_PIECE_BYTES, window);
    const abort = abortRace(signal);
    const hash = createHash("sha256");
    // Replies are caught as they come, so one that fails before its turn is not an unhandled rejection.
    type Reply = { data: Buffer } | { err: unknown };
    const queue: { position: number; length: number; reply: Promise<Reply> }[] = [];
    let next = 0;
    let done = 0;
    let inFlight = 0;
    const progress = () => this.options.onProgress?.({ done, inFlight });
    try {
      for (;;) {
        signal?.throwIfAborted();
        // Read up to the size seen at open; past it, one request at a time finds the end (or that the file grew).
        while (inFlight + piece <= window && (next < this.size || queue.length === 0)) {
          const length = next < this.size ? Math.min(piece, this.size - next) : piece;
          const reply = this.remote.read(this.handle, length, next).then(
            (data) => ({ data }),
            (err: unknown) => ({ err }),
          );
          queue.push({ position: next, length, reply });
          inFlight += length;
          next += length;
        }
        progress();
        const head = queue.shift()!;
        const reply = await abort.race(head.reply);
        inFlight -= head.length;
        if ("err" in reply) throw reply.err;
        const data = reply.data;
        if (data.length === 0) break;
        if (data.length < head.length) {
          // A short read: the requests queued after it start past bytes not read yet. Drop them, read on from here.
          await Promise.all(queue.map((q) => q.reply));
          queue.length = 0;
          inFlight = 0;
          next = head.position + data.length;
        }
        if (done + data.length > this.maxBytes) throw tooLargeBytes(this.maxBytes);
        done += data.length;
        hash.update(data);
        progress();
        yield data;
      }
      await this.close();
      this.result = { direction: "download", path: this.path, size: done, sha256: hash.digest("hex") };
    } catch (err) {
      throw err instanceof RemoteError ? targetRefusal(err, "read", this.path) : err;
    } finally {
      abort.dispose();
      await this.close();
    }
  }
}

/**
 * An existing path the policy allows, resolved on the target (symlinks followed) and checked again under the roots
 * as resolved, with what it is. A path that does not exist or cannot be read is the target's refusal.
 */
async function resolveExisting(remote: RemoteFiles, policy: FileTransferPolicy, requested: string) {
  const roots = await resolveRoots(remote, policyRoots(policy));
  const real = await remote.realpath(requested).catch((err) => {
    throw targetRefusal(err, "find", requested);
  });
  const path = accept(checkResolvedPath(roots, requested, real));
  const stats = await remote.stat(path).catch((err) => {
    throw targetRefusal(err, "find", requested);
  });
  return { path, stats };
}

/**
 * A folder's entries, for the page to browse (at most MAX_LISTING_ENTRIES; `truncated` says more were left out).
 * The folder is checked like a download's file, under whichever direction is on: named inside an allowed root and
 * outside the denied ones, and so again where it really leads. Names with `/` or NUL, or too long, are left out.
 */
export async function listFolder(
  remote: RemoteFiles,
  policy: FileTransferPolicy,
  requestedPath: string,
): Promise<{ path: string; entries: ListingEntry[]; truncated: boolean }> {
  const requested = accept(checkRequestedPath(policy, policy.download ? "download" : "upload", requestedPath));
  const { path, stats } = await resolveExisting(remote, policy, requested);
  if (!stats.isDirectory()) throw new TransferRefused("not_found", `${requested} is not a folder`);
  const handle = await remote.opendir(path).catch((err) => {
    throw targetRefusal(err, "list", requested);
  });
  const entries: ListingEntry[] = [];
  let truncated = false;
  try {
    for (;;) {
      const batch = await remote.readdir(handle);
      if (batch === null) break;
      for (const entry of batch) {
        const name = entry.filename;
        if (name === "." || name === ".." || name.includes("/") || name.includes("\0")) continue;
        if (name.length > MAX_LISTING_NAME) continue;
        if (entries.length === MAX_LISTING_ENTRIES) {
          truncated = true;
          break;
        }
        const a = entry.attrs;
        const type = a.mode & 0o170000;
        entries.push({
          name,
          kind: type === 0o100000 ? "file" : type === 0o040000 ? "dir" : type === 0o120000 ? "link" : "other",
          size: Math.max(0, a.size ?? 0),
          mtime: a.mtime ?? 0,
        });
      }
      // A folder of a million names costs MAX_LISTING_ENTRIES: reading stops here.
      if (truncated) break;
    }
  } catch (err) {
    throw targetRefusal(err, "list", requested);
  } finally {
    await remote.close(handle).catch(() => {});
  }
  entries.sort((a, b) =>
    (a.kind === "dir") !== (b.kind === "dir") ? (a.kind === "dir" ? -1 : 1) : a.name < b.name ? -1 : 1,
  );
  return { path, entries, truncated };
}

/** Where an upload lands: the real path of an existing regular file, or the real directory plus the name. */
async function uploadDestination(
  remote: RemoteFiles,
  roots: Roots,
  requested: string,
): Promise<{ dest: string; mode: number }> {
  const real = await remote.realpath(requested).catch(absentAsUndefined);
  if (real !== undefined) {
    const dest = accept(checkResolvedPath(roots, requested, real));
    const stats = await remote.stat(dest).catch(absentAsUndefined);
    if (stats !== undefined) {
      if (!stats.isFile()) throw new TransferRefused("not_a_file", `${requested} exists and is not a regular file`);
      // A replaced file keeps its permission bits (never set-id or sticky bits).
      return { dest, mode: stats.mode & 0o777 };
    }
  }
  const folder = posix.dirname(requested);
  const parent = await remote.realpath(folder).catch((err) => {
    throw targetRefusal(err, "find", folder);
  });
  accept(checkResolvedPath(roots, requested, parent));
  const dest = accept(checkResolvedPath(roots, requested, posix.join(parent, posix.basename(requested))));
  const stats = await remote.stat(parent).catch((err) => {
    throw targetRefusal(err, "find", folder);
  });
  if (!stats.isDirectory()) throw new TransferRefused("not_found", `${folder} is not a folder`);
  return { dest, mode: 0o644 };
}

/** The policy's roots and, for those that exist on the target, their real paths. */
async function resolveRoots(remote: RemoteFiles, roots: Roots): Promise<Roots> {
  const resolved = new Map<string, string>();
  await Promise.all(
    [...roots.allow, ...roots.deny].map((root) =>
      remote.realpath(root).then(
        (real) => resolved.set(root, real),
        () => {},
      ),
    ),
  );
  return withResolvedRoots(roots, resolved);
}

/** `.<name>.psm-partial-<12 hex>`; the name is cut to 48 characters so the whole stays under NAME_MAX (255 bytes). */
export function partialName(name: string): string {
  return `.${Array.from(name).slice(0, 48).join("")}.psm-partial-${randomBytes(6).toString("hex")}`;
}

function accept(verdict: PathVerdict): string {
  if (!verdict.ok) throw new TransferRefused(verdict.reason, verdict.message);
  return verdict.path;
}

function absentAsUndefined(err: unknown): undefined {
  if (err instanceof RemoteError && err.problem === "no_such_file") return undefined;
  throw err;
}

function tooLarge(policy: FileTransferPolicy): TransferRefused {
  return tooLargeBytes(policy.maxBytes);
}

function tooLargeBytes(maxBytes: number): TransferRefused {
  return new TransferRefused("too_large", `the file is larger than this session's limit of ${maxBytes} bytes`);
}

/** A failed SFTP call as a refusal, worded here: `action` and `path` say what was being done. */
function targetRefusal(err: unknown, action: string, path: string, leftover?: string): unknown {
  if (!(err instanceof RemoteError)) return err;
  switch (err.problem) {
    case "no_such_file":
      return new TransferRefused("not_found", `${path} does not exist on the target`, leftover);
    case "permission_denied":
      return new TransferRefused("target_error", `the target account may not ${action} ${path}`, leftover);
    case "lost":
      return new TransferRefused("target_error", "the connection to the target was lost", leftover);
    default:
      return new TransferRefused("target_error", `the target could not ${action} ${path}`, leftover);
  }
}

/** Races waits against an abort signal; `dispose` stops listening. */
function abortRace(signal: AbortSignal | undefined) {
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason);
  });
  aborted.catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) onAbort();
  return {
    race: <T>(promise: Promise<T>): Promise<T> => (signal ? Promise.race([promise, aborted]) : promise),
    dispose: () => signal?.removeEventListener("abort", onAbort),
  };
}
