// Proof of no inbound exposure. Three network namespaces the test creates: the edge's (wrangler
// dev, loopback only), the connector's, and the target's (sshd), the last two joined by one veth
// pair and nothing else. The connector reaches the edge only by dialling out (a unix-socket relay
// stands in for the internet); the test reaches the edge the same way. A full session runs through
// it, and from the edge's namespace the sshd cannot even be dialled. No packet leaves the namespaces.
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { enrollConnector, runConnector, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import type { Proc } from "../../scripts/stack/process.ts";
import type { Sshd } from "../../scripts/stack/sshd.ts";
import { loadState } from "../../connector/state.ts";
import { createIsolatedNamespace, type createLink, missingNetns, namespacedTarget } from "../support/netns.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const SSH_PORT = 2222;

describeWithPeers("sshd reachable only from the connector's namespace", missingPeers() ?? missingNetns(), () => {
  let stack: Stack;
  let edgeNs: ReturnType<typeof createIsolatedNamespace>;
  let link: ReturnType<typeof createLink>;
  let sshd: Sshd;
  let target: Awaited<ReturnType<typeof namespacedTarget>>;
  let connector: Proc;
  let serverId = "";
  let credentialId = "";

  beforeAll(async () => {
    edgeNs = createIsolatedNamespace("psme");
    stack = await startStack({ edgeNetns: edgeNs.name });
    // Only the namespaced connector may serve this site.
    target = await namespacedTarget(stack, { prefix: "psm", sshPort: SSH_PORT, edgeNetns: edgeNs.name });
    ({ link, sshd } = target);
    const { token } = await stack.admin.enrollmentToken(stack.siteId);
    const state = join(stack.dir, "connector-ns");
    const { sealKey } = await loadState(stack.connectorState);
    const sealKeyFile = join(stack.dir, "seal.json");
    await writeFile(sealKeyFile, JSON.stringify(sealKey), { mode: 0o600 });
    await enrollConnector(stack.edge.url, token, state, "connector-ns", sealKeyFile);
    // The site allows exactly the targets' network; no loopback.
    await writeConnectorConfig(state, { allowedTargets: [`${link.addrB}/32`], metricsPort: 0 });
    connector = await runConnector(state, { netns: link.a });
    const server = await stack.admin.createServer({
      name: "isolated",
      host: link.addrB,
      port: SSH_PORT,
      zoneId: stack.zoneId,
      hostKey: sshd.hostKeyFingerprint,
    });
    serverId = server.id;
    credentialId = (
      await stack.admin.createCredential({
        name: "isolated password",
        username: stack.targetUser,
        kind: "password",
        zoneId: stack.zoneId,
        secret: stack.canary,
        serverIds: [server.id],
      })
    ).id;
  });
  afterAll(async () => {
    await connector?.stop();
    await target?.stop();
    await stack?.stop();
    edgeNs?.remove();
  });

  it("runs a full session through the connector's namespace", async () => {
    const { id } = await stack.user.openSession(serverId, credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("echo ns-$((6*7)) $(whoami)\n");
    await t.waitForOutput(`ns-42 ${stack.targetUser}`);
    t.type("exit\n");
    expect(await t.waitForEnd()).toBe("user_exit");
    // sshd saw the connector's namespace address, nothing else.
    expect(await sshd.log()).toContain(`Connection from ${link.addrA}`);
    expect(connector.output()).toContain(`"session.connected"`);
  });

  /** Dials the sshd from inside a namespace; returns "connected" or the error code. */
  function dialFrom(ns: string): string {
    const script = `const s=require("node:net").connect(${SSH_PORT},${JSON.stringify(link.addrB)});const t=setTimeout(()=>{console.log("timeout");process.exit(0)},3000);s.on("connect",()=>{console.log("connected");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)})`;
    return execFileSync("ip", ["netns", "exec", ns, process.execPath, "-e", script], { encoding: "utf8" }).trim();
  }

  it("cannot reach the sshd from where the edge runs; the connector's namespace can", () => {
    expect(dialFrom(edgeNs.name)).toBe("ENETUNREACH");
    expect(dialFrom(link.a)).toBe("connected");
    // The edge's namespace has no interface but loopback: no route to any target exists there.
    const links = execFileSync("ip", ["netns", "exec", edgeNs.name, "ip", "-o", "link"], { encoding: "utf8" });
    expect(
      links
        .trim()
        .split("\n")
        .map((l) => l.split(":")[1]!.trim()),
    ).toEqual(["lo"]);
  });
});
