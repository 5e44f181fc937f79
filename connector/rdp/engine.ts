// Where the RDP engine (the native psm-rdp-bridge) is, the sandbox it runs in, and whether this connector
// can run RDP sessions at all. The bridge is built by `npm install` when FreeRDP's development files exist.
//
// The bridge is C that parses what a possibly hostile RDP server sends, so it runs under bubblewrap
// (`bwrap`, Debian's `bubblewrap`): its own mount, pid, ipc and uts namespaces, a user namespace that may
// not nest, no capabilities, no_new_privs, and a root holding only /usr (read-only), the dynamic loader's
// cache, the TLS configuration, a minimal /dev, the bridge itself and a private 16 MiB tmpfs on /tmp for
// FreeRDP's per-session files. The connector's state directory (connector.json with the site's seal key,
// config.json) does not exist in there. No /proc is mounted: a fresh proc mount inside a user namespace is
// refused under systemd's ProtectKernelTunables, and the bridge does not need one. Limits (rlimits): no core
// dumps (a dump would hold the password), 1,024 files, 4 GiB of address space, 16 MiB per written file.
// When the connector runs as root, the sandbox is entered as `nobody` (setpriv), so nothing in it is root
// even outside its namespaces. The network is the connector's: the bridge dials the target itself.
//
// RdpStream spawns `bridgePath()` with no arguments and an empty environment; with the sandbox that path is
// a launcher script written here (0700, in the connector's own runtime folder), so the sandbox applies to
// every spawn without the stream knowing. Given arguments, the launcher runs them in the same sandbox instead
// of the bridge: that is how the start-up probe and the tests check it.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Built by connector/rdp/bridge/Makefile (run from npm's postinstall, or `npm run build:rdp`); in the connector
 * package this code is bundled into dist/psm-connector.mjs and the bridge ships beside it (npm run pack:connector).
 */
export const DEFAULT_BRIDGE = fileURLToPath(
  new URL(import.meta.url.endsWith(".ts") ? "../../build/rdp/psm-rdp-bridge" : "./psm-rdp-bridge", import.meta.url),
);

/** Debian's bubblewrap. `PSM_BWRAP` overrides it (a path, never a secret). */
export const DEFAULT_BWRAP = "/usr/bin/bwrap";

/** Where the bridge binary appears inside the sandbox. */
export const SANDBOX_BRIDGE = "/opt/psm/psm-rdp-bridge";

/** The sandbox's private /tmp (FreeRDP's per-session config folder and HOME): 16 MiB. */
export const SANDBOX_TMP_BYTES = 16 * 1024 * 1024;

/** Resource limits set before the sandbox is entered (dash `ulimit`: -v in KiB, -f in 512-byte blocks). */
const RLIMITS = [
  "-c 0", // no core dumps: one would hold the password FreeRDP keeps in its settings
  "-n 1024", // open files
  `-v ${4 * 1024 * 1024}`, // address space: 4 GiB (RSS is ~40 MiB; an 8192x8192 desktop is 256 MiB)
  `-f ${(16 * 1024 * 1024) / 512}`, // largest file written: 16 MiB
];

/** The unprivileged account a root connector enters the sandbox as. */
const NOBODY = 65534;

export const HOW_TO_ENABLE_RDP =
  "apt-get install freerdp2-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libssl-dev pkg-config build-essential, then npm run build:rdp";

export const HOW_TO_ENABLE_SANDBOX = "apt-get install bubblewrap";

/** The bridge binary itself: PSM_RDP_BRIDGE overrides the build output (a path, never a secret). */
export function bareBridgePath(): string {
  return process.env.PSM_RDP_BRIDGE || DEFAULT_BRIDGE;
}

export function bwrapPath(): string {
  return process.env.PSM_BWRAP || DEFAULT_BWRAP;
}

/**
 * What RdpStream spawns: the sandbox launcher when the sandbox works here, else the bare bridge (the
 * connector says so at start and in its health; a policy with rdpRequireSandbox refuses such sessions).
 */
export function bridgePath(): string {
  return sandboxStatus().available ? sandboxLauncher() : bareBridgePath();
}

/** Why RDP sessions cannot run on this connector, or undefined when they can. */
export function rdpUnavailable(): string | undefined {
  const path = bareBridgePath();
  if (!existsSync(path)) return `the RDP engine is not built (${path} is missing): ${HOW_TO_ENABLE_RDP}`;
  return undefined;
}

export type SandboxStatus = { available: true } | { available: false; reason: string };

let status: SandboxStatus | undefined;

/**
 * Whether the bridge can run sandboxed here, probed once per process by running `true` through the
 * launcher: bwrap missing, user namespaces refused (a sysctl, AppArmor, the unit's own hardening) all show.
 */
