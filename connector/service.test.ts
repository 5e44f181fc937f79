// The systemd unit install writes: restarts, runs from the package (so tsx resolves), keeps state.
import { describe, expect, it } from "vitest";
import { systemdUnit } from "./service.ts";

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
});
