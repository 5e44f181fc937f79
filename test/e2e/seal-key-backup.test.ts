// A site whose connectors all died is restored from a seal key backup, with real peers (wrangler dev, the
// psm-connector CLI and process, OpenSSH): the admin makes a recovery key pair, backs the site key up on the
// connector host, loses the host, restores the key from the backup with the offline recovery key, enrolls a
// new connector with it, and the vaulted credential opens a session again. The edge is never involved in
// the backup: it sees no key it could open.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectorCommand, enrollConnector, runConnector } from "../../scripts/stack/connector.ts";
import type { Proc } from "../../scripts/stack/process.ts";
import { describeWithPeers } from "../support/peers.ts";
import { allBytes } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("seal key backup and restore", missingPeers(), () => {
  let stack: Stack;
  let replacement: Proc | undefined;

  beforeAll(async () => {
    stack = await startStack();
  }, 180_000);
  afterAll(async () => {
    await replacement?.stop();
    await stack?.stop();
  });

  it("restores a site whose only connector died: the new connector opens the vaulted credential", async () => {
    const dir = join(stack.dir, "backup");
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const recoveryPrivate = join(dir, "recovery.jwk");
    const recoveryPublic = join(dir, "recovery.pub.jwk");
    const backupFile = join(dir, "site.backup.json");
    // 1. The admin's recovery key pair; the private half goes offline.
    await writeFile(recoveryPublic, await connectorCommand(["recovery-key", "--out", recoveryPrivate]));
    // 2. On the connector host: the site key, sealed to the recovery key.
    await connectorCommand([
      "backup-seal-key",
      "--state",
      stack.connectorState,
      "--recovery-public",
      recoveryPublic,
      "--out",
      backupFile,
    ]);
    const state = JSON.parse(await readFile(join(stack.connectorState, "connector.json"), "utf8"));
    const backup = await readFile(backupFile, "utf8");
    expect(backup).not.toContain(state.sealKey.d);

    // 3. The host is lost.
    stack.connector.child.kill("SIGKILL");
    await stack.connector.stop();
    await rm(stack.connectorState, { recursive: true, force: true });

    // 4. Restore needs the matching recovery key: another one is refused.
    const other = join(dir, "other.jwk");
    await connectorCommand(["recovery-key", "--out", other]);
    await expect(
      connectorCommand([
        "restore-seal-key",
        "--backup",
        backupFile,
        "--recovery-key",
        other,
        "--out",
        join(dir, "x.jwk"),
      ]),
    ).rejects.toThrow(/another recovery key/);
    expect(existsSync(join(dir, "x.jwk"))).toBe(false);
    const restored = join(dir, "site-seal-key.jwk");
    await connectorCommand([
      "restore-seal-key",
      "--backup",
      backupFile,
      "--recovery-key",
      recoveryPrivate,
      "--out",
      restored,
    ]);

    // 5. A new connector for the same site, with the restored key; the vaulted credential works again.
    const { token } = await stack.admin.enrollmentToken(stack.siteId);
    const newState = join(stack.dir, "connector-2");
    await enrollConnector(stack.edge.url, token, newState, "replacement", restored);
    replacement = await runConnector(newState);
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("echo restored-$((6*7))\n");
    await t.waitForOutput("restored-42");
    t.close();
    // The private seal key never reached the edge.
    expect(allBytes(join(stack.dir, "edge")).includes(state.sealKey.d)).toBe(false);
  }, 180_000);
});
