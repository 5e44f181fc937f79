// The edge signing key rotates under a live deployment, with real peers (wrangler dev restarted with new
// secrets, the enrolled connector process, OpenSSH): the connector learns the next key from an announcement
// its pinned key signed, keeps working through the swap, and afterwards trusts only the new key. No
// re-enrolment, no edit on the connector host.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { edgeKeyId, namedPublicKey } from "../../keys/edge-keys.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

describeWithPeers("edge signing key rotation with a live connector", missingPeers(), () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  }, 180_000);
  afterAll(async () => {
    await stack?.stop();
  });

  const trusted = () =>
    (JSON.parse(readFileSync(join(stack.connectorState, "connector.json"), "utf8")) as { edgeKeys?: JWK[] }).edgeKeys ??
    [];

  async function trustedKids(expected: string[]): Promise<void> {
    await expect
      .poll(async () => Promise.all(trusted().map((k) => edgeKeyId(k))), { timeout: 90_000, interval: 500 })
      .toEqual(expected);
  }

  async function sessionWorks(): Promise<void> {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const t = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await t.waitForState("connected");
    t.type("echo rotated-$((40+2))\n");
    await t.waitForOutput("rotated-42");
    t.close();
  }

  it("announces the next key, swaps to it, and retires the old one, while sessions keep opening", async () => {
    const pinned = JSON.parse(readFileSync(join(stack.connectorState, "connector.json"), "utf8")).edgeKey as JWK;
    const oldKid = await edgeKeyId(pinned);
    await trustedKids([oldKid]);
    await sessionWorks();

    // 1. Prepare: the next key is announced, vouched for by the current one.
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const next = await exportJWK(privateKey);
    const nextKid = await edgeKeyId(next);
    await stack.restartEdge({ EDGE_SIGNING_KEY_NEXT: JSON.stringify(next) });
    await trustedKids([oldKid, nextKid]);
    await sessionWorks();

    // 2. Swap: the edge signs with the next key; the old one is only kept to verify old manifests.
    await stack.restartEdge({
      EDGE_SIGNING_KEY: JSON.stringify(next),
      EDGE_SIGNING_KEY_NEXT: "",
      EDGE_SIGNING_KEYS_RETIRED: JSON.stringify([await namedPublicKey(pinned)]),
    });
    await trustedKids([nextKid]);
    await sessionWorks();
    expect(await stack.logs()).toContain("edge_keys.updated");
    // No private key material reached the connector's state.
    expect(trusted().every((k) => !("d" in k))).toBe(true);
  }, 300_000);
});
