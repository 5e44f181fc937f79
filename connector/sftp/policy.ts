// Pure path decisions for SFTP transfers: a requested remote path made canonical (POSIX, absolute, `..` resolved
// lexically) and judged against the policy's allowed and denied roots by whole path segments. No I/O: transfer.ts
// asks the target where a path really leads (realpath) and brings the answer back here.
import type { FileTransferPolicy, FileTransferRefusal } from "../../protocol/index.ts";

/** PATH_MAX on Linux, in bytes: longer paths are refused before they reach the target. */
export const MAX_REMOTE_PATH_BYTES = 4096;

export type Refusal = { ok: false; reason: FileTransferRefusal; message: string };

export type NormalizedPath =
  | {
      ok: true;
      /** Absolute, no empty, `.` or `..` segment, no trailing slash (`/` for the root itself). */
      path: string;
      /** A `..` segment removed a segment on the way: a path that leaves its root this way is an escape. */
      climbed: boolean;
    }
  | Refusal;

/**
 * The canonical form of a requested path, computed on the text alone: `//` and `/./` collapse, `..` removes the
 * segment before it (above `/` it stays at `/`, as POSIX does). Relative paths are refused: the connector never
 * guesses the account's working directory.
 */
export function normalizeRemotePath(raw: string): NormalizedPath {
  if (raw.length === 0) return invalid("the path is empty");
  if (raw.includes("\0")) return invalid("the path contains a NUL character");
  if (Buffer.byteLength(raw, "utf8") > MAX_REMOTE_PATH_BYTES) return invalid("the path is too long");
  if (!raw.startsWith("/")) return invalid("the path must be absolute (start with /)");
  const segments: string[] = [];
  let climbed = false;
  for (const segment of raw.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length > 0) climbed = true;
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join("/")}`, climbed };
}

/** Whether `path` is `root` or below it, by whole segments. Both must be normalized. */
export function isWithin(path: string, root: string): boolean {
  if (root === "/") return true;
  return path === root || path.startsWith(`${root}/`);
}

/** The policy's roots, normalized. Resolved forms on the target are added with `withResolvedRoots`. */
export type Roots = { allow: readonly string[]; deny: readonly string[] };

export function policyRoots(policy: Pick<FileTransferPolicy, "allowPaths" | "denyPaths">): Roots {
  const normalized = (list: readonly string[]) =>
    list.flatMap((raw) => {
      const n = normalizeRemotePath(raw);
      // The policy schema admits only valid roots; a malformed one allows nothing rather than something.
      return n.ok ? [n.path] : [];
    });
  return { allow: normalized(policy.allowPaths), deny: normalized(policy.denyPaths) };
}

/**
 * The roots plus where each resolves on the target (`resolved`: named root -> its real path, for the roots
 * that exist). A root that is itself a symbolic link (`/srv/data` -> `/mnt/disk/data`) then still contains its
 * files' real paths; a denied root is denied in both forms.
 */
export function withResolvedRoots(roots: Roots, resolved: ReadonlyMap<string, string>): Roots {
  const extend = (list: readonly string[]) => {
    const all = new Set(list);
    for (const root of list) {
      const real = resolved.get(root);
      const n = real === undefined ? undefined : normalizeRemotePath(real);
      if (n?.ok) all.add(n.path);
    }
    return [...all];
  };
  return { allow: extend(roots.allow), deny: extend(roots.deny) };
}

export type PathVerdict = { ok: true; path: string } | Refusal;

/**
 * The first check, on the path as requested, before anything is asked of the target: the direction must be on
 * and the canonical path inside an allowed root and outside every denied one. A path that names an allowed
 * root but climbs out of it with `..` is `path_escape`; one that never was inside is `path_outside_allowed`.
 */
export function checkRequestedPath(
  policy: FileTransferPolicy,
  direction: "upload" | "download",
  raw: string,
): PathVerdict {
  if (!policy[direction])
    return refuse(
      direction === "upload" ? "upload_off" : "download_off",
      `${direction === "upload" ? "uploads" : "downloads"} are off for this session`,
    );
  const n = normalizeRemotePath(raw);
  if (!n.ok) return n;
  const roots = policyRoots(policy);
  if (!roots.allow.some((root) => isWithin(n.path, root))) {
    if (n.climbed && roots.allow.some((root) => isWithin(lexicalPrefix(raw), root)))
      return refuse("path_escape", `${n.path} leaves the allowed folders through ..`);
    return refuse("path_outside_allowed", `${n.path} is not inside an allowed folder`);
  }
  if (roots.deny.some((root) => isWithin(n.path, root)))
    return refuse("path_denied", `${n.path} is inside a denied folder`);
  return { ok: true, path: n.path };
}

/**
 * The second check, on where the path really leads on the target (its realpath, or for a new file the realpath
 * of its directory plus its name), against the roots named and resolved. Outside every allowed root here means
 * the target's symbolic links led out of the root the request named: `path_escape`.
 */
export function checkResolvedPath(roots: Roots, requested: string, real: string): PathVerdict {
  const n = normalizeRemotePath(real);
  // The target's own answer is malformed (relative, NUL): treat it as leading nowhere we allow.
  if (!n.ok) return refuse("path_escape", `${requested} does not resolve to a usable path on the target`);
  if (!roots.allow.some((root) => isWithin(n.path, root)))
    return refuse("path_escape", `${requested} leads outside the allowed folders through a symbolic link`);
  if (roots.deny.some((root) => isWithin(n.path, root)))
    return refuse("path_denied", `${requested} leads into a denied folder`);
  return { ok: true, path: n.path };
}

/** The path up to its first `..` segment, normalized: where the request claimed to be before climbing. */
function lexicalPrefix(raw: string): string {
  const segments = raw.split("/");
  const first = segments.indexOf("..");
  const n = normalizeRemotePath(segments.slice(0, first === -1 ? undefined : first).join("/") || "/");
  return n.ok ? n.path : "/";
}

function invalid(message: string): Refusal {
  return refuse("path_invalid", message);
}

function refuse(reason: FileTransferRefusal, message: string): Refusal {
  return { ok: false, reason, message };
}
