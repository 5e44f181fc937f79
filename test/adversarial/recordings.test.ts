// Adversarial suite, recordings: attacks on what is recorded and watched, with real peers (wrangler dev,
// OpenSSH, the connector, s3rver as the store).
// - The monitored person cannot decide what is monitored: the session's own user reconnects with a
//   resume offset the room never produced, then with a low one, and types. Before the fix the room then
//   skipped the target's output for the recording and the admin watching live while still sending it to
//   the user, and the recording verified as complete. Now the lie is refused (4001) and audited, and what
//   the user sees next is on the admin's screen and in the recording.
// - Whoever can write to the store cannot alter a recording unseen: an edited chunk, a chunk from
//   another recording, a deleted chunk or a deleted manifest each verify as tampered.
import { afterAll, beforeAll, expect, it } from "vitest";
import { chunkKey, manifestKey, recordingPrefix } from "../../recording/chain.ts";
import type { IntegrityReport, RecordingSummary } from "../../protocol/index.ts";
import { type LocalS3, startLocalS3 } from "../support/local-s3.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("adversarial: recordings and live view", missingPeers(), () => {
  let stack: Stack;
  let s3: LocalS3;
  /** Two stored recordings, for the tampering cases. */
  const stored: RecordingSummary[] = [];

  beforeAll(async () => {
    s3 = await startLocalS3();
    stack = await startStack({ vars: s3.vars });
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "recorded and watched",
      recordingRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
  }, 120_000);

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await stack?.stop();
    await s3?.stop();
  });

  it("attack: resume at an offset never produced, then from 0 — guarantee: the recording and the admin see all the user sees", async () => {
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

    const summary = await storedRecording(stack.admin, id);
    stored.push(summary);
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

  async function verify(recordingId: string): Promise<IntegrityReport> {
    return stack.admin.request<IntegrityReport>("POST", `/api/recordings/${recordingId}/verify`, {});
  }

  async function anotherRecording(): Promise<RecordingSummary> {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const user = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await user.waitForState("connected");
    user.type("echo second-$((6*7))\nexit\n");
    await user.waitForEnd(10_000);
    user.close();
    return storedRecording(stack.admin, id);
  }

  it("attack: rewrite the store — guarantee: an edited, swapped or deleted chunk, or a deleted manifest, verifies as tampered", async () => {
    const victim = stored[0]!;
    const other = await anotherRecording();
    expect((await verify(victim.id)).status).toBe("verified");
    const original = (await s3.direct.get(chunkKey(victim.id, 0)))!;
    const restore = () => s3.direct.put(chunkKey(victim.id, 0), original);

    // One byte flipped inside the compressed chunk.
    const edited = Uint8Array.from(original);
    edited[edited.length >> 1]! ^= 0x01;
    await s3.direct.put(chunkKey(victim.id, 0), edited);
    expect(await verify(victim.id)).toMatchObject({ status: "tampered" });
    await restore();
    expect((await verify(victim.id)).status).toBe("verified");

    // A genuine chunk, signed in its own chain, from another recording.
    await s3.direct.put(chunkKey(victim.id, 0), (await s3.direct.get(chunkKey(other.id, 0)))!);
    expect(await verify(victim.id)).toMatchObject({ status: "tampered" });
    await restore();

    // A chunk removed.
    await s3.direct.delete([chunkKey(victim.id, 0)]);
    const missing = await verify(victim.id);
    expect(missing.status).toBe("tampered");
    expect(missing.problems.some((p) => p.kind === "missing")).toBe(true);
    await restore();

    // The manifest removed: not "upload pending", tampered.
    const manifest = (await s3.direct.get(manifestKey(victim.id)))!;
    await s3.direct.delete([manifestKey(victim.id)]);
    expect(await verify(victim.id)).toMatchObject({ status: "tampered" });
    await s3.direct.put(manifestKey(victim.id), manifest);
    expect((await verify(victim.id)).status).toBe("verified");
    expect((await s3.direct.list(recordingPrefix(victim.id))).length).toBe(victim.chunks + 1);
  });
});
