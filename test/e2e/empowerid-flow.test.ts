// EmpowerID mode through the whole product: the admin stores only EmpowerID's reference for a
// credential (in the page, in Chromium); the user's session grant carries that reference; the connector asks a (fake)
// EmpowerID to release the password for this user and logs into a real sshd with it. A refusal
// reaches the user as `credential_refused`.
import { join } from "node:path";
import type { ServerSummary, StepUpDecision } from "../../protocol/index.ts";
import { masterPasswordVerifier } from "../../protocol/master-password.ts";
import { sealSecret } from "../../keys/seal.ts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LOOPBACK_TARGETS, writeConnectorConfig } from "../../scripts/stack/connector.ts";
import { FakeEmpowerId } from "../fakes/empowerid.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { allBytes } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("EmpowerID as the credential authority, end to end", missingPeers() ?? chromiumMissing(), () => {
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
    // The admin adds the credential in the page: EmpowerID as the source, a reference, no secret.
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await signInPage(page, stack.edge.url, "admin", "admin-password-1");
      await page.goto(`${stack.edge.url}/#/admin/credentials`);
      await page.fill("#cred-name", "vaulted in EmpowerID");
      await page.fill("#cred-username", stack.targetUser);
      await page.selectOption("#cred-source", "empowerid");
      expect(await page.isHidden("#cred-secret")).toBe(true);
      await page.selectOption("#cred-zone", stack.zoneId);
      await page.check(`#cred-servers input[value="${stack.serverId}"]`);
      await page.fill("#cred-external-ref", "EID-CRED-42");
      await page.click("#cred-submit");
      await page.waitForSelector("#cred-message:not([hidden])");
      expect(await page.textContent("#cred-message")).toContain("stays in EmpowerID");
    } finally {
      await browser.close();
    }
    const servers = await stack.admin.request<ServerSummary[]>("GET", "/api/servers");
    credentialId = servers
      .find((s) => s.id === stack.serverId)!
      .credentials.find((c) => c.name === "vaulted in EmpowerID")!.id;
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

  const master = `Eid-master-${Date.now()}`;

  it("the seed's flow: the master password travels sealed from the browser to EmpowerID, which authorises the release", async () => {
    fake.mode = "approve";
    fake.masterPassword = master;
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "EmpowerID with master password",
      masterPasswordRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    try {
      await stack.user.request("POST", "/api/me/master-password", { verifier: await masterPasswordVerifier(master) });
      const connect = async (typed: string) => {
        const cart = await stack.user.submitCart([
          { serverId: stack.serverId, credentialId, minutes: 10, justification: "master password to EmpowerID" },
        ]);
        const held = cart.results[0]!;
        if (!held.ok) throw new Error(`checkout refused: ${held.error}`);
        const decision = await stack.user.request<StepUpDecision>("GET", `/api/checkouts/${held.checkout.id}/step-up`);
        expect(decision.masterPassword).toBe(true);
        const { id } = await stack.user.request<{ id: string }>("POST", "/api/sessions", {
          checkoutId: held.checkout.id,
          masterPasswordSealed: await sealSecret(decision.sealKey!, typed),
        });
        return TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      };
      const ok = await connect(master);
      await ok.waitForState("connected");
      expect(fake.masterPasswordsSeen).toContain(master);
      ok.close();
      // A wrong one: EmpowerID refuses the release, and nothing opens.
      const wrong = await connect("not-the-eid-master");
      expect(await wrong.waitForEnd()).toBe("credential_refused");
      wrong.close();
    } finally {
      fake.masterPassword = undefined;
      await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: null });
    }
  });

  it("keeps the released password and the master password out of every browser-bound byte, log and edge state byte", async () => {
    const edgeState = allBytes(join(stack.dir, "edge"));
    expect(edgeState.includes(master)).toBe(false);
    expect(edgeState.includes(stack.canary)).toBe(false);
    expect([...stack.user.responses, ...stack.admin.responses].join("\n")).not.toContain(master);
    expect(await stack.logs()).not.toContain(master);
    const http = [...stack.user.responses, ...stack.admin.responses].join("\n");
    expect(http).not.toContain(stack.canary);
    expect(http).not.toContain(fake.clientSecret);
    const logs = await stack.logs();
    expect(logs).not.toContain(stack.canary);
    expect(logs).not.toContain(fake.clientSecret);
  });
});
