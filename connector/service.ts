// Installing the connector as a service: the systemd unit (pure text), where it goes, and the
// unprivileged account it runs as. The state directory (keys, config, status) lives outside the
// program, so an upgrade (a new package version, then a restart) keeps it.
import { existsSync } from "node:fs";

export const UNIT_NAME = "psm-connector.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const DEFAULT_STATE_DIR = "/var/lib/psm-connector";
/** The system account the service runs as by default (`install` creates it; `--user root` opts out). */
export const SERVICE_USER = "psm-connector";

export function systemdUnit(opts: {
  node: string;
  cli: string;
  stateDir: string;
  /** The installed package: `--import tsx` resolves from here. */
  workingDirectory: string;
  /** `cli` is the bundled connector package's JavaScript (npm run pack:connector): no `--import tsx`. */
  bundled?: boolean;
  /** Default SERVICE_USER; "root" leaves `User=` out (the connector then runs as root). */
  user?: string;
}): string {
  const user = opts.user ?? SERVICE_USER;
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, "\\$1")}"`);
  return `[Unit]
Description=edge-psm connector (dials out to the edge; opens no port)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
WorkingDirectory=${q(opts.workingDirectory)}
ExecStart=${q(opts.node)}${opts.bundled ? "" : " --import tsx"} ${q(opts.cli)} run --state ${q(opts.stateDir)}
Restart=always
RestartSec=2
${user === "root" ? "" : `User=${q(user)}\nGroup=${q(user)}\n`}# The state dir holds the connector's keys: only the service reads it; upgrades keep it.
${opts.stateDir.startsWith("/var/lib/") ? `StateDirectory=${opts.stateDir.slice("/var/lib/".length)}\nStateDirectoryMode=0700\n` : ""}ReadWritePaths=${q(opts.stateDir)}
# The RDP bridge's sandbox launcher is written here (connector/rdp/engine.ts).
RuntimeDirectory=psm-connector
RuntimeDirectoryMode=0700
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# Left out on purpose, as each would stop bubblewrap from building the RDP bridge's sandbox (user, mount
# and pid namespaces; docs/connector.md): RestrictNamespaces, PrivateUsers, SystemCallFilter, ProtectProc, and
# ProtectKernelTunables (bwrap --disable-userns writes the sandbox's own /proc/sys/user/max_user_namespaces; the
# service's account cannot write the host's sysctls anyway). Untested with the sandbox, so also left out:
# PrivateDevices, ProtectHostname, ProtectClock. The sandbox mounts no /proc of its own, so ProtectKernelLogs does
# not stop it, and it shares the service's network namespace, so it needs no AF_NETLINK.

[Install]
WantedBy=multi-user.target
`;
}

/** systemd is managing this machine (the unit can be installed and started). */
export const hasSystemd = () => existsSync("/run/systemd/system");

/**
 * The commands that create the service account and give it the state directory (as root, before the unit
 * starts): a system user with no login shell and no home of its own, and the state dir 0700, owned by it.
 * `exists` says whether the account is already there (then only the ownership is set).
 */
export function serviceUserCommands(user: string, stateDir: string, exists: boolean): [string, string[]][] {
  const commands: [string, string[]][] = [];
  if (!exists)
    commands.push([
      "useradd",
      [
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        user,
      ],
    ]);
  commands.push(["chown", ["-R", `${user}:${user}`, stateDir]], ["chmod", ["0700", stateDir]]);
  return commands;
}
