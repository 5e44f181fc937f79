// Adversarial suite, credential secrecy: the canary (the target account's real password, unique per
// run) through the credential's whole life and every way a session can fail, with real peers
// (wrangler dev, OpenSSH, the connector). Guarantee: no API response, no socket frame to a browser,
// no edge or connector log line and no error text ever holds the canary, a sealed blob, a grant or a
// connector token.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

/** A compact JWS/JWE (grants, connector tokens, sealed blobs): three or five base64url parts from "eyJ". */
const COMPACT_JOSE = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{8,}/;

describeWithPeers("adversarial: credential secrecy", missingPeers(), () => {
  let stack: Stack;
  /** Every byte a browser-side client received: API bodies and headers, socket frames. */
  const browserBound: string[] = [];

  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  /** Opens a session on `serverId` with `credentialId` and returns how it ended, keeping every frame. */
  async function sessionEnd(serverId: string, credentialId: string): Promise<string | undefined> {
    const { id } = await stack.user.openSession(serverId, credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    const reason = await client.waitForEnd(20_000).catch(() => undefined);
    client.close();
    browserBound.push(...client.received.map((b) => b.toString("latin1")));
    return reason;
  }

  it("attack: make every error path speak — guarantee: the canary, sealed blobs, grants and tokens stay out of every browser-bound byte and log", async () => {
    const { admin, canary } = stack;
    // 1. A session that works, with the canary typed at a no-echo prompt too.
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const ok = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await ok.waitForState("connected");
    // The prompt is spelled $'p\x77: ' so the echoed command line never contains "pw: ": only read's own prompt,
    // printed once echo is off, does (a loaded CI run typed the canary into the echoed command line's wake).
    ok.type("read -s -p $'p\\x77: ' X; echo read-${#X}\n");
    await ok.waitForOutput("pw: ");
    ok.type(`${canary}\n`);
    await ok.waitForOutput(`read-${canary.length}`);
    ok.type("exit\n");
    await ok.waitForEnd(10_000);
    ok.close();
    browserBound.push(...ok.received.map((b) => b.toString("latin1")));

    // 2. The wrong host key pinned: the session must end before any authentication.
    const wrongKey = await admin.createServer({
      name: "wrong-key",
      host: "127.0.0.1",
      port: stack.sshd.port,
      zoneId: stack.zoneId,
      hostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    });
    // 3. Nobody listens on the target's port.
    const closed = await admin.createServer({
      name: "closed-port",
      host: "127.0.0.1",
      port: 9,
      zoneId: stack.zoneId,
      hostKey: stack.sshd.hostKeyFingerprint,
    });
    // 4. The right account with a wrong password (the canary reversed), and a "key" that is the canary.
    const wrongPassword = await admin.createCredential({
      name: "wrong password",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: [...canary].reverse().join(""),
      serverIds: [stack.serverId],
    });
    const canaryKey = await admin.createCredential({
      name: "canary as a key",
      username: stack.targetUser,
      kind: "private_key",
      zoneId: stack.zoneId,
      secret: `-----BEGIN OPENSSH PRIVATE KEY-----\n${canary}\n-----END OPENSSH PRIVATE KEY-----\n`,
      serverIds: [stack.serverId],
    });
    const boundToAll = await admin.createCredential({
      name: "canary everywhere",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: canary,
      serverIds: [wrongKey.id, closed.id],
    });
    expect(await sessionEnd(wrongKey.id, boundToAll.id)).toBe("host_key_mismatch");
    expect(await sessionEnd(closed.id, boundToAll.id)).toBeDefined();
    expect(await sessionEnd(stack.serverId, wrongPassword.id)).toBe("auth_failed");
    expect(await sessionEnd(stack.serverId, canaryKey.id)).toBe("credential_invalid");

    // 5. The API's views and errors of credentials and sessions, as admin and as user.
    for (const path of [
      "/api/credentials",
      `/api/credentials/${stack.credentialId}`,
      "/api/sessions",
      "/api/audit?limit=500",
    ])
      await admin.request("GET", path).catch(() => undefined);
    await admin.request("PATCH", `/api/credentials/${stack.credentialId}`, { sealed: 42 }).catch(() => undefined);
    await stack.user.request("GET", `/api/credentials/${stack.credentialId}`).catch(() => undefined);
    browserBound.push(...admin.responses, ...stack.user.responses);

    const bytes = browserBound.join("\n");
    expect(bytes).not.toContain(canary);
    // The browser's own sign-in cookie is a JWT it is meant to hold; nothing else compact-JOSE is.
    expect(bytes.replace(/^set-cookie: .*$/gim, "").match(COMPACT_JOSE)?.[0]).toBeUndefined();
    const logs = await stack.logs();
    expect(logs).not.toContain(canary);
    // Connector tokens, grants and sealed blobs are all compact JOSE: none may be logged.
    expect(logs.match(COMPACT_JOSE)?.[0]).toBeUndefined();
  });
});
