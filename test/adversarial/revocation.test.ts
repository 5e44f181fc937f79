// Adversarial suite, revocation, with real peers (wrangler dev, OpenSSH, the connector process): a user
// holding a live session keeps it no longer than the right it stands on. For each change an admin can
// make that removes that right, the session ends with `access_revoked` within seconds, and the shell's
// processes on the target are hung up (the pty closed on the sshd side). After each case the right is
// given back, and the next case starts from a fresh checkout.
// (Each change's edge side, reconnects, new sessions on a held checkout, pending requests, live views
// and the minute sweep: worker/revocation.workers.test.ts.)
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectorToken } from "../../connector/keys.ts";
import { connectorEndpoint } from "../../protocol/index.ts";
import { describeWithPeers } from "../support/peers.ts";
import { alive, sessionWithSleeper, until } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

describeWithPeers("adversarial: access ends when authority ends", missingPeers(), () => {
  let stack: Stack;
  let aliceId: string;

  beforeAll(async () => {
    stack = await startStack();
    const users = await stack.admin.request<Array<{ id: string; username: string }>>("GET", "/api/users");
    aliceId = users.find((u) => u.username === "alice")!.id;
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const admin = (method: string, path: string, body?: unknown) => stack.admin.request(method, path, body);

  /** Opens a session with a sleeper under its pty, makes the change, and checks both ends of the session. */
  async function revokedBy(change: (sessionId: string) => Promise<unknown>, reason = "access_revoked") {
    const { client, pid, id } = await sessionWithSleeper(stack);
    await change(id);
    expect(await client.waitForEnd(10_000)).toBe(reason);
    // Alone this takes under a second; a full CI run once needed more than 10 s (the session had ended at the edge
    // in time). The guarantee is the hang-up; the time is printed, so a slow one shows.
    const hungUp = await until("the pty's processes on the target to hang up", () => !alive(pid), 30_000);
    console.log(`revocation (${reason}): pty processes gone ${Math.round(hungUp)} ms after the session ended`);
    client.close();
    // The ledger says why, for whoever reads it later.
    const entries = await stack.admin.request<Array<{ action: string; refs: { sessionId?: string }; data: unknown }>>(
      "GET",
      "/api/audit?limit=200",
    );
    const ended = entries.find(
      (e) => e.action.startsWith("session.") && e.refs.sessionId === id && "reason" in (e.data as object),
    );
    expect(ended?.data).toMatchObject({ reason });
  }

  it("attack: keep a session after removal from the granting group — guarantee: it ends, the pty hangs up", async () => {
    await revokedBy(() => admin("PUT", `/api/groups/${stack.operatorsGroupId}/members`, { userIds: [] }));
    await admin("PUT", `/api/groups/${stack.operatorsGroupId}/members`, { userIds: [aliceId] });
  });

  it("attack: keep a session after the account is disabled — guarantee: it ends", async () => {
    await revokedBy(() => admin("PATCH", `/api/users/${aliceId}`, { disabled: true }));
    await admin("PATCH", `/api/users/${aliceId}`, { disabled: false });
    await stack.user.login("alice", "alice-password-1");
  });

  it("attack: keep a session after one's sign-ins are revoked — guarantee: it ends; signing in again works", async () => {
    await revokedBy(() => admin("POST", `/api/users/${aliceId}/reset-mfa`, {}));
    await stack.user.login("alice", "alice-password-1");
  });

  it("attack: keep a session after the zone grant is removed — guarantee: it ends", async () => {
    const grants = await stack.admin.request<Array<{ id: string; zoneId: string }>>("GET", "/api/grants");
    const grant = grants.find((g) => g.zoneId === stack.zoneId)!;
    await revokedBy(() => admin("DELETE", `/api/grants/${grant.id}`));
    await stack.admin.grant(stack.operatorsGroupId, stack.zoneId);
  });

  it("attack: keep a session on a server or credential that was turned off — guarantee: it ends", async () => {
    await revokedBy(() => admin("PATCH", `/api/servers/${stack.serverId}`, { enabled: false }));
    await admin("PATCH", `/api/servers/${stack.serverId}`, { enabled: true });
    await revokedBy(() => admin("PATCH", `/api/credentials/${stack.credentialId}`, { enabled: false }));
    await admin("PATCH", `/api/credentials/${stack.credentialId}`, { enabled: true });
  });

  it("attack: keep an unrecorded session after policy starts requiring recording — guarantee: it ends", async () => {
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: `strict-${crypto.randomUUID().slice(0, 6)}`,
    });
    await revokedBy(async () => {
      await admin("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
      // The zone's sessions now run under this policy; tightening it ends the one that lacks recording.
      await admin("PATCH", `/api/policies/${policy.id}`, { recordingRequired: true });
    });
    await admin("PATCH", `/api/zones/${stack.zoneId}`, { policyId: null });
  });

  it("attack: keep a session after an admin revokes the checkout — guarantee: it ends as checkout_revoked", async () => {
    await revokedBy(async (sessionId) => {
      const { checkoutId } = await stack.user.request<{ checkoutId: string }>("GET", `/api/sessions/${sessionId}`);
      await admin("POST", `/api/checkouts/${checkoutId}/revoke`, { reason: "incident" });
    }, "checkout_revoked");
  });

  it("attack: reuse a connector's identity key after it was rotated — guarantee: the old key opens nothing, sessions go on", async () => {
    const file = join(stack.connectorState, "connector.json");
    const before = JSON.parse(await readFile(file, "utf8")) as { connectorId: string; identityKey: JWK };
    await admin("POST", `/api/sites/${stack.siteId}/connectors/${before.connectorId}/rotate-key`, {});
    let after = before;
    await until(
      "the connector to hold its new key",
      () => {
        after = JSON.parse(readFileSync(file, "utf8"));
        return after.identityKey.d !== before.identityKey.d;
      },
      10_000,
    );
    expect(after).not.toHaveProperty("pendingIdentityKey");
    // Whoever copied the old key: refused (here, trying to register a key of their own with it).
    const stolen = await connectorToken(before.connectorId, before.identityKey, connectorEndpoint.identity);
    const res = await fetch(`${stack.edge.url}${connectorEndpoint.identity}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stolen}`, "content-type": "application/json" },
      body: JSON.stringify({ publicKey: { kty: "OKP", crv: "Ed25519", x: "A".repeat(43) } }),
    });
    expect(res.status).toBe(401);
    // The connector itself goes on with the new key: a new session opens and runs.
    const { client } = await sessionWithSleeper(stack);
    client.close();
    expect(await stack.logs()).toContain("identity.rotated");
  });

  // Last: it leaves the stack without a connector.
  it("attack: a stolen connector keeps serving after an admin revokes it — guarantee: its sessions end, it cannot come back", async () => {
    const [connector] = await stack.admin.request<Array<{ id: string }>>(
      "GET",
      `/api/sites/${stack.siteId}/connectors`,
    );
    await revokedBy(
      () => admin("POST", `/api/sites/${stack.siteId}/connectors/${connector!.id}/revoke`, {}),
      "connector_revoked",
    );
    // Its redials are refused: no new session can be dispatched to it.
    await new Promise((r) => setTimeout(r, 1500));
    const [after] = await stack.admin.request<Array<{ online: boolean; revoked: boolean }>>(
      "GET",
      `/api/sites/${stack.siteId}/connectors`,
    );
    expect(after).toMatchObject({ online: false, revoked: true });
    await expect(stack.user.openSession(stack.serverId, stack.credentialId)).rejects.toThrow(/503|connector/);
    expect(await stack.logs()).toContain("control.refused");
  });
});
