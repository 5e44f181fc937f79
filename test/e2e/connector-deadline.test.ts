// The connector's own backstop: it ends the SSH session at the grant's deadline even when the edge
// has gone silent (socket open, nothing answering), with a real sshd as the target.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { generateIdentityKey, generateSealKey, publicJwk } from "../../connector/keys.ts";
import { sealSecret } from "../../connector/seal.ts";
import { TargetSession } from "../../connector/session.ts";
import type { ConnectorState } from "../../connector/state.ts";
import { type Sshd, startSshd } from "../../scripts/stack/sshd.ts";
import { describeWithPeers } from "../support/peers.ts";
import { createTargetUser, missingPeers, newCanary, removeTargetUser } from "../support/stack.ts";

describeWithPeers("connector deadline backstop", missingPeers(), () => {
  let dir: string;
  let sshd: Sshd;
  let silentEdge: WebSocketServer;
  const canary = newCanary();
  let targetUser = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "psm-deadline-"));
    targetUser = createTargetUser(canary);
    sshd = await startSshd({ dir: join(dir, "sshd"), passwordAuthentication: true, allowUsers: [targetUser] });
    // An "edge" that accepts the data socket and then never says anything again.
    silentEdge = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  });
  afterAll(async () => {
    silentEdge?.close();
    await sshd?.stop();
    if (targetUser) removeTargetUser(targetUser);
    await rm(dir, { recursive: true, force: true });
  });

  it("closes the SSH connection at the deadline with no word from the edge", async () => {
    const sealKey = await generateSealKey();
    const { port } = silentEdge.address() as { port: number };
    const state: ConnectorState = {
      edgeUrl: `http://127.0.0.1:${port}`,
      connectorId: "c-test",
      siteId: "s-test",
      identityKey: await generateIdentityKey(),
      sealKey,
      edgeKey: {},
    };
    const received: string[] = [];
    silentEdge.on("connection", (ws) =>
      ws.on("message", (data, isBinary) => !isBinary && received.push(data.toString())),
    );
    const deadline = Date.now() + 3000;
    const logLines: string[] = [];
    let endedAt = 0;
    const session = new TargetSession(
      state,
      "session-deadline",
      {
        iss: "psm-edge",
        sub: "session-deadline",
        aud: "site:s-test",
        jti: "j",
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
        dl: Math.ceil(deadline / 1000),
        usr: { id: "u", name: "alice" },
        tgt: { host: "127.0.0.1", port: sshd.port, protocol: "ssh", hostKey: sshd.hostKeyFingerprint },
        cred: {
          id: "c",
          username: targetUser,
          kind: "password",
          sealed: await sealSecret(publicJwk(sealKey), canary),
        },
        rec: { required: false, keystrokes: false },
        ch: ["shell"],
      },
      (event, fields) => logLines.push(JSON.stringify({ event, ...fields })),
      () => {
        endedAt = Date.now();
      },
    );
    await session.start();
    await expect.poll(() => received.some((m) => m.includes('"connected"')), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => endedAt, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(endedAt).toBeGreaterThanOrEqual(Math.ceil(deadline / 1000) * 1000 - 50);
    expect(endedAt - Math.ceil(deadline / 1000) * 1000).toBeLessThan(1500);
    await expect
      .poll(async () => sshd.log(), { timeout: 5000 })
      .toMatch(/(Disconnected from|Received disconnect from).*127\.0\.0\.1/);
    expect(received).toContainEqual(JSON.stringify({ type: "end", reason: "time_limit" }));
    expect(logLines.join("\n")).not.toContain(canary);
  });
});
