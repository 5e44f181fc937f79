// The monitored person cannot decide what is monitored: through a real sshd, the session's own user
// reconnects with a resume offset the room never produced, then with a low one, and types. Before the
// fix the room then skipped the target's output for the recording and the admin watching live while
// still sending it to the user, and the recording verified as complete. Now the lie is refused (4001)
// and audited, and what the user sees next is on the admin's screen and in the recording.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RecordingSummary } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("a user lying about output offsets", missingPeers(), () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "recorded and watched",
      recordingRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
  }, 120_000);

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await stack?.stop();
  });

  async function storedRecording(sessionId: string): Promise<RecordingSummary> {
    for (let i = 0; i < 200; i++) {
      const list = await stack.admin.request<RecordingSummary[]>("GET", "/api/recordings");
      const found = list.find((r) => r.sessionId === sessionId);
      if (found?.status === "stored") return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`recording of ${sessionId} not stored`);
  }

  it("cannot hide output from the recording or the admin watching live", async () => {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const user = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await user.waitForState("connected");
    await user.waitForOutput("$");
    const admin = await TerminalClient.open(stack.edge.url, id, stack.admin.sessionCookie, { socket: "watch" });
    user.type("echo before-$((6*7))\n");
    await user.waitForOutput("before-42");
    await admin.waitForOutput("before-42");
    const real = user.offset!;
    user.drop();

    // The lie: "I have received ten million bytes".
    const liar = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { resume: real + 10_000_000 });
    await liar.until("refused or resumed", () =>
      liar.closeCode !== undefined || liar.messages.some((m) => m.type === "sync") ? true : undefined,
    );
    liar.close();
    // Then a resume from the start, and output the user wants nobody to see.
    const again = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { resume: 0 });
    await again.waitForState("connected");
    again.type("echo hidden-$((6*7))-$((7*8))\n");
    await again.waitForOutput("hidden-42-56");
    await admin.waitForOutput("hidden-42-56", 10_000);
    again.type("exit\n");
    expect(await again.waitForEnd(10_000)).toBe("user_exit");
    again.close();
    admin.close();

    const summary = await storedRecording(id);
    const cast = await (
      await fetch(`${stack.edge.url}/api/recordings/${summary.id}/cast`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
    expect(cast).toContain("hidden-42-56");
    expect(liar.closeCode).toBe(4001);
    const audit = await stack.admin.request<{ action: string; refs: { sessionId?: string } }[]>(
      "GET",
      "/api/audit?limit=500",
    );
    expect(audit.some((e) => e.action === "session.protocol_violation" && e.refs.sessionId === id)).toBe(true);
  });
});
