// The SFTP path decisions: canonical paths, containment by whole segments, and the two policy checks (as
// requested, and as resolved on the target), by table and by property.
import { posix } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_FILE_TRANSFER_POLICY, FileTransferPolicy } from "../../protocol/index.ts";
import {
  checkRequestedPath,
  checkResolvedPath,
  isWithin,
  MAX_REMOTE_PATH_BYTES,
  normalizeRemotePath,
  policyRoots,
  withResolvedRoots,
} from "./policy.ts";

const policy = (over: Partial<FileTransferPolicy> = {}) =>
  FileTransferPolicy.parse({ upload: true, download: true, allowPaths: ["/srv/data"], ...over });

describe("normalizeRemotePath", () => {
  it.each([
    ["/", "/", false],
    ["//", "/", false],
    ["/srv/data/", "/srv/data", false],
    ["/srv//data///f", "/srv/data/f", false],
    ["/srv/./data/.", "/srv/data", false],
    ["/srv/data/../etc", "/srv/etc", true],
    ["/srv/data/a/../../../etc/passwd", "/etc/passwd", true],
    // Above the root, `..` stays at the root (POSIX): nothing was climbed out of.
    ["/../../etc", "/etc", false],
    ["/a/b/../../..", "/", true],
    // Only `.` and `..` are special: `...` and `.hidden` are names.
    ["/srv/.../x", "/srv/.../x", false],
    ["/srv/.hidden/..x", "/srv/.hidden/..x", false],
    ["/srv/with space/é", "/srv/with space/é", false],
  ])("%s is %s", (raw, path, climbed) => {
    expect(normalizeRemotePath(raw)).toEqual({ ok: true, path, climbed });
  });

  it.each([
    ["", "empty"],
    ["srv/data/f", "relative"],
    ["./f", "relative"],
    ["../etc/passwd", "relative"],
    ["~/f", "relative (the connector never expands ~)"],
    ["/srv/data/f\0.txt", "NUL"],
  ])("refuses %j (%s)", (raw) => {
    const n = normalizeRemotePath(raw);
    expect(n.ok).toBe(false);
    if (!n.ok) expect(n.reason).toBe("path_invalid");
  });

  it("counts the length in UTF-8 bytes, up to PATH_MAX", () => {
    expect(normalizeRemotePath(`/${"a".repeat(MAX_REMOTE_PATH_BYTES - 1)}`).ok).toBe(true);
    expect(normalizeRemotePath(`/${"a".repeat(MAX_REMOTE_PATH_BYTES)}`).ok).toBe(false);
    // 2,048 two-byte characters: 2,049 characters but 4,097 bytes.
    expect(normalizeRemotePath(`/${"é".repeat(MAX_REMOTE_PATH_BYTES / 2)}`).ok).toBe(false);
  });

  const segment = fc.constantFrom("", ".", "..", "a", "b", "srv", "data", "...", ".x", "é");
  const absolute = fc.array(segment, { maxLength: 12 }).map((s) => `/${s.join("/")}`);

  it("agrees with path.posix.normalize on absolute paths (trailing slash dropped)", () => {
    fc.assert(
      fc.property(absolute, (raw) => {
        const n = normalizeRemotePath(raw);
        const expected = posix.normalize(raw).replace(/(.)\/+$/, "$1");
        expect(n.ok && n.path).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("gives a canonical path: absolute, no empty, . or .. segment, and normalizing it again changes nothing", () => {
    fc.assert(
      fc.property(absolute, (raw) => {
        const n = normalizeRemotePath(raw);
        if (!n.ok) throw new Error(n.message);
        expect(n.path.startsWith("/")).toBe(true);
        if (n.path !== "/") expect(n.path.slice(1).split("/")).not.toContainEqual(expect.stringMatching(/^\.{0,2}$/));
        expect(normalizeRemotePath(n.path)).toEqual({ ok: true, path: n.path, climbed: false });
      }),
      { numRuns: 2000 },
    );
  });
});

describe("isWithin", () => {
  it.each([
    ["/srv/data", "/srv/data", true],
    ["/srv/data/f", "/srv/data", true],
    ["/srv/data/a/b/c", "/srv/data", true],
    ["/srv/data2", "/srv/data", false],
    ["/srv/data2/f", "/srv/data", false],
    ["/srv/dat", "/srv/data", false],
    ["/srv", "/srv/data", false],
    ["/", "/srv/data", false],
    ["/anything/at/all", "/", true],
    ["/", "/", true],
  ])("%s within %s: %s", (path, root, within) => {
    expect(isWithin(path, root)).toBe(within);
  });

  const name = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((s) => s !== "." && s !== "..");
  it("is true exactly when the root's segments are a prefix of the path's segments", () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 5 }), fc.array(name, { maxLength: 5 }), (pathSegments, rootSegments) => {
        const path = `/${pathSegments.join("/")}`;
        const root = `/${rootSegments.join("/")}`;
        const prefix = rootSegments.every((s, i) => pathSegments[i] === s);
        expect(isWithin(path, root)).toBe(prefix);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("checkRequestedPath", () => {
  it("refuses a direction the policy has off, before looking at the path", () => {
    expect(checkRequestedPath(policy({ upload: false }), "upload", "/srv/data/f")).toMatchObject({
      ok: false,
      reason: "upload_off",
    });
    expect(checkRequestedPath(policy({ download: false }), "download", "/srv/data/f")).toMatchObject({
      ok: false,
      reason: "download_off",
    });
    expect(checkRequestedPath(policy({ upload: false }), "download", "/srv/data/f")).toEqual({
      ok: true,
      path: "/srv/data/f",
    });
  });

  it("the default policy allows nothing", () => {
    expect(checkRequestedPath(DEFAULT_FILE_TRANSFER_POLICY, "upload", "/tmp/f")).toMatchObject({
      reason: "upload_off",
    });
    expect(checkRequestedPath(DEFAULT_FILE_TRANSFER_POLICY, "download", "/tmp/f")).toMatchObject({
      reason: "download_off",
    });
    // Both directions on but no allowed root: still nothing.
    expect(checkRequestedPath(policy({ allowPaths: [] }), "download", "/tmp/f")).toMatchObject({
      reason: "path_outside_allowed",
    });
  });

  it.each([
    ["/srv/data/f", { ok: true, path: "/srv/data/f" }],
    ["/srv/data/sub/../f", { ok: true, path: "/srv/data/f" }],
    ["/srv//data/./f", { ok: true, path: "/srv/data/f" }],
    ["/srv/data2/f", { ok: false, reason: "path_outside_allowed" }],
    ["/srv/datafile", { ok: false, reason: "path_outside_allowed" }],
    ["/etc/passwd", { ok: false, reason: "path_outside_allowed" }],
    ["/srv/data/../data2/f", { ok: false, reason: "path_escape" }],
    ["/srv/data/../../etc/passwd", { ok: false, reason: "path_escape" }],
    ["/srv/data/a/b/../../../../etc/shadow", { ok: false, reason: "path_escape" }],
    ["/srv/data/private/key", { ok: false, reason: "path_denied" }],
    ["/srv/data/private", { ok: false, reason: "path_denied" }],
    ["/srv/data/x/../private/key", { ok: false, reason: "path_denied" }],
    ["/srv/data/private2/f", { ok: true, path: "/srv/data/private2/f" }],
    ["srv/data/f", { ok: false, reason: "path_invalid" }],
    ["/srv/data/f\0", { ok: false, reason: "path_invalid" }],
  ])("%j", (raw, verdict) => {
    const p = policy({ denyPaths: ["/srv/data/private"] });
    expect(checkRequestedPath(p, "download", raw)).toMatchObject(verdict);
  });

  it("messages name the path and never more than the request and the policy hold", () => {
    const verdict = checkRequestedPath(policy(), "upload", "/srv/data/../../etc/passwd");
    expect(verdict).toEqual({
      ok: false,
      reason: "path_escape",
      message: "/etc/passwd leaves the allowed folders through ..",
    });
  });

  it("an allowed root of / allows every absolute path not denied", () => {
    const p = policy({ allowPaths: ["/"], denyPaths: ["/etc"] });
    expect(checkRequestedPath(p, "upload", "/home/u/f")).toEqual({ ok: true, path: "/home/u/f" });
    expect(checkRequestedPath(p, "upload", "/etc/shadow")).toMatchObject({ reason: "path_denied" });
    expect(checkRequestedPath(p, "upload", "/etcetera")).toEqual({ ok: true, path: "/etcetera" });
  });

  const segment = fc.constantFrom("", ".", "..", "srv", "data", "data2", "private", "f", "etc");
  const raw = fc.array(segment, { maxLength: 8 }).map((s) => `/${s.join("/")}`);
  const roots = fc.array(
    fc
      .array(fc.constantFrom("srv", "data", "data2", "private", "etc"), { minLength: 1, maxLength: 3 })
      .map((s) => `/${s.join("/")}`),
    { maxLength: 3 },
  );
  it("never allows a path outside every allowed root or inside a denied one", () => {
    fc.assert(
      fc.property(raw, roots, roots, fc.constantFrom("upload" as const, "download" as const), (r, allow, deny, dir) => {
        const verdict = checkRequestedPath(policy({ allowPaths: allow, denyPaths: deny }), dir, r);
        const n = normalizeRemotePath(r);
        if (!n.ok) throw new Error(n.message);
        const allowed = allow.some((root) => isWithin(n.path, root)) && !deny.some((root) => isWithin(n.path, root));
        expect(verdict.ok).toBe(allowed);
        if (verdict.ok) expect(verdict.path).toBe(n.path);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("checkResolvedPath", () => {
  const roots = withResolvedRoots(
    policyRoots({ allowPaths: ["/srv/data", "/srv/link"], denyPaths: ["/srv/data/private"] }),
    new Map([["/srv/link", "/mnt/disk/real"]]),
  );

  it.each([
    ["/srv/data/f", { ok: true, path: "/srv/data/f" }],
    // A symbolic link inside an allowed root that leads out of it.
    ["/etc/passwd", { ok: false, reason: "path_escape" }],
    ["/srv/data2/f", { ok: false, reason: "path_escape" }],
    // A link that leads into a denied root.
    ["/srv/data/private/key", { ok: false, reason: "path_denied" }],
    // An allowed root that is itself a link: its files' real paths are under where it leads.
    ["/mnt/disk/real/f", { ok: true, path: "/mnt/disk/real/f" }],
    ["/mnt/disk/realm/f", { ok: false, reason: "path_escape" }],
    // A malformed answer from the target leads nowhere allowed.
    ["srv/data/f", { ok: false, reason: "path_escape" }],
  ])("real path %j", (real, verdict) => {
    expect(checkResolvedPath(roots, "/srv/data/link", real)).toMatchObject(verdict);
  });

  it("the message names the requested path, not where the link leads", () => {
    const verdict = checkResolvedPath(roots, "/srv/data/link", "/etc/shadow");
    expect(verdict).toMatchObject({ ok: false, reason: "path_escape" });
    if (!verdict.ok) expect(verdict.message).not.toContain("shadow");
  });
});

describe("policyRoots and withResolvedRoots", () => {
  it("normalizes the roots a policy names", () => {
    expect(policyRoots({ allowPaths: ["/srv/data/", "/"], denyPaths: ["//srv//data/private"] })).toEqual({
      allow: ["/srv/data", "/"],
      deny: ["/srv/data/private"],
    });
  });

  it("adds where roots resolve, keeps the named forms, and ignores malformed answers", () => {
    const roots = withResolvedRoots(
      { allow: ["/srv/data", "/srv/gone"], deny: ["/srv/data/private"] },
      new Map([
        ["/srv/data", "/mnt/data/"],
        ["/srv/data/private", "relative/answer"],
      ]),
    );
    expect(roots).toEqual({ allow: ["/srv/data", "/srv/gone", "/mnt/data"], deny: ["/srv/data/private"] });
  });
});

describe("FileTransferPolicy schema", () => {
  it("is off by default, with a 1 GiB limit and no roots", () => {
    expect(DEFAULT_FILE_TRANSFER_POLICY).toEqual({
      upload: false,
      download: false,
      maxBytes: 1024 ** 3,
      allowPaths: [],
      denyPaths: [],
    });
  });

  it.each([["relative"], ["/srv/../etc"], ["/srv/./data"], ["/srv/da\0ta"], [""], [`/${"a".repeat(600)}`]])(
    "refuses the root %j",
    (root) => {
      expect(FileTransferPolicy.safeParse({ allowPaths: [root] }).success).toBe(false);
      expect(FileTransferPolicy.safeParse({ denyPaths: [root] }).success).toBe(false);
    },
  );

  it("refuses unknown fields, negative or huge limits, and too many roots", () => {
    expect(FileTransferPolicy.safeParse({ upload: true, exec: true }).success).toBe(false);
    expect(FileTransferPolicy.safeParse({ maxBytes: -1 }).success).toBe(false);
    expect(FileTransferPolicy.safeParse({ maxBytes: 1.5 }).success).toBe(false);
    expect(FileTransferPolicy.safeParse({ maxBytes: 65 * 1024 ** 3 }).success).toBe(false);
    expect(FileTransferPolicy.safeParse({ allowPaths: Array.from({ length: 17 }, (_, i) => `/r${i}`) }).success).toBe(
      false,
    );
  });
});
