// The admin's journeys of issue 18 in real Chromium against the real edge, connector and sshd: a policy entered
// in hours and refused at the field when an extension outlasts the session; a group member added by typing part
// of a name; and the live sessions list showing who, where from and who is watching while a second page watches.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AuditSink, Group, Policy } from "../../protocol/index.ts";
import { axeViolations, chromiumMissing, collectBrowserBound, launchChromium } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

describeWithPeers("the admin console in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let adminBrowser: BrowserContext;
  let userBrowser: BrowserContext;
  const browserBound: string[] = [];

  beforeAll(async () => {
    [stack, adminBrowser, userBrowser] = await Promise.all([startStack(), launchChromium(), launchChromium()]);
  });
  afterAll(async () => {
    await Promise.allSettled([adminBrowser?.close(), userBrowser?.close()]);
    await stack?.stop();
  });

  async function openPage(context: BrowserContext, username: string, password: string): Promise<Page> {
    const page = await context.newPage();
    collectBrowserBound(page, browserBound);
    await page.goto(`${stack.edge.url}/#/login`);
    await page.waitForSelector('#login-username, body[data-route="catalog"]');
    if ((await page.getAttribute("body", "data-route")) !== "catalog") {
      await page.fill("#login-username", username);
      await page.fill("#login-password", password);
      await page.click("#login-submit");
      await page.waitForSelector('body[data-route="catalog"]');
    }
    return page;
  }

  it("creates a policy in hours, and refuses an extension longer than the session at its field", async () => {
    const page = await openPage(adminBrowser, "admin", "admin-password-1");
    await page.goto(`${stack.edge.url}/#/admin/policies`);
    await page.fill("#policy-name", "four-hour shifts");
    await page.fill("#policy-maxSessionMinutes", "4");
    await page.selectOption("#policy-maxSessionMinutes-unit", "hours");
    await page.fill("#policy-maxCheckoutMinutes", "8");
    await page.selectOption("#policy-maxCheckoutMinutes-unit", "hours");
    await page.fill("#policy-extensionMinutes", "5");
    await page.selectOption("#policy-extensionMinutes-unit", "hours");
    await page.click("#policy-submit");

    const error = page.locator("#policy-extensionMinutes-error");
    await error.waitFor();
    expect(await error.textContent()).toContain("cannot be longer than the longest session (4 h)");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("policy-extensionMinutes");
    expect(await page.getAttribute("#policy-extensionMinutes", "aria-invalid")).toBe("true");
    expect(await page.getAttribute("#policy-extensionMinutes", "aria-describedby")).toContain(
      "policy-extensionMinutes-error",
    );
    // The form with its message is accessible too.
    expect(await axeViolations(page)).toEqual([]);
    let policies = await stack.admin.request<Policy[]>("GET", "/api/policies");
    expect(policies.some((p) => p.name === "four-hour shifts")).toBe(false);

    await page.fill("#policy-extensionMinutes", "90");
    await page.selectOption("#policy-extensionMinutes-unit", "minutes");
    await page.click("#policy-submit");
    await page.locator("#policy-message", { hasText: "Policy four-hour shifts created" }).waitFor();
    expect(await error.isVisible()).toBe(false);
    policies = await stack.admin.request<Policy[]>("GET", "/api/policies");
    expect(policies.find((p) => p.name === "four-hour shifts")).toMatchObject({
      maxSessionMinutes: 240,
      maxCheckoutMinutes: 480,
      extensionMinutes: 90,
      recordingRequired: true,
    });

    // Editing shows each duration in the largest unit that divides it.
    await page.getByRole("button", { name: "Edit: policy four-hour shifts" }).click();
    expect(await page.inputValue("#policy-maxCheckoutMinutes")).toBe("8");
    expect(await page.inputValue("#policy-maxCheckoutMinutes-unit")).toBe("hours");
    expect(await page.inputValue("#policy-extensionMinutes")).toBe("90");
    expect(await page.inputValue("#policy-extensionMinutes-unit")).toBe("minutes");
    await page.close();
  });

  it("sets a policy's moderators: a count without a group is refused at the group; editing shows them again", async () => {
    const page = await openPage(adminBrowser, "admin", "admin-password-1");
    await page.goto(`${stack.edge.url}/#/admin/policies`);
    await page.fill("#policy-name", "four eyes");
    await page.fill("#policy-moderatorsRequired", "1");
    await page.click("#policy-submit");
    const error = page.locator("#policy-moderatorGroupId-error");
    await error.waitFor();
    expect(await error.textContent()).toContain("moderator group");
    await page.selectOption("#policy-moderatorGroupId", stack.operatorsGroupId);
    await page.click("#policy-submit");
    await page.locator("#policy-message", { hasText: "Policy four eyes created" }).waitFor();
    const saved = (await stack.admin.request<Policy[]>("GET", "/api/policies")).find((p) => p.name === "four eyes");
    expect(saved).toMatchObject({ moderatorsRequired: 1, moderatorGroupId: stack.operatorsGroupId });
    // Before the form had these fields, saving a moderated policy from it turned moderation off.
    await page.getByRole("button", { name: "Edit: policy four eyes" }).click();
    expect(await page.inputValue("#policy-moderatorsRequired")).toBe("1");
    expect(await page.inputValue("#policy-moderatorGroupId")).toBe(stack.operatorsGroupId);
    await page.close();
  });

  it("adds a member to a group by typing part of the name", async () => {
    const bart = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bartholomew",
      password: "bart-password-12",
      roles: ["requester"],
    });
    const page = await openPage(adminBrowser, "admin", "admin-password-1");
    await page.goto(`${stack.edge.url}/#/admin/groups`);
    await page.getByRole("button", { name: "Edit members: group operators" }).click();
    // The search has the focus; part of the name, in another case, finds him.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("group-member-search");
    await page.keyboard.type("THOLO");
    await page.getByRole("button", { name: "Add bartholomew" }).click();
    await page.getByRole("button", { name: "Remove bartholomew" }).waitFor();
    expect(await page.getByRole("button", { name: "Remove alice" }).isVisible()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await page.click("#group-members-submit");
    await page.locator("#group-message", { hasText: "operators now has 2 members" }).waitFor();
    const groups = await stack.admin.request<Group[]>("GET", "/api/groups");
    const operators = groups.find((g) => g.id === stack.operatorsGroupId)!;
    expect(operators.members.map((m) => m.id)).toContain(bart.id);
    // Audited as before: one change of the group, with the members before and after.
    const audit = await stack.admin.request<Array<{ action: string; target: { id: string }; data: unknown }>>(
      "GET",
      "/api/audit?limit=50",
    );
    const change = audit.find(
      (e) =>
        e.action === "admin.change" &&
        e.target.id === stack.operatorsGroupId &&
        JSON.stringify(e.data).includes("bartholomew"),
    );
    expect(change).toBeDefined();
    await page.close();
  });

  it("lists a live session with user, server, source IP and the watcher's name while a second page watches", async () => {
    const user = await openPage(userBrowser, "alice", "alice-password-1");
    await user.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await user.fill("textarea.cart-justification", "rotate the web tier's logs");
    await user.click("#cart-submit");
    await user.waitForSelector('body[data-route="requests"]');
    await user.locator('tr[data-status="active"] button.connect').first().click({ timeout: 20_000 });
    await user.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });

    const list = await openPage(adminBrowser, "admin", "admin-password-1");
    await list.goto(`${stack.edge.url}/#/admin/live`);
    const row = list.locator("#live-table tbody tr[data-session-id]").first();
    await row.waitFor();
    const sessionId = (await row.getAttribute("data-session-id"))!;
    const headers = await list.locator("#live-table thead th").allInnerTexts();
    for (const label of ["User", "Server", "Zone", "Justification", "Source IP", "Recording", "Idle", "Watching"])
      expect(headers).toContain(label);

    const watcher = await adminBrowser.newPage();
    collectBrowserBound(watcher, browserBound);
    await watcher.goto(`${stack.edge.url}/#/watch/${sessionId}`);
    await watcher.waitForSelector('body[data-session-state="connected"]');

    // The list refreshes every 5 s: the watcher's name appears in the session's row.
    await row.locator(".live-viewers", { hasText: "admin" }).waitFor({ timeout: 15_000 });
    expect(await row.locator(".live-user").textContent()).toContain("alice");
    expect(await row.locator(".live-server").textContent()).toContain("target");
    expect(await row.locator(".live-zone").textContent()).toBe("e2e servers");
    expect(await row.locator(".live-justification").textContent()).toBe("rotate the web tier's logs");
    expect(await row.locator(".live-source").textContent()).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(await row.locator(".live-recording").textContent()).toBe("Recorded");
    expect(await row.locator(".live-idle").textContent()).toMatch(/min$/);
    expect(await axeViolations(list)).toEqual([]);

    await watcher.close();
    await row.locator(".live-viewers", { hasText: "Nobody" }).waitFor({ timeout: 15_000 });
    await user.close();
    await list.close();
    expect(browserBound.join("\n")).not.toContain(stack.canary);
  }, 90_000);

  it("adds an HEC sink that fails with its error shown, edits it keeping the token unseen, and deletes it", async () => {
    const token = `hec-canary-${crypto.randomUUID()}`;
    const page = await openPage(adminBrowser, "admin", "admin-password-1");
    // Every response body this page receives (the token may only ever travel from the page, never to it).
    const bodies: Promise<string>[] = [];
    page.on("response", (res) => bodies.push(res.text().catch(() => "")));
    await page.goto(`${stack.edge.url}/#/admin/streaming`);
    await page.locator("#sinks-table tr.empty", { hasText: "No sinks yet" }).waitFor();

    // A collector nobody listens on (port 9 on loopback): delivery fails and says why.
    await page.selectOption("#sink-kind", "hec");
    await page.fill("#sink-name", "siem e2e");
    await page.fill("#sink-url", "https://127.0.0.1:9/services/collector/event");
    await page.fill("#sink-token", token);
    await page.click("#sink-submit");
    await page.locator("#sink-message", { hasText: "Sink siem e2e added." }).waitFor();
    expect(await page.inputValue("#sink-token")).toBe("");
    const row = page.locator("#sinks-table tr[data-sink-id]", { hasText: "siem e2e" });
    expect(await row.locator(".sink-target").textContent()).toBe("https://127.0.0.1:9/services/collector/event");
    const id = (await row.getAttribute("data-sink-id"))!;
    // The list refreshes every 5 s; the first delivery fails at once.
    await page.locator(`#sinks-table tr[data-sink-id="${id}"][data-status="failing"]`).waitFor({ timeout: 30_000 });
    const failing = (await stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks")).find((s) => s.id === id)!;
    expect(failing).toMatchObject({ kind: "hec", tokenSet: true, enabled: true });
    expect(failing.lastError).toBeTruthy();
    const status = (await row.locator(".sink-status").textContent())!;
    expect(status).toMatch(/Failing since .+: .+, next try /);
    expect(status).toContain(failing.lastError!);
    expect(await axeViolations(page)).toEqual([]);

    // Edit without retyping the token: the field is empty, says a token is set, and the stored one stays.
    await page.getByRole("button", { name: "Edit: sink siem e2e" }).click();
    expect(await page.inputValue("#sink-token")).toBe("");
    expect(await page.getAttribute("#sink-token", "placeholder")).toContain("A token is set");
    expect(await page.isDisabled("#sink-kind")).toBe(true);
    expect(await page.isVisible("#sink-from")).toBe(false);
    // A new URL needs the token again (the stored one goes only to the URL it was given for).
    await page.fill("#sink-url", "https://127.0.0.1:9/services/collector");
    await page.click("#sink-submit");
    await page.locator("#sink-message", { hasText: "a new URL needs it again" }).waitFor();
    expect(await page.getAttribute("#sink-token", "aria-invalid")).toBe("true");
    await page.fill("#sink-url", "https://127.0.0.1:9/services/collector/event");
    await page.click("#sink-submit");
    await page.locator("#sink-message", { hasText: "Sink siem e2e saved." }).waitFor();
    const edited = (await stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks")).find((s) => s.id === id)!;
    expect(edited).toMatchObject({ url: "https://127.0.0.1:9/services/collector/event", tokenSet: true });
    expect(await page.content()).not.toContain(token);

    // Delete asks first; a dismissed question keeps the sink, an accepted one removes it.
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.getByRole("button", { name: "Delete: sink siem e2e" }).click();
    expect((await stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks")).some((s) => s.id === id)).toBe(true);
    let question = "";
    page.once("dialog", (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await page.getByRole("button", { name: "Delete: sink siem e2e" }).click();
    await page.locator("#sink-message", { hasText: "Sink siem e2e deleted." }).waitFor();
    expect(question).toContain("Delete sink siem e2e?");
    expect((await stack.admin.request<AuditSink[]>("GET", "/api/audit/sinks")).some((s) => s.id === id)).toBe(false);
    await page.locator("#sinks-table tr.empty").waitFor();

    expect(await page.content()).not.toContain(token);
    const received = await Promise.all(bodies);
    await page.close();
    expect(received.some((b) => b.includes('"tokenSet":true'))).toBe(true);
    expect(received.join("\n")).not.toContain(token);
  }, 90_000);
});
