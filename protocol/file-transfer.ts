// File transfer over SFTP (docs/governance.md): a policy's file-transfer fields, their defaults (everything off),
// and the stable reasons a transfer is refused, which the connector reports and the audit and the page show.
import { z } from "zod";

/** A policy names at most 16 allowed and 16 denied roots, each at most 512 characters: they travel in the grant. */
export const MAX_FILE_TRANSFER_ROOTS = 16;
export const MAX_FILE_TRANSFER_ROOT = 512;
/** The largest size limit a policy may set: 64 GiB (a transfer streams; this only keeps the number sane). */
export const MAX_FILE_TRANSFER_BYTES = 64 * 1024 ** 3;

/**
 * An absolute POSIX directory on the target, such as `/srv/data`. No NUL, no `.` or `..` segment: a root is named
 * as it is, so what the admin reads is what is enforced (the connector still resolves it lexically and on the
 * target before comparing).
 */
export const FileTransferRoot = z
  .string()
  .min(1)
  .max(MAX_FILE_TRANSFER_ROOT)
  .refine((path) => path.startsWith("/"), "must be an absolute path")
  .refine((path) => !path.includes("\0"), "must not contain NUL")
  .refine((path) => !path.split("/").some((s) => s === "." || s === ".."), "must not contain . or .. segments");

export const FileTransferPolicy = z.strictObject({
  /** The user may upload files to the target. */
  upload: z.boolean().default(false),
  /** The user may download files from the target. */
  download: z.boolean().default(false),
  /** The largest file, in bytes, in either direction; enforced on the bytes as they stream, not on a stated size. */
  maxBytes: z
    .number()
    .int()
    .min(0)
    .max(MAX_FILE_TRANSFER_BYTES)
    .default(1024 ** 3),
  /**
   * Directory roots a transfer may touch, compared by path segments (`/srv/data2` is not inside `/srv/data`).
   * Empty: no path is allowed (name `/` to allow the whole file system the account can reach).
   */
  allowPaths: z.array(FileTransferRoot).max(MAX_FILE_TRANSFER_ROOTS).default([]),
  /** Roots refused even inside an allowed root (`/srv/data/secrets`). */
  denyPaths: z.array(FileTransferRoot).max(MAX_FILE_TRANSFER_ROOTS).default([]),
});
export type FileTransferPolicy = z.infer<typeof FileTransferPolicy>;

/** File transfer is off unless a policy turns it on: no direction, 1 GiB, no allowed root. */
export const DEFAULT_FILE_TRANSFER_POLICY: FileTransferPolicy = FileTransferPolicy.parse({});

/**
 * Why a transfer was refused or failed. Stable codes: the audit log and the page key on them.
 * - `upload_off`, `download_off`: the policy does not allow this direction.
 * - `too_large`: the file is larger than the policy's `maxBytes` (stated up front, found on the target, or
 *   reached while streaming).
 * - `path_invalid`: not an absolute path, contains NUL, or names a root or directory where a file is meant.
 * - `path_denied`: inside one of the policy's denied roots (as named, or as it resolves on the target).
 * - `path_outside_allowed`: not inside any allowed root.
 * - `path_escape`: named inside an allowed root but leaves it, by `..` or through a symbolic link on the target.
 * - `not_found`: the file (download) or the directory (upload) does not exist on the target.
 * - `not_a_file`: the path is a directory, device, FIFO or socket, not a regular file.
 * - `target_error`: the target failed the operation (permission, disk full, connection lost).
 * - `busy`: another transfer, or another listing, of this session is under way.
 * - `not_permitted`: the socket is not the session's own user.
 * - `cancelled`: the user cancelled it, the page went away, or a moderation hold began.
 * - `input_held`: a moderated session's hold (too few moderators watching, or a lock) holds files as it holds typing.
 */
export const FileTransferRefusal = z.enum([
  "upload_off",
  "download_off",
  "too_large",
  "path_invalid",
  "path_denied",
  "path_outside_allowed",
  "path_escape",
  "not_found",
  "not_a_file",
  "target_error",
  // Decided by the session's room or the page, not the connector (issue 19's transport):
  "busy", // another transfer of this session is under way (one at a time)
  "not_permitted", // the socket is not the session's own user (a viewer or moderator)
  "cancelled", // the user cancelled it, or the page that drove it went away
  "input_held", // a moderated session without its moderators watching, or locked by one: nothing reaches the target
]);
export type FileTransferRefusal = z.infer<typeof FileTransferRefusal>;

// ---- on the session sockets (protocol/messages.ts carries these; docs/protocol.md) -------------------------------

/**
 * Bytes of one transfer that may be sent and not yet credited back, per hop direction: the sender of file bytes
 * (the browser for an upload, the connector for a download) may have at most this many outstanding. The room
 * forwards and counts; a frame past the window is a protocol violation. 1 MiB, like terminal output.
 */
