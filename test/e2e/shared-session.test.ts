// Shared sessions through the real stack (issue 19, docs/governance.md "Shared sessions"): wrangler dev, a real
// OpenSSH sshd, the real connector recording at the source. Alice invites bob (entitled to the same credential);
// bob accepts and types into alice's shell through his own socket; both see the output, each sees who is typing,
// and the stored recording attributes every keystroke: a `typing: <name>` marker before each change of writer, in
// order with the input and output. Taking the invitation back closes bob's socket; his keys reach nothing more.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RoomToBrowser } from "../../protocol/index.ts";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

type CastEvent = [number, string, string];

describeWithPeers("shared sessions on an SSH shell", missingPeers(), () => {
  let stack: Stack;
  let bob: EdgeClient;
  let alice: TerminalClient;
  let joined: TerminalClient;
  let sessionId: string;
  let invitationId: string;

  const of = <T extends RoomToBrowser["type"]>(t: TerminalClient, type: T) =>
    t.messages.filter((m): m is Extract<RoomToBrowser, { type: T }> => m.type === type);

  beforeAll(async () => {
    stack = await startStack();
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "shared",
      sessionSharing: true,
      recordingRequired: true,
      recordKeystrokes: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const user = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-1",
      roles: ["requester"],
    });
    const alice_ = await stack.admin.request<{ id: string; username: string }[]>("GET", "/api/users");
    const aliceId = alice_.find((u) => u.username === "alice")!.id;
    await stack.admin.request("PUT", `/api/groups/${stack.operatorsGroupId}/members`, { userIds: [aliceId, user.id] });
    bob = new EdgeClient(stack.edge.url);
    await bob.login("bob", "bob-password-1");

    ({ id: sessionId } = await stack.user.openSession(stack.serverId, stack.credentialId));
    alice = await TerminalClient.open(stack.edge.url, sessionId, stack.user.sessionCookie, { cols: 100, rows: 30 });
    await alice.waitForState("connected");
    // Typed once the shell shows its prompt: keys typed blind (before any echo) are redacted in the recording.
    await alice.waitForOutput("$ ");
    alice.type("echo alice-$((20+22))\r");
    await alice.waitForOutput("alice-42");
  });
  afterAll(async () => {
    alice?.close();
    joined?.close();
    await stack?.stop();
  });

  it("alice invites bob; he accepts and joins; his keys reach her shell and both see the output", async () => {
    const invitation = await stack.user.request<{ id: string; basis: string }>(
      "POST",
      `/api/sessions/${sessionId}/invitations`,
      { username: "bob", minutes: 5 },
    );
    invitationId = invitation.id;
    expect(invitation.basis).toBe("entitled");
    const mine = await bob.request<{ id: string; from: string }[]>("GET", "/api/invitations");
    expect(mine).toMatchObject([{ id: invitation.id, from: "alice" }]);
    await bob.request("POST", `/api/invitations/${invitation.id}/accept`);

    joined = await TerminalClient.open(stack.edge.url, sessionId, bob.sessionCookie, { socket: "join" });
    await alice.until("alice told bob joined", () =>
      of(alice, "participants").some((m) => m.writers.includes("bob")) ? true : undefined,
    );
    joined.type("echo bob-$((100+23))\r");
    await alice.waitForOutput("bob-123");
    await joined.waitForOutput("bob-123");
    await alice.until("alice sees bob typing", () =>
      of(alice, "typing").some((m) => m.name === "bob") ? true : undefined,
    );
    alice.type("echo alice-again-$((1+1))\r");
    await joined.waitForOutput("alice-again-2");
    await joined.until("bob sees alice typing", () =>
      of(joined, "typing").some((m) => m.name === "alice") ? true : undefined,
    );
  });

  it("taking the invitation back closes bob's socket; the recording attributes each writer's keystrokes", async () => {
    await stack.user.request("DELETE", `/api/sessions/${sessionId}/invitations/${invitationId}`);
    await joined.waitForClose(10_000);
    // His socket is gone and a new one is refused: nothing he holds reaches the shell.
    await expect(TerminalClient.open(stack.edge.url, sessionId, bob.sessionCookie, { socket: "join" })).rejects.toThrow(
      /403/,
    );
    alice.type("exit\r");
    expect(await alice.waitForEnd(10_000)).toBe("user_exit");

    const summary = await storedRecording(stack.admin, sessionId);
    const cast = await (
      await fetch(`${stack.edge.url}/api/recordings/${summary.id}/cast`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
    const events = cast
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as CastEvent);
    // Who typed each input event: the latest `typing:` marker before it (none yet: the session's user).
    let author = "alice";
    const typedBy = new Map<string, string>();
    for (const [, kind, data] of events) {
      if (kind === "m" && data.startsWith("typing: ")) author = data.slice("typing: ".length);
      if (kind === "i") typedBy.set(author, (typedBy.get(author) ?? "") + data);
    }
    expect(typedBy.get("bob")).toContain("echo bob-$((100+23))");
    expect(typedBy.get("bob")).not.toContain("alice");
    expect(typedBy.get("alice")).toContain("echo alice-$((20+22))");
    expect(typedBy.get("alice")).toContain("echo alice-again-$((1+1))");
    expect(typedBy.get("alice")).not.toContain("bob");
    const labels = events.filter(([, kind]) => kind === "m").map(([, , data]) => data);
    expect(labels).toEqual(
      expect.arrayContaining(["joined with input: bob", "typing: bob", "typing: alice", "left: bob"]),
    );
    expect(cast).not.toContain(stack.canary);

    const audit = await stack.admin.request<
      { action: string; actor?: { name: string }; refs: { sessionId?: string } }[]
    >("GET", `/api/audit?serverId=${stack.serverId}&limit=500`);
    const actions = audit
      .filter((e) => e.refs.sessionId === sessionId)
      .map((e) => `${e.action}:${e.actor?.name ?? ""}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        "session.invited:alice",
        "session.invitation_accepted:bob",
        "session.participant_joined:bob",
        "session.invitation_revoked:alice",
        "session.participant_left:bob",
      ]),
    );
  });
});
