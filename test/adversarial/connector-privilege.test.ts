// Attacks on the connector's privileges through its RDP engine, against a real xrdp: the bridge is C that
// parses what a hostile RDP server sends, so once it is taken over, what can it reach? The guarantees: it runs
// in a bubblewrap sandbox where the connector's state directory (connector.json: the site's seal key) does not
// exist, with no_new_privs, no capabilities, no core dumps and its own tmpfs, while the desktop still works
// end to end; the sandbox starts under the unit's hardening; and where bubblewrap is missing the connector says
// so (start log, status.json, metrics) and a policy that requires the sandbox refuses RDP with a clear reason.
import { spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launcherScript, sandboxLauncher, sandboxStatus } from "../../connector/rdp/engine.ts";
import type { Policy } from "../../protocol/index.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { describeWithPeers } from "../support/peers.ts";
import { type RdpStack, rdpPeersMissing, startRdpStack } from "../support/rdp-stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const missing = (): string | undefined => {
  const peers = rdpPeersMissing();
  if (peers) return peers;
  const sandbox = sandboxStatus();
  return sandbox.available ? undefined : `RDP sandbox unavailable here: ${sandbox.reason}`;
};

/** Parent pid of a process, from /proc/<pid>/stat (the field after the parenthesised name). */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** The psm-rdp-bridge processes descended from `ancestor` (the connector). */
function bridgesOf(ancestor: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (comm !== "psm-rdp-bridge") continue;
    for (let p: number | undefined = pid, hops = 0; p && p > 1 && hops < 10; p = parentOf(p), hops++)
      if (p === ancestor) {
        found.push(pid);
        break;
      }
  }
  return found;
}

