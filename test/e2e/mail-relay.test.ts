// Mail through a connector, end to end: the real edge (wrangler dev, cron fired via /__scheduled) hands the
// outbox's email to the site's ConnectorHub, the real connector process relays it with nodemailer to a real SMTP
// server on loopback (smtp-server, STARTTLS with a test CA the connector trusts through its config, AUTH with the
// password the admin sealed to the site). A relay that refuses (451) and then accepts delivers exactly one message;
// a 550 is not retried and the row is dead, visible to admins; the relay password is in no log or API answer.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { MailRelaySettings, OutboxRow } from "../../protocol/index.ts";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import { sealSecret } from "../../keys/seal.ts";
import { describeWithPeers } from "../support/peers.ts";
import { type SmtpRelay, startSmtpRelay } from "../support/smtp-relay.ts";
import { missingPeers, newCanary, type Stack, startStack } from "../support/stack.ts";

describeWithPeers("SMTP relay through the connector", missingPeers(), () => {
  let stack: Stack;
  let relay: SmtpRelay;
  const password = newCanary();
  const bodies: string[] = [];
  let bobId = "";
  let checkoutId = "";

  const toAddress = (address: string) => relay.delivered.filter((d) => d.to.includes(address));
  const fire = () => fetch(`${stack.edge.url}/__scheduled?cron=*+*+*+*+*`).then((r) => r.text());
  const outbox = async (state: "failed" | "dead") => {
    const rows = await stack.admin.request<OutboxRow[]>("GET", `/api/admin/notifications?state=${state}`);
    bodies.push(JSON.stringify(rows));
    return rows;
  };
  /**
   * Fires the sweep until `done` holds (each sweep waits for the connector's answer before it returns). A row that
   * failed because the connector was between sockets (it was just restarted) is made due again at once instead of
   * after its backoff; failures the relay gave are left to the test.
   */
  const sweepUntil = async (what: string, done: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 20 && !(await done()); i++) {
      for (const row of await outbox("failed"))
        if (/^relay: (no connector|the connector)/.test(row.lastError ?? ""))
          await stack.admin.request("POST", `/api/admin/notifications/${row.id}/retry`, {});
      await fire();
    }
    if (!(await done())) {
      console.log((await stack.logs()).slice(-4000));
      throw new Error(`never: ${what}`);
    }
  };

  beforeAll(async () => {
    // APP_URL only names the links in the messages here (nothing in this file signs in through it).
    stack = await startStack({ testScheduled: true, vars: { APP_URL: "https://psm.example.test" } });
    relay = await startSmtpRelay(stack.dir, { user: "psm-relay", password });
    // The connector trusts the relay's test CA (config `mail.caFile`), as an on-prem one would its private CA.
    const configFile = join(stack.connectorState, "config.json");
    const config = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
    await writeFile(configFile, JSON.stringify({ ...config, mail: { caFile: relay.caFile } }), { mode: 0o600 });
    await stack.restartConnector();
    // The hub counts it online (its hello answered) before any mail is handed to it.
    for (let i = 0; i < 50; i++) {
      const connectors = await stack.admin.request<{ online: boolean }[]>(
        "GET",
        `/api/sites/${stack.siteId}/connectors`,
      );
      if (connectors.some((c) => c.online)) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const site = await stack.admin.site(stack.siteId);
    const sealed = await sealSecret(site.sealKey as JWK, password);
    const saved = await stack.admin.request<MailRelaySettings>("PUT", "/api/admin/mail-relay", {
      enabled: true,
      siteId: stack.siteId,
      host: "127.0.0.1",
      port: relay.port,
      tls: "required",
      user: relay.user,
      password: sealed,
      from: "psm@example.com",
    });
    bodies.push(JSON.stringify(saved), JSON.stringify(await stack.admin.request("GET", "/api/admin/mail-relay")));
    expect(saved).toMatchObject({ enabled: true, passwordSet: true, tls: "required", siteId: stack.siteId });
    expect(JSON.stringify(saved)).not.toContain(sealed);

    // An approver with an address, a policy that needs approval, and alice with an address too.
    const bob = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-12",
      roles: ["approver"],
    });
    bobId = bob.id;
    await stack.admin.request("PATCH", `/api/users/${bob.id}`, { email: "bob@example.com" });
    const users = await stack.admin.request<{ id: string; username: string }[]>("GET", "/api/users");
    const alice = users.find((u) => u.username === "alice")!;
    await stack.admin.request("PATCH", `/api/users/${alice.id}`, { email: "alice@example.com" });
    const approvers = await stack.admin.createGroup("approvers", [bob.id]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "needs approval",
      approvalRequired: true,
      approverGroupId: approvers.id,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
  }, 180_000);

  afterAll(async () => {
    await relay?.stop();
    await stack?.stop();
  });

  it("a relay that refuses (451) and then accepts: the outbox retries, exactly one message arrives over STARTTLS", async () => {
    relay.script([{ code: 451, text: "4.3.0 mailbox busy, try later" }]);
    const cart = await stack.user.submitCart([
      { serverId: stack.serverId, credentialId: stack.credentialId, minutes: 15, justification: "renew the TLS cert" },
    ]);
    expect(cart.results[0]).toMatchObject({ ok: true, checkout: { status: "pending_approval" } });
    checkoutId = (cart.results[0] as { checkout: { id: string } }).checkout.id;

    // Bob (the approver) and alice (the requester) are told: the relay refuses the first DATA, accepts the other.
    await sweepUntil("the relay refuses the first try", () => relay.dataAttempts() >= 2);
    const refused = relay.delivered.length === 1 && relay.delivered[0]!.to[0] === "alice@example.com" ? "bob" : "alice";
    const address = `${refused}@example.com`;
    expect(toAddress(address)).toHaveLength(0);
    const failed = await outbox("failed");
    const row = failed.find((r) => r.target === address);
    expect(row).toMatchObject({ channel: "email", state: "failed", attempts: 1 });
    expect(row!.lastError).toMatch(/smtp 451/);

    // Backoff puts the retry 30 s out; an admin's retry makes it due now.
    await stack.admin.request("POST", `/api/admin/notifications/${row!.id}/retry`, {});
    await sweepUntil("the retry is accepted", () => toAddress(address).length >= 1);
    await fire();
    await fire();
    expect(toAddress("bob@example.com")).toHaveLength(1);
    expect(toAddress("alice@example.com")).toHaveLength(1);
    expect(relay.dataAttempts()).toBe(3);
    const mail = toAddress("bob@example.com")[0]!;
    expect(mail).toMatchObject({ from: "psm@example.com", to: ["bob@example.com"] });
    expect(mail.raw).toMatch(/^Subject: Approval needed: alice requests/m);
    // Quoted-printable: soft line breaks (=CRLF) may fall inside the link.
    expect(mail.raw.replace(/=\r\n/g, "")).toContain(`https://psm.example.test/#/approvals/${checkoutId}`);
    expect(mail.raw).not.toContain(stack.canary);
    expect(relay.allSecured()).toBe(true);
    expect((await outbox("failed")).some((r) => r.id === row!.id)).toBe(false);
  }, 180_000);

  it("a 550 is permanent: not retried, the row is dead and shown to admins", async () => {
    relay.script([{ code: 550, text: "5.1.1 mailbox unavailable" }]);
    const bob = new EdgeClient(stack.edge.url);
    await bob.login("bob", "bob-password-12");
    await bob.request("POST", `/api/checkouts/${checkoutId}/deny`, { comment: "not tonight" });
    const before = relay.dataAttempts();
    await sweepUntil("the relay refuses with 550", async () => (await outbox("dead")).length >= 1);
    const dead = (await outbox("dead")).find((r) => r.target === "alice@example.com");
    expect(dead).toMatchObject({ state: "dead", attempts: 1, event: "checkout.denied" });
    expect(dead!.lastError).toMatch(/smtp 550/);
    const attempts = relay.dataAttempts();
    expect(attempts).toBe(before + 1);
    await fire();
    await fire();
    expect(relay.dataAttempts()).toBe(attempts);
    expect(relay.delivered).toHaveLength(2);
    expect(bobId).not.toBe("");
  }, 120_000);

  it("the relay password is in no log line and no API answer", async () => {
    const logs = await stack.logs();
    expect(logs).not.toContain(password);
    expect(bodies.join("\n")).not.toContain(password);
    expect(relay.delivered.map((d) => d.raw).join("\n")).not.toContain(password);
  });
});
