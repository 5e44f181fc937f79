// The systemd unit install writes: restarts, runs from the package (so tsx resolves), keeps state, runs as
// its own unprivileged account with hardening that still lets bubblewrap build the RDP bridge's sandbox.
import { describe, expect, it } from "vitest";
import { SERVICE_USER, serviceUserCommands, systemdUnit } from "./service.ts";

describe("systemd unit", () => {
  it("runs the agent from the package with its state dir, restarting, hardened", () => {
    const unit = systemdUnit({
      node: "/usr/bin/node",
      cli: "/opt/edge-psm/connector/cli.ts",
      stateDir: "/var/lib/psm-connector",
      workingDirectory: "/opt/edge-psm/",
    });
    expect(unit).toContain("WorkingDirectory=/opt/edge-psm/\n");
    expect(unit).toContain(
      "ExecStart=/usr/bin/node --import tsx /opt/edge-psm/connector/cli.ts run --state /var/lib/psm-connector\n",
    );
    expect(unit).toContain("Restart=always\n");
    expect(unit).toContain("StateDirectory=psm-connector\nStateDirectoryMode=0700\n");
    expect(unit).toContain("ProtectSystem=strict\n");
    expect(unit).toContain("WantedBy=multi-user.target\n");
  });

  it("runs the connector package's bundle with node alone (no tsx loader)", () => {
    const unit = systemdUnit({
      node: "/usr/bin/node",
      cli: "/opt/psm-connector/dist/psm-connector.mjs",
      stateDir: "/var/lib/psm-connector",
      workingDirectory: "/opt/psm-connector",
      bundled: true,
    });
    expect(unit).toContain(
      "ExecStart=/usr/bin/node /opt/psm-connector/dist/psm-connector.mjs run --state /var/lib/psm-connector\n",
    );
    expect(unit).not.toContain("tsx");
  });

  it("quotes paths with spaces and leaves StateDirectory out outside /var/lib", () => {
    const unit = systemdUnit({
      node: "/usr/bin/node",
      cli: "/srv/psm x/cli.ts",
      stateDir: "/srv/state dir",
      workingDirectory: "/srv/psm x",
    });
    expect(unit).toContain('ExecStart=/usr/bin/node --import tsx "/srv/psm x/cli.ts" run --state "/srv/state dir"');
    expect(unit).not.toContain("StateDirectory=");
    expect(unit).toContain('ReadWritePaths="/srv/state dir"');
  });

  it("runs as its own unprivileged account by default, and as root only when asked", () => {
    const base = {
      node: "/usr/bin/node",
      cli: "/opt/p/cli.ts",
      stateDir: "/var/lib/psm-connector",
      workingDirectory: "/opt/p",
    };
    expect(systemdUnit(base)).toContain(`User=${SERVICE_USER}\nGroup=${SERVICE_USER}\n`);
    expect(systemdUnit({ ...base, user: "svc-psm" })).toContain("User=svc-psm\n");
    expect(systemdUnit({ ...base, user: "root" })).not.toMatch(/^User=/m);
  });

  it("is hardened without the directives that would stop the RDP sandbox from starting", () => {
    const unit = systemdUnit({ node: "/n", cli: "/c", stateDir: "/var/lib/psm-connector", workingDirectory: "/w" });
    for (const line of [
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
      "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
      "ProtectKernelLogs=yes",
      "RuntimeDirectory=psm-connector",
    ])
      expect(unit).toContain(`\n${line}\n`);
    // bubblewrap needs user, mount and pid namespaces: none of these may be set.
    // ProtectKernelTunables: --disable-userns writes the sandbox's own /proc/sys/user/max_user_namespaces.
    for (const directive of [
      "RestrictNamespaces",
      "PrivateUsers",
      "SystemCallFilter",
      "ProtectProc",
      "ProtectKernelTunables",
    ])
      expect(unit).not.toMatch(new RegExp(`^${directive}=`, "m"));
  });

  it("creates the account when missing and gives it the state dir", () => {
    expect(serviceUserCommands("psm-connector", "/var/lib/psm-connector", false)).toEqual([
      [
        "useradd",
        [
          "--system",
          "--user-group",
          "--no-create-home",
          "--home-dir",
          "/nonexistent",
          "--shell",
          "/usr/sbin/nologin",
          "psm-connector",
        ],
      ],
      ["chown", ["-R", "psm-connector:psm-connector", "/var/lib/psm-connector"]],
      ["chmod", ["0700", "/var/lib/psm-connector"]],
    ]);
    expect(serviceUserCommands("psm-connector", "/srv/s", true).map(([cmd]) => cmd)).toEqual(["chown", "chmod"]);
  });
});
