// Approval notifications through the real edge (wrangler dev, cron fired via /__scheduled) to a
// real local webhook receiver that fails its first delivery: the outbox retries and the message
// arrives once, HMAC-signed, with no secret in it.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { verifyWebhookSignature } from "../../worker/notify/webhook.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

const SECRET = "e2e-webhook-secret-0123456789";

describeWithPeers("webhook notifications", missingPeers(), () => {
  let stack: Stack;
  let receiver: Server;
  const received: { body: string; valid: boolean }[] = [];
  let requests = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", async () => {
        requests++;
        if (requests === 1) {
          res.writeHead(500).end("not today");
          return;
        }
        const valid = await verifyWebhookSignature(
          SECRET,
          String(req.headers["x-psm-timestamp"]),
          body,
          String(req.headers["x-psm-signature"]),
          Date.now(),
        );
        received.push({ body, valid });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as { port: number };
    stack = await startStack({
      vars: { NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`, NOTIFY_WEBHOOK_SECRET: SECRET },
      testScheduled: true,
    });
  });
  afterAll(async () => {
    receiver?.close();
    await stack?.stop();
  });

  it("tells approvers about a request, retrying a failed delivery until it lands", async () => {
    const approver = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-12",
      roles: ["approver"],
    });
    const approvers = await stack.admin.createGroup("approvers", [approver.id]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "needs approval",
      approvalRequired: true,
      approverGroupId: approvers.id,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const cart = await stack.user.submitCart([
      {
        serverId: stack.serverId,
        credentialId: stack.credentialId,
        minutes: 15,
        justification: "rotate the TLS certificate",
      },
    ]);
    expect(cart.results[0]).toMatchObject({ ok: true, checkout: { status: "pending_approval" } });

    const fire = () => fetch(`${stack.edge.url}/__scheduled?cron=*+*+*+*+*`);
    await fire();
    await expect
      .poll(() => requests, { timeout: 10_000 })
      .toBe(1)
      .catch(async (err) => {
        console.log((await stack.logs()).slice(-3000));
        throw err;
      });
    // The first attempt failed; the retry is due 24-36 s later (30 s backoff, +-20% jitter).
    const deadline = Date.now() + 60_000;
    while (received.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2000));
      await fire();
    }
    expect(received).toHaveLength(1);
    expect(received[0]!.valid).toBe(true);
    const payload = JSON.parse(received[0]!.body) as { text: string };
    expect(payload.text).toMatch(/alice/);
    expect(received[0]!.body).toContain("rotate the TLS certificate");
    expect(received[0]!.body).not.toContain(stack.canary);
    await fire();
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toHaveLength(1);
  }, 120_000);
});