const statusField = (pid: number, field: string) =>
  new RegExp(`^${field}:\\s*(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.trim();

/** Runs a shell script inside the sandbox exactly as the connector runs the bridge (its launcher). */
function inSandbox(
  script: string,
  { wrap = [], launcher = sandboxLauncher() }: { wrap?: string[]; launcher?: string } = {},
): { status: number | null; out: string } {
  const [cmd, ...args] = [...wrap, launcher, "/bin/sh", "-c", script];
  const r = spawnSync(cmd!, args, { env: { PATH: "/usr/bin:/bin" }, timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describeWithPeers("the RDP bridge runs without the connector's privileges", missing(), () => {
  let rdp: RdpStack;
  const clients: TerminalClient[] = [];
  const connectorJson = () => join(rdp.stack.connectorState, "connector.json");

  beforeAll(async () => {
    rdp = await startRdpStack();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    delete process.env.PSM_BWRAP;
    await rdp?.stop();
  });

  async function openDesktop(): Promise<{ id: string; client: TerminalClient }> {
    const { id } = await rdp.stack.user.openSession(rdp.serverId, rdp.credentialId);
    const client = await TerminalClient.open(rdp.stack.edge.url, id, rdp.stack.user.sessionCookie);
    clients.push(client);
    return { id, client };
  }

  it("a live desktop works end to end while its bridge cannot see connector.json, runs with no_new_privs, no capabilities and its own /tmp", async () => {
    expect(existsSync(connectorJson())).toBe(true);
    const { client } = await openDesktop();
    // End to end through the sandbox: xrdp's logon and the desktop's first frame reach the browser's socket.
    await client.until("connected", () => (client.state === "connected" ? true : undefined), 60_000);
    await client.waitForOutput(/4\.size,/, 60_000);
    await client.waitForOutput(/3\.img,/, 60_000);

    const [bridge] = await waitFor("the session's bridge process", async () => {
      const found = bridgesOf(rdp.stack.connector.child.pid!);
      return found.length ? found : undefined;
    });
    const pid = bridge!;
    // Its own mount namespace, whose root holds no state directory, no connector.json, no /proc, no home.
    expect(readlinkSync(`/proc/${pid}/ns/mnt`)).not.toBe(readlinkSync("/proc/self/ns/mnt"));
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync("/proc/self/ns/pid"));
    expect(existsSync(`/proc/${pid}/root${connectorJson()}`)).toBe(false);
    expect(existsSync(`/proc/${pid}/root${rdp.stack.connectorState}`)).toBe(false);
    expect(readdirSync(`/proc/${pid}/root`).sort()).toEqual([
      "bin",
      "dev",
      "etc",
      "lib",
      "lib64",
      "opt",
      "sbin",
      "tmp",
      "usr",
    ]);
    expect(readdirSync(`/proc/${pid}/root/etc`).sort()).toEqual(["alternatives", "ld.so.cache", "ssl"]);
    // no_new_privs, no capabilities (none permitted, none it could ever gain), not root.
    expect(statusField(pid, "NoNewPrivs")).toBe("1");
    expect(statusField(pid, "CapEff")).toBe("0000000000000000");
    expect(statusField(pid, "CapPrm")).toBe("0000000000000000");
    expect(statusField(pid, "CapBnd")).toBe("0000000000000000");
    expect(statusField(pid, "Uid")?.split(/\s+/)).not.toContain("0");
    // FreeRDP's per-session folder is on the sandbox's own tmpfs, invisible in the connector's /tmp.
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    expect(mounts).toMatch(/ \/tmp rw,[^ ]* - tmpfs /);
    const own = readdirSync(`/proc/${pid}/root/tmp`).filter((n) => n.startsWith("psm-rdp-"));
    expect(own).toHaveLength(1);
    expect(existsSync(join("/tmp", own[0]!))).toBe(false);
    // Limits: no core dump could carry the password out; a bounded address space.
    const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s/m);
    expect(limits).toMatch(/^Max address space\s+4294967296\s+4294967296\s/m);
  });

  it("code run the way the bridge is run cannot read connector.json, write outside /tmp, see the connector, or regain privileges", async () => {
    const path = connectorJson();
    const probe = inSandbox(
      [
        `cat '${path}' && echo READ-THE-KEY`,
        `ls '${rdp.stack.connectorState}' && echo LISTED-STATE`,
        "touch /usr/x /opt/psm/x /x 2>/dev/null && echo WROTE-OUTSIDE",
        "touch /tmp/x && echo tmp-writable",
        "ls /proc/1 2>/dev/null && echo SEES-PROCESSES",
        `kill -0 ${rdp.stack.connector.child.pid} 2>/dev/null && echo SIGNALS-CONNECTOR`,
        // A setuid helper would be the way back to root: no_new_privs makes su and sudo powerless.
        "su -c true root </dev/null 2>/dev/null && echo BECAME-ROOT",
        "echo probe-done",
      ].join("; "),
    );
    expect(probe.out).toContain("probe-done");
    expect(probe.out).toContain("tmp-writable");
    expect(probe.out).toMatch(/No such file or directory/);
    for (const breach of [
      "READ-THE-KEY",
      "LISTED-STATE",
      "WROTE-OUTSIDE",
      "SEES-PROCESSES",
      "SIGNALS-CONNECTOR",
      "BECAME-ROOT",
    ])
      expect(probe.out).not.toContain(breach);
    // The host's /tmp is not the sandbox's.
    expect(existsSync("/tmp/x") && readFileSync("/tmp/x", "utf8") === "").toBe(false);
  });

  it("the sandbox starts under the service's hardening: an unprivileged account, no_new_privs, an empty capability bounding set, a read-only system", () => {
    // What systemd's unit gives the connector: User=, NoNewPrivileges=, CapabilityBoundingSet= and, as far as
    // it can be had without systemd, ProtectSystem=strict (the system and the package read-only). Not
    // reproduced here: the seccomp filters of RestrictAddressFamilies and friends; the sandbox shares the
    // service's network namespace, so bwrap opens no socket of any family.
    const readOnly = ["/usr", "/etc", "/work", "/opt"].filter((d) => existsSync(d));
    const hardened = [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${readOnly.map((d) => `mount --bind ${d} ${d} && mount -o remount,bind,ro ${d} && `).join("")}exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --bounding-set=-all -- "$@"`,
      "sh",
    ];
    // The launcher an unprivileged connector writes (no setpriv of its own), in a folder of that account.
    const dir = mkdtempSync(join(tmpdir(), "psm-sandbox-unit-"));
    const launcher = join(dir, "psm-rdp-sandbox");
    writeFileSync(launcher, launcherScript({ asRoot: false }), { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    chownSync(launcher, 65534, 65534);
    const probe = inSandbox(`cat '${connectorJson()}' 2>&1; echo started`, { wrap: hardened, launcher });
    rmSync(dir, { recursive: true, force: true });
    expect(probe.out).toContain("started");
    expect(probe.out).toContain("No such file or directory");
    expect(probe.status).toBe(0);
  });

  it("without bubblewrap the connector says so at start and in its health, and a policy requiring the sandbox refuses RDP", async () => {
    // A connector whose bubblewrap is missing (PSM_BWRAP names a binary that does not exist).
    process.env.PSM_BWRAP = join(rdp.stack.dir, "no-such-bwrap");
    await rdp.stack.restartConnector();
    delete process.env.PSM_BWRAP;
    const connector = rdp.stack.connector;
    expect(connector.output()).toMatch(/"event":"connector\.rdp_sandbox".*"available":false.*bubblewrap is missing/);
    const status = await waitFor("status.json with the RDP health", async () => {
      const text = await readFile(join(rdp.stack.connectorState, "status.json"), "utf8").catch(() => "");
      const parsed = text
        ? (JSON.parse(text) as { pid: number; rdp?: { sandbox: boolean; reason?: string } })
        : undefined;
      return parsed && parsed.pid === connector.child.pid ? parsed.rdp : undefined;
    });
    expect(status).toMatchObject({
      engine: true,
      sandbox: false,
      reason: expect.stringMatching(/bubblewrap is missing/),
    });
    const port = (
      JSON.parse(await readFile(join(rdp.stack.connectorState, "status.json"), "utf8")) as {
        metricsPort: number;
      }
    ).metricsPort;
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^psm_connector_rdp_sandbox 0$/m);
    expect(metrics).toMatch(/^psm_connector_rdp_engine 1$/m);

    // The zone's policy requires the sandbox: the session ends with sandbox_unavailable, no bridge is started.
    const policy = await rdp.stack.admin.request<Policy>("POST", "/api/policies", {
      name: "desktops sandboxed",
      rdpRequireSandbox: true,
    });
    expect(policy.rdpRequireSandbox).toBe(true);
    await rdp.stack.admin.request("PATCH", `/api/zones/${rdp.stack.zoneId}`, { policyId: policy.id });
    const { id, client } = await openDesktop();
    await client.until("the session to end", () => (client.state === "ended" ? true : undefined), 60_000);
    expect(client.endReason).toBe("sandbox_unavailable");
    const row = await rdp.stack.user.request<{ endReason: string | null }>("GET", `/api/sessions/${id}`);
    expect(row.endReason).toBe("sandbox_unavailable");
    expect(connector.output()).toMatch(new RegExp(`"event":"session.rdp_sandbox_unavailable".*"session":"${id}"`));
    expect(bridgesOf(connector.child.pid!)).toEqual([]);
    expect(await rdp.logs()).not.toContain(rdp.stack.canary);
  });
});
