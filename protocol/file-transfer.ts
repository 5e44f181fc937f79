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
]);
export type FileTransferRefusal = z.infer<typeof FileTransferRefusal>;
