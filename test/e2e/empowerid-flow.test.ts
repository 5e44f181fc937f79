// EmpowerID mode through the whole product: the admin stores only EmpowerID's reference for a
// credential; the user's session grant carries that reference; the connector asks a (fake)
// EmpowerID to release the password for this user and logs into a real sshd with it. A refusal
// reaches the user as `credential_refused`.
import { afterAll, beforeAll, expect, it } from "vitest";
import { LOOPBACK_TARGETS, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { FakeEmpowerId } from "../fakes/empowerid.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("EmpowerID as the credential authority, end to end", missingPeers(), () => {
  let stack: Stack;
  let fake: FakeEmpowerId;
  let credentialId = "";

  beforeAll(async () => {
    [stack, fake] = await Promise.all([startStack(), new FakeEmpowerId().start()]);
    fake.secret = stack.canary; // EmpowerID vaults the target account's password
    await writeConnectorConfig(stack.connectorState, {
      allowedTargets: LOOPBACK_TARGETS,
      metricsPort: 0,
      credentialProvider: "empowerid",
      empowerid: { baseUrl: fake.url, clientId: fake.clientId, clientSecret: fake.clientSecret, apiKey: fake.apiKey },
    });
    await stack.restartConnector();
    credentialId = (
      await stack.admin.request<{ id: string }>("POST", "/api/credentials", {
        name: "vaulted in EmpowerID",
        username: stack.targetUser,
        kind: "password",
        zoneId: stack.zoneId,
        externalRef: "EID-CRED-42",
        serverIds: [stack.serverId],
      })
    ).id;
  });
  afterAll(async () => {
    await fake?.stop();
    await stack?.stop();
  });

  it("logs in with the password EmpowerID released for this user, and reports the session's stages", async () => {
    fake.mode = "approve";
    const { id } = await stack.user.openSession(stack.serverId, credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("echo eid-$((20+22)) $(whoami)\n");
    await t.waitForOutput(`eid-42 ${stack.targetUser}`);
    const checkout = [...fake.checkouts.values()].find((c) => c.sessionId === id)!;
    expect(checkout).toMatchObject({ user: "alice", credential: "EID-CRED-42" });
    await expect.poll(() => checkout.status, { timeout: 10_000 }).toBe("Connected");
    t.type("exit\n");
    expect(await t.waitForEnd()).toBe("user_exit");
    await expect.poll(() => checkout.status, { timeout: 10_000 }).toBe("Ended");
    expect(checkout.reason).toBe("user_exit");
  });

  it("tells the user when EmpowerID refuses, and opens nothing", async () => {
    fake.mode = "refuse";
    const { id } = await stack.user.openSession(stack.serverId, credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    expect(await t.waitForEnd()).toBe("credential_refused");
    expect(fake.open()).toEqual([]);
  });

  it("keeps the released password out of every browser-bound byte and log", async () => {
    const http = [...stack.user.responses, ...stack.admin.responses].join("\n");
    expect(http).not.toContain(stack.canary);
    expect(http).not.toContain(fake.clientSecret);
    const logs = await stack.logs();
    expect(logs).not.toContain(stack.canary);
    expect(logs).not.toContain(fake.clientSecret);
  });
});
