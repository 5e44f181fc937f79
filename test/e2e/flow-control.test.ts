// Flow control end to end with a real sshd: a session flooding output (`yes`) into a slow reader
// never has more than the credit window in flight, keeps the connector's and the edge's memory
// flat, and a second session on the same connector stays responsive throughout. Input into a target
// that stops reading it is bounded on the connector too.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { OUTPUT_WINDOW } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

/** Resident memory of a process and its descendants, in MiB (Linux /proc). */
function rssMiB(rootPid: number): number {
  const children = (pid: number): number[] => {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
      return [pid, ...kids.flatMap(children)];
    } catch {
      return [pid];
    }
  };
  let kib = 0;
  for (const pid of children(rootPid)) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {}
  }
  return kib / 1024;
}

/** A 32 KiB SSH channel packet may land after credit hits zero: the bound on bytes in flight. */
const SLACK = 64 * 1024;
const FLOOD_MS = 30_000;

describeWithPeers("flow control", missingPeers(), () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("holds a flood to the reader's pace with flat memory, and the neighbour stays responsive", async () => {
    const flood = await TerminalClient.open(
      stack.edge.url,
      (await stack.user.openSession(stack.serverId, stack.credentialId)).id,
      stack.user.sessionCookie,
      {
        keepReceived: false,
        manualCredit: true,
      },
    );
    flood.onData = () => {};
    const neighbour = await TerminalClient.open(
      stack.edge.url,
      (await stack.user.openSession(stack.serverId, stack.credentialId)).id,
      stack.user.sessionCookie,
    );
    await Promise.all([flood.waitForState("connected"), neighbour.waitForState("connected")]);
    flood.credit();
    flood.type("yes\n");

    const connectorPid = stack.connector.child.pid!;
    const edgePid = stack.edge.proc.child.pid!;
    await new Promise((r) => setTimeout(r, 2000));
    const before = { connector: rssMiB(connectorPid), edge: rssMiB(edgePid) };
    const echoes: number[] = [];
    let maxInFlight = 0;
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < FLOOD_MS) {
      // The slow reader: 64 KiB every 100 ms, about 640 KiB/s.
      flood.credit(64 * 1024);
      maxInFlight = Math.max(maxInFlight, flood.bytesIn - flood.credited);
      if (n++ % 5 === 0) {
        const t0 = performance.now();
        neighbour.type(`echo pong-$((${n}*2))\n`);
        await neighbour.waitForOutput(`pong-${n * 2}\r\n`, 5000).catch((err: Error) => {
          throw new Error(
            `${err.message.slice(0, 200)}; neighbour ended: ${neighbour.endReason}, close ${neighbour.closeCode}`,
          );
        });
        echoes.push(performance.now() - t0);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = { connector: rssMiB(connectorPid), edge: rssMiB(edgePid) };
    const read = flood.bytesIn;
    echoes.sort((a, b) => a - b);
    console.log(
      `flow control: ${(read / 1048576).toFixed(1)} MiB read in ${FLOOD_MS / 1000} s, max in flight ${(maxInFlight / 1024).toFixed(0)} KiB; ` +
        `connector RSS ${before.connector.toFixed(0)} -> ${after.connector.toFixed(0)} MiB, edge ${before.edge.toFixed(0)} -> ${after.edge.toFixed(0)} MiB; ` +
        `neighbour echo p50 ${echoes[Math.floor(echoes.length / 2)]!.toFixed(1)} ms, max ${echoes[echoes.length - 1]!.toFixed(1)} ms`,
    );
    // Never more unacknowledged output than the window (plus one SSH packet of slack).
    expect(maxInFlight).toBeLessThanOrEqual(OUTPUT_WINDOW + SLACK);
    // The reader set the pace: about 640 KiB/s, not the hundreds of MB/s `yes` can make.
    expect(read).toBeLessThan((FLOOD_MS / 100) * 64 * 1024 + OUTPUT_WINDOW + SLACK);
    expect(after.connector - before.connector).toBeLessThan(40);
    expect(after.edge - before.edge).toBeLessThan(80);
    expect(echoes[echoes.length - 1]!).toBeLessThan(2000);
    flood.close();
    neighbour.close();
  }, 90_000);

  it("a target that stops reading input: the connector holds at most INPUT_HOLD_BYTES, then ends the session", async () => {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, { keepReceived: false });
    await client.waitForState("connected");
    // The shell sleeps and reads nothing: the pty fills, sshd stops reading, ssh2's window shuts.
    client.type("sleep 120\n");
    await new Promise((r) => setTimeout(r, 500));
    const connectorPid = stack.connector.child.pid!;
    const before = rssMiB(connectorPid);
    const piece = new Uint8Array(32 * 1024).fill(0x61);
    let sent = 0;
    let reason: string | undefined;
    client.waitForEnd(60_000).then(
      (r) => (reason = r),
      () => {},
    );
    // Up to 64 MiB of input, paced so the edge's relay keeps up; the session ends long before.
    while (reason === undefined && sent < 64 * 1024 * 1024) {
      for (let i = 0; i < 32; i++) client.type(piece);
      sent += 32 * piece.byteLength;
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.waitForEnd(30_000);
    const after = rssMiB(connectorPid);
    console.log(
      `input overflow: ended after ${(sent / 1048576).toFixed(1)} MiB sent; connector RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB`,
    );
    expect(reason).toBe("input_overflow");
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(after - before).toBeLessThan(40);
    expect(stack.connector.output()).toContain('"session.input_overflow"');
    client.close();
  }, 120_000);
});
