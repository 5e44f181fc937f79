// End to end with real parts: wrangler dev (the edge), a real OpenSSH sshd with a password user,
// and the real psm-connector process. A Node client speaks the browser's exact protocol.
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../scripts/stack/process.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("SSH session through edge and connector", missingPeers(), () => {
  let stack: Stack;
  const clients: TerminalClient[] = [];

  async function connect(serverId = stack.serverId, credentialId = stack.credentialId) {
    const { id } = await stack.user.openSession(serverId, credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { cols: 100, rows: 30 });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("runs whoami and echo in a real shell", async () => {
    const t = await connect();
    await t.waitForState("connected");
    t.type("whoami; echo marker-$((40+2))\n");
    const out = await t.waitForOutput("marker-42");
    expect(out).toMatch(new RegExp(`[\\r\\n]${stack.targetUser}\\r\\n`));
    t.type("exit\n");
    expect(await t.waitForEnd()).toBe("user_exit");
  });

  it("resizes the remote pty", async () => {
    const t = await connect();
    await t.waitForState("connected");
    t.resize(123, 45);
    t.type("stty size\n");
    await t.waitForOutput("45 123");
    t.close();
  });

  it("refuses a host key mismatch before any authentication attempt", async () => {
    const before = await stack.sshd.log();
    const server = await stack.admin.createServer({
      name: "wrong-pin",
      host: "127.0.0.1",
      port: stack.sshd.port,
      zoneId: stack.zoneId,
      hostKey: `SHA256:${"x".repeat(43)}`,
    });
    const cred = await stack.admin.createCredential({
      name: "pw for wrong pin",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: stack.canary,
      serverIds: [server.id],
    });
    const t = await connect(server.id, cred.id);
    expect(await t.waitForEnd()).toBe("host_key_mismatch");
    await new Promise((r) => setTimeout(r, 300));
    const added = (await stack.sshd.log()).slice(before.length);
    expect(added).toMatch(/Connection (from|closed by) 127\.0\.0\.1/);
    expect(added).not.toMatch(/Accepted|Failed|authenticating user|Invalid user|userauth|Postponed/i);
  });

  it("fetches the host key through the connector: shows what the server presents, pins nothing", async () => {
    type Probe = { ok: boolean; fingerprint?: string; matchesPinned?: boolean; connector?: string; error?: string };
    const probe = (id: string) => stack.admin.request<Probe>("POST", `/api/servers/${id}/host-key/probe`, {});
    const pinned = await probe(stack.serverId);
    expect(pinned).toMatchObject({ ok: true, matchesPinned: true, keyType: "ssh-ed25519" });
    expect(pinned.connector).toBeTruthy();

    const wrong = `SHA256:${"y".repeat(43)}`;
    const add = (name: string, host: string, port: number) =>
      stack.admin.createServer({ name, host, port, zoneId: stack.zoneId, hostKey: wrong });
    const misPinned = await add("probe-wrong-pin", "127.0.0.1", stack.sshd.port);
    const presented = await probe(misPinned.id);
    expect(presented).toMatchObject({ ok: true, matchesPinned: false, fingerprint: pinned.fingerprint });
    // Nothing was pinned by asking.
    const listed = await stack.admin.request<Array<{ id: string; hostKey: string }>>("GET", "/api/servers");
    expect(listed.find((s) => s.id === misPinned.id)?.hostKey).toBe(wrong);

    const closed = await add("probe-closed", "127.0.0.1", await freePort());
    expect(await probe(closed.id)).toEqual({ ok: false, error: "unreachable" });
    // Outside the site's allowed target ranges: the connector does not even connect.
    const outside = await add("probe-outside", "10.255.255.1", 22);
    expect(await probe(outside.id)).toEqual({ ok: false, error: "refused" });
  });

  it("reports a refused credential as auth_failed", async () => {
    const cred = await stack.admin.createCredential({
      name: "stale password",
      username: stack.targetUser,
      kind: "password",
      zoneId: stack.zoneId,
      secret: "not-the-password",
      serverIds: [stack.serverId],
    });
    const t = await connect(stack.serverId, cred.id);
    expect(await t.waitForEnd()).toBe("auth_failed");
  });

  it("closes a socket that sends a malformed frame and keeps other sessions serving", async () => {
    const a = await connect();
    const b = await connect();
    await Promise.all([a.waitForState("connected"), b.waitForState("connected")]);
    a.ws.send(Buffer.from([0x7f, 0x00]));
    expect(await a.waitForClose()).toBe(4001);
    b.type("echo still-$((1+1))\n");
    await b.waitForOutput("still-2");
    b.close();
  });

  it("survives a connector crash: the user learns why, and the restarted connector serves new sessions", async () => {
    const t = await connect();
    await t.waitForState("connected");
    await stack.restartConnector();
    expect(await t.waitForEnd()).toBe("connector_lost");
    const again = await connect();
    await again.waitForState("connected");
    again.type("echo back-$((3*3))\n");
    await again.waitForOutput("back-9");
    again.close();
  });

  it("never lets the canary password reach a browser-bound byte, a log or an error", async () => {
    expect(stack.canary).toMatch(/^Canary-/);
    const browserBytes = Buffer.concat(clients.flatMap((c) => c.received)).toString("latin1");
    const http = [...stack.user.responses, ...stack.admin.responses].join("\n");
    const logs = await stack.logs();
    expect(browserBytes.length).toBeGreaterThan(1000);
    expect(logs).toContain("session.connected");
    for (const haystack of [browserBytes, http, logs]) {
      expect(haystack).not.toContain(stack.canary);
      expect(haystack).not.toContain(Buffer.from(stack.canary).toString("base64"));
    }
    // Nor the sealed blob or a grant: the user's responses hold no JWE and no JWS.
    expect(
      http
        .split("\n\n")
        .filter((_, i) => i % 2 === 1)
        .join("\n"),
    ).not.toMatch(/eyJ[\w-]+\.[\w-]*\.[\w-]+\.[\w-]+\.[\w-]+/);
    expect(browserBytes).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});
