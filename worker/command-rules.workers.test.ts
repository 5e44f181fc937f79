// Command control at the edge (issue 19): a policy's command rules are stored, checked (unsafe patterns refused
// with command_rule_refused, nothing stored; `review` rules: worker/command-reviews.workers.test.ts), snapshotted
// into the checkout and carried to the connector in the SSH session grant; a later change to the policy does not
// reach a checkout already taken.
import { env } from "cloudflare:test";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { GrantClaims, Policy } from "../protocol/index.ts";
import { grantForSession } from "./grants.ts";
import { api, checkout, login, seedSite, seedUser } from "./test/harness.ts";

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const DENY_STOP = { kind: "commands", names: ["systemctl stop"], action: "deny", message: "Ask the on-call lead." };
const ALERT_RM = { kind: "regex", pattern: "rm\\s+-rf", action: "alert", message: "" };

let admin: string;
beforeAll(async () => {
  await seedUser("rules-admin", "rules-password-1", ["admin"]);
  admin = await login("rules-admin", "rules-password-1");
});

describe("command rules in policies", () => {
  const create = (fields: Record<string, unknown>) =>
    api("/api/policies", { method: "POST", cookie: admin, body: { name: `cr-${crypto.randomUUID()}`, ...fields } });

  it("stores rules in order and returns them; a policy without rules has none", async () => {
    const res = await create({ commandRules: [DENY_STOP, ALERT_RM] });
    expect(res.status).toBe(201);
    const policy = (await res.json()) as Policy;
    expect(policy.commandRules).toEqual([DENY_STOP, ALERT_RM]);
    const listed = (await (await api("/api/policies", { cookie: admin })).json()) as Policy[];
    expect(listed.find((p) => p.id === policy.id)?.commandRules).toEqual([DENY_STOP, ALERT_RM]);
    const plain = (await (await create({})).json()) as Policy;
    expect(plain.commandRules).toEqual([]);
    // A PATCH naming other fields leaves the rules as they are; one naming the rules replaces them.
    await api(`/api/policies/${policy.id}`, { method: "PATCH", cookie: admin, body: { maxSessionMinutes: 60 } });
    const patched = await api(`/api/policies/${policy.id}`, {
      method: "PATCH",
      cookie: admin,
      body: { commandRules: [ALERT_RM] },
    });
    expect(((await patched.json()) as Policy).commandRules).toEqual([ALERT_RM]);
  });

  it("refuses catastrophic or broken patterns and too many rules (400 command_rule_refused), storing nothing", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM policies").first<{ n: number }>();
    for (const commandRules of [
      [{ kind: "regex", pattern: "(a+)+$", action: "deny", message: "" }],
      [{ kind: "regex", pattern: "(x|xy)*z", action: "deny", message: "" }],
      [{ kind: "regex", pattern: "(.)\\1", action: "alert", message: "" }],
      Array.from({ length: 30 }, () => ({ kind: "regex", pattern: "y".repeat(190), action: "alert", message: "" })),
    ]) {
      const res = await create({ commandRules });
      expect(res.status, JSON.stringify(commandRules).slice(0, 80)).toBe(400);
      expect(await errorCode(res)).toBe("command_rule_refused");
    }
    const tooLong = await create({ commandRules: [{ kind: "regex", pattern: "z".repeat(201), action: "deny" }] });
    expect(tooLong.status).toBe(400);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM policies").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
  });

  it("carries the checkout's snapshot of the rules to the connector in an SSH grant", async () => {
    const site = await seedSite({ command_rules: JSON.stringify([DENY_STOP]) });
    const name = `cr-${crypto.randomUUID().slice(0, 6)}`;
    const userId = await seedUser(name, "user-password-1", ["requester"]);
    await site.entitle(userId);
    const cookie = await login(name, "user-password-1");
    const co = await checkout(cookie, site);
    // Changed after the checkout was taken: the grant still carries the snapshot.
    await api(`/api/policies/${site.policyId}`, { method: "PATCH", cookie: admin, body: { commandRules: [] } });
    await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co.id } });
    const session = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
      .bind(co.id)
      .first<{ id: string; deadline: number }>();
    const claims = decodeJwt(await grantForSession(env, session!.id, session!.deadline)) as unknown as GrantClaims;
    expect(claims.cmd).toEqual([DENY_STOP]);

    // A checkout under the changed policy has no rules, and its grant names none.
    const co2 = await checkout(cookie, site);
    await api("/api/sessions", { method: "POST", cookie, body: { checkoutId: co2.id } });
    const session2 = await env.DB.prepare("SELECT id, deadline FROM sessions WHERE checkout_id = ?")
      .bind(co2.id)
      .first<{ id: string; deadline: number }>();
    const claims2 = decodeJwt(await grantForSession(env, session2!.id, session2!.deadline)) as unknown as GrantClaims;
    expect(claims2.cmd).toBeUndefined();
  });
});
