// Installing the connector as a service: the systemd unit (pure text) and where it goes. The
// state directory (keys, config, status) lives outside the program, so an upgrade (a new package
// version, then a restart) keeps it.
import { existsSync } from "node:fs";

export const UNIT_NAME = "psm-connector.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const DEFAULT_STATE_DIR = "/var/lib/psm-connector";

export function systemdUnit(opts: {
  node: string;
  cli: string;
  stateDir: string;
  /** The installed package: `--import tsx` resolves from here. */
  workingDirectory: string;
  user?: string;
}): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, "\\$1")}"`);
  return `[Unit]
Description=edge-psm connector (dials out to the edge; opens no port)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
WorkingDirectory=${q(opts.workingDirectory)}
ExecStart=${q(opts.node)} --import tsx ${q(opts.cli)} run --state ${q(opts.stateDir)}
Restart=always
RestartSec=2
${opts.user ? `User=${opts.user}\n` : ""}# The state dir holds the connector's keys: only the service reads it; upgrades keep it.
${opts.stateDir.startsWith("/var/lib/") ? `StateDirectory=${opts.stateDir.slice("/var/lib/".length)}\nStateDirectoryMode=0700\n` : ""}ReadWritePaths=${q(opts.stateDir)}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome=read-only
ProtectKernelTunables=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
LockPersonality=yes

[Install]
WantedBy=multi-user.target
`;
}

/** systemd is managing this machine (the unit can be installed and started). */
export const hasSystemd = () => existsSync("/run/systemd/system");