export const FILE_WINDOW = 1024 * 1024;
/** A directory listing names at most this many entries (the rest is cut, and `truncated` says so). */
export const MAX_LISTING_ENTRIES = 500;
/** An entry's name, at most this many characters (longer names are left out of the listing). */
export const MAX_LISTING_NAME = 255;
/** The largest message that carries a listing (connector -> room -> browser), in characters: 256 KiB. */
export const MAX_LISTING_MESSAGE = 256 * 1024;

/** A transfer's id, chosen by the page (unique among its transfers); it also names the transfer in FILE frames. */
export const TransferId = z.number().int().min(1).max(0xffff_ffff);
/** A path on the target, as the user asks for it (checked by the connector's policy, connector/sftp/policy.ts). */
export const TransferPath = z.string().min(1).max(4096);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The user asks for a folder's entries. */
export const FileList = z.strictObject({ type: z.literal("ft_list"), id: TransferId, path: TransferPath });
/** The user starts an upload of `size` bytes to `path` (a file in an existing folder); bytes follow after `ft_ready`. */
export const FileUpload = z.strictObject({
  type: z.literal("ft_upload"),
  id: TransferId,
  path: TransferPath,
  size: z.number().int().min(0).max(MAX_FILE_TRANSFER_BYTES),
});
/** The user asks for a file; its bytes follow `ft_ready`, against the page's credit. */
export const FileDownload = z.strictObject({ type: z.literal("ft_download"), id: TransferId, path: TransferPath });
/** The user stops a transfer; the connector answers `ft_refused` with `cancelled` (or its `ft_done` crossed it). */
export const FileCancel = z.strictObject({ type: z.literal("ft_cancel"), id: TransferId });

/**
 * What the session's policy allows, to the user's page after its hello (so it shows the Files panel, or not):
 * only when a direction is on.
 */
export const FileTransferAllowed = z.strictObject({
  type: z.literal("ft_allowed"),
  upload: z.boolean(),
  download: z.boolean(),
  maxBytes: z.number().int().min(0).max(MAX_FILE_TRANSFER_BYTES),
  /** The allowed folders, where the page starts browsing. */
  roots: z.array(FileTransferRoot).max(MAX_FILE_TRANSFER_ROOTS),
});
export const ListingEntry = z.strictObject({
  name: z.string().min(1).max(MAX_LISTING_NAME),
  kind: z.enum(["file", "dir", "link", "other"]),
  size: z.number().int().min(0),
  /** Unix seconds. */
  mtime: z.number().int(),
});
export type ListingEntry = z.infer<typeof ListingEntry>;
/** A folder's entries (`path`: its real path on the target), at most MAX_LISTING_ENTRIES. */
export const FileListing = z.strictObject({
  type: z.literal("ft_listing"),
  id: TransferId,
  path: TransferPath,
  entries: z.array(ListingEntry).max(MAX_LISTING_ENTRIES),
  truncated: z.boolean(),
});
/**
 * The connector took the transfer: for an upload, the page may send FILE_WINDOW bytes now; for a download, `size`
 * bytes follow (the file's size when it was opened).
 */
export const FileReady = z.strictObject({
  type: z.literal("ft_ready"),
  id: TransferId,
  size: z.number().int().min(0).optional(),
});
/** A finished transfer's record (connector/sftp/transfer.ts): the real path, the bytes that passed, their SHA-256. */
export const FileDone = z.strictObject({
  type: z.literal("ft_done"),
  id: TransferId,
  direction: z.enum(["upload", "download"]),
  path: TransferPath,
  size: z.number().int().min(0),
  sha256,
});
export type FileDone = z.infer<typeof FileDone>;
/**
 * A refused or failed request, with why (`reason`, stable) and what the user reads (`message`, built from the request
 * and the policy, never the target's text). `direction` "list" for a listing; `path` as asked.
 */
export const FileRefused = z.strictObject({
  type: z.literal("ft_refused"),
  id: TransferId,
  direction: z.enum(["upload", "download", "list"]),
  path: TransferPath,
  reason: FileTransferRefusal,
  message: z.string().max(300),
});
export type FileRefused = z.infer<typeof FileRefused>;

/**
 * The recording's marker for a transfer's outcome, the same text from the connector (into the recording) and the
 * room (the witness): at most 200 characters, a long path cut in the middle.
 */
export function transferMarker(
  outcome: { direction: "upload" | "download"; path: string } & ({ size: number; sha256: string } | { reason: string }),
): string {
  const path = outcome.path.length > 120 ? `${outcome.path.slice(0, 40)}…${outcome.path.slice(-79)}` : outcome.path;
  return "sha256" in outcome
    ? `file ${outcome.direction}: ${path} (${outcome.size} bytes, sha256 ${outcome.sha256.slice(0, 16)})`
    : `file ${outcome.direction} refused: ${path} (${outcome.reason})`;
}
