// Adversarial suite, time limits under crash and partition, with real peers (wrangler dev, OpenSSH,
// the connector process). A session must never outlive what governs it:
// - the connector is killed (kill -9) mid-session: the user hears `connector_lost` once the redial grace
//   is over, the target's processes under the pty hang up, and the restarted connector does not bring
//   the session back;
// - the connector's link to the edge is cut and stays cut: the session ends for the user, and the
//   connector's side hangs up too rather than keeping a shell nobody can watch.
// (The deadline's own alarm after an eviction: durable/session-resume.workers.test.ts; the connector's
// deadline backstop with the edge silent: test/e2e/connector-deadline.test.ts.)
import { afterAll, beforeAll, expect, it } from "vitest";
import { CONNECTOR_RESUME_GRACE_MS } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { alive, connectorThroughProxy, sessionWithSleeper, until } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import type { TcpProxy } from "../support/tcp-proxy.ts";

describeWithPeers("adversarial: time limits under crash and partition", missingPeers(), () => {
  let stack: Stack;
  let proxy: TcpProxy;

  beforeAll(async () => {
    stack = await startStack();
    // The connector reaches the edge through a proxy the test can cut.
    proxy = await connectorThroughProxy(stack);
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  /** A session with a background process under its pty, once the (restarted) connector is back online. */
  async function sessionWithSleeperWhenReady() {
    for (let i = 0; ; i++) {
      try {
        return await sessionWithSleeper(stack);
      } catch (err) {
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  it("attack: kill -9 the connector mid-session — guarantee: the session ends as connector_lost and its processes hang up", async () => {
    const { id, client, pid } = await sessionWithSleeperWhenReady();
    await stack.restartConnector(); // SIGKILL, then a fresh process
    expect(await client.waitForEnd(CONNECTOR_RESUME_GRACE_MS + 10_000)).toBe("connector_lost");
    await until("the pty's process to hang up", () => !alive(pid), 10_000);
    // The restarted connector knows nothing of it: the session stays ended.
    const row = await stack.user.request<{ status: string; endReason: string | null }>("GET", `/api/sessions/${id}`);
    expect(row).toMatchObject({ status: "ended", endReason: "connector_lost" });
    client.close();
  });

  it("attack: cut the connector off the edge for good — guarantee: the session ends on both sides", async () => {
    const { client, pid } = await sessionWithSleeperWhenReady();
    proxy.setBlocked(true);
    expect(proxy.cut()).toBeGreaterThan(0);
    const reason = await client.waitForEnd(CONNECTOR_RESUME_GRACE_MS + 10_000).catch((err) => {
      throw new Error(`${err}; close ${client.closeCode}; messages ${JSON.stringify(client.messages)}`);
    });
    expect(reason).toBe("connector_lost");
    // The connector cannot hear that the session ended; it gives up redialling and hangs up itself.
    await until("the connector to hang up the target", () => !alive(pid), 60_000);
    proxy.setBlocked(false);
    client.close();
  });
});
