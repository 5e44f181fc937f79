// Resume without loss against a real sshd: a browser that drops mid-output resumes from its offset,
// and a connector whose link to the edge is cut redials and resends; either way every line printed
// arrives exactly once, in order. A granted extension reaches the connector as a verified grant.
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithPeers } from "../support/peers.ts";
import { connectorThroughProxy } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import type { TcpProxy } from "../support/tcp-proxy.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines L1..Ln (each exactly once, in order) found in the output. */
function numberedLines(text: string): number[] {
  return [...text.matchAll(/^L(\d+)\r?$/gm)].map((m) => Number(m[1]));
}
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Prints L1..Ln, 10 ms apart, then DONE (spelled so the command's echo does not match). */
const counter = (n: number) => `for i in $(seq 1 ${n}); do echo L$i; sleep 0.01; done; echo DO''NE\n`;

describeWithPeers("resume without loss", missingPeers(), () => {
  let stack: Stack;
  let proxy: TcpProxy;
  beforeAll(async () => {
    stack = await startStack();
    // The connector reaches the edge through a proxy whose connections the test can cut.
    proxy = await connectorThroughProxy(stack);
    await sleep(500);
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  async function open() {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    await client.waitForOutput("$");
    return { id, client };
  }

  it("a browser that drops mid-output resumes from its offset: every line once, in order", async () => {
    const { id, client } = await open();
    client.type(counter(300));
    await client.waitForOutput("L50\r\n");
    client.drop();
    const offset = client.offset!;
    expect(offset).toBeGreaterThan(0);
    await sleep(800); // the shell keeps printing while the browser is away
    const reconnected = performance.now();
    const again = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { resume: offset });
    await again.until("the first resumed byte", () => (again.output.length > 0 ? true : undefined));
    const firstByte = performance.now() - reconnected;
    await again.waitForOutput("DONE", 30_000).catch((err) => {
      throw new Error(`${err}; close ${again.closeCode}; messages ${JSON.stringify(again.messages)}`);
    });
    console.log(
      `browser resume from offset ${offset}: first missed byte ${firstByte.toFixed(0)} ms after reconnecting; 300 of 300 lines, each once`,
    );
    expect(again.messages).toContainEqual({ type: "sync", at: offset, reset: false });
    expect(numberedLines(client.output + again.output)).toEqual(oneToN(300));
    again.type("echo still-$((6*7))\n");
    await again.waitForOutput("still-42");
    again.close();
  });

  it("a cut between connector and edge is redialled and resent: every line once, the session lives on", async () => {
    const { client } = await open();
    client.type(counter(300));
    await client.waitForOutput("L50\r\n");
    expect(proxy.cut()).toBeGreaterThan(0);
    await client.waitForOutput("DONE", 30_000);
    expect(numberedLines(client.output)).toEqual(oneToN(300));
    expect(client.endReason).toBeUndefined();
    client.type("echo after-cut-$((6*7))\n");
    await client.waitForOutput("after-cut-42");
    const logs = await stack.logs();
    expect(logs).toContain("session.edge_lost");
    const down = /session\.resumed.*?downMs\D+(\d+)/.exec(logs)?.[1];
    expect(down).toBeDefined();
    console.log(`connector-edge cut: data socket back after ${down} ms; 300 of 300 lines, each once`);
    client.close();
  });

  it("a granted extension reaches the connector, which verifies the fresh grant and moves its backstop", async () => {
    const { id, client } = await open();
    const before = client.messages.find((m) => m.type === "hello") as { deadline: number };
    const res = await stack.user.request<{ status: string; deadline: number }>(
      "POST",
      `/api/sessions/${id}/extensions`,
      {
        minutes: 30,
        reason: "long migration",
      },
    );
    expect(res).toMatchObject({ status: "granted", deadline: before.deadline + 30 * 60_000 });
    await client.until("extended", () => client.messages.find((m) => m.type === "extended"));
    for (let i = 0; i < 100 && !(await stack.logs()).includes("session.extended"); i++) await sleep(50);
    expect(await stack.logs()).toContain(`"session.extended"`);
    client.close();
  });
});