export function sandboxStatus(): SandboxStatus {
  if (status) return status;
  status = probeSandbox();
  return status;
}

function probeSandbox(): SandboxStatus {
  const engine = rdpUnavailable();
  if (engine) return { available: false, reason: "the RDP engine is not built" };
  const bwrap = bwrapPath();
  if (!existsSync(bwrap))
    return { available: false, reason: `bubblewrap is missing (${bwrap}): ${HOW_TO_ENABLE_SANDBOX}` };
  const probe = spawnSync(sandboxLauncher(), ["/usr/bin/true"], { env: { PATH: "/usr/bin:/bin" }, timeout: 10_000 });
  if (probe.status === 0) return { available: true };
  const why =
    (probe.stderr?.toString("utf8") ?? "").split("\n")[0]?.slice(0, 200) || `exit ${probe.status ?? probe.signal}`;
  return { available: false, reason: `bubblewrap cannot start the sandbox: ${why}` };
}

/** Forgets the probe's answer (tests that change PSM_BWRAP in one process). */
export function resetSandboxStatus(): void {
  status = undefined;
}

let launcherDir: string | undefined;

/**
 * The launcher script's path, (re)written when missing: in systemd's RuntimeDirectory when the unit has one
 * (never aged out), else a private folder under the temporary directory, removed when the process exits.
 */
export function sandboxLauncher(): string {
  if (!launcherDir) {
    const runtime = process.env.RUNTIME_DIRECTORY?.split(":")[0];
    if (runtime) {
      launcherDir = runtime;
      mkdirSync(runtime, { recursive: true, mode: 0o700 });
    } else {
      const dir = mkdtempSync(join(tmpdir(), "psm-rdp-sandbox-"));
      launcherDir = dir;
      process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    }
  }
  const path = join(launcherDir, "psm-rdp-sandbox");
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, launcherScript(), { mode: 0o700 });
    renameSync(tmp, path);
  }
  return path;
}

/**
 * The launcher: limits, then (as nobody when root) bwrap with the sandbox's arguments, then the command.
 * `asRoot`: whether the connector writing it runs as root (tests write the unprivileged one too).
 */
export function launcherScript({ asRoot = process.getuid?.() === 0 }: { asRoot?: boolean } = {}): string {
  const asNobody = asRoot ? ["/usr/bin/setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"] : [];
  const argv = [...asNobody, bwrapPath(), ...sandboxArgs(bareBridgePath())].map(shellQuote).join(" ");
  return `#!/bin/sh
# Written by psm-connector (connector/rdp/engine.ts): runs the RDP bridge, or the command given, sandboxed.
${RLIMITS.map((l) => `ulimit ${l}`).join(" && ")} || exit 126
[ $# -gt 0 ] || set -- ${SANDBOX_BRIDGE}
exec ${argv} -- "$@"
`;
}

/** bwrap's arguments (everything before `--` and the command). */
export function sandboxArgs(bridge: string): string[] {
  const args = [
    "--unshare-all", // user, mount, pid, ipc, uts, cgroup and network namespaces...
    "--share-net", // ...but the connector's network: the bridge dials the (already checked) target address
    "--unshare-user",
    "--disable-userns", // nothing inside may create another user namespace
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--ro-bind",
    "/usr",
    "/usr",
  ];
  // Merged /usr (Debian 12) has these as symlinks into /usr; older layouts have real folders.
  for (const top of ["/bin", "/sbin", "/lib", "/lib64"]) {
    const kind = lstatSync(top, { throwIfNoEntry: false });
    if (kind?.isSymbolicLink()) args.push("--symlink", readlinkSync(top), top);
    else if (kind?.isDirectory()) args.push("--ro-bind", top, top);
  }
  args.push(
    "--ro-bind-try",
    "/etc/ld.so.cache",
    "/etc/ld.so.cache",
    "--ro-bind-try",
    "/etc/ssl",
    "/etc/ssl", // OpenSSL's configuration (FreeRDP's TLS)
    "--ro-bind-try",
    "/etc/alternatives",
    "/etc/alternatives", // libraries Debian selects by symlink
    "--dev",
    "/dev", // null, zero, full, random, urandom, tty: no disks, no host devices
    "--perms",
    "0700",
    "--size",
    String(SANDBOX_TMP_BYTES),
    "--tmpfs",
    "/tmp",
    "--ro-bind",
    bridge,
    SANDBOX_BRIDGE,
    "--remount-ro",
    "/", // the sandbox's root tmpfs: only /tmp is writable
    "--chdir",
    "/tmp",
  );
  return args;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
