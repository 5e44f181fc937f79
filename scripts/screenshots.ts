// Makes the README's screenshots (docs/screenshot*.png) from a real stack: the edge, a connector and sshd on
// loopback, driven in Chromium as people use it. Run by hand: `npm run screenshots` (needs root for the sshd
// target account, like the e2e tests). Tests never write into docs/, so CI leaves the tree clean.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { launchChromium } from "../test/support/browser.ts";
import { startStack } from "../test/support/stack.ts";

const DOCS = join(import.meta.dirname, "..", "docs");

async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/#/login`);
  await page.fill("#login-username", username);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
  await page.waitForSelector('body[data-route="catalog"], body[data-route="approvals"]');
}

async function main(): Promise<void> {
  const stack = await startStack();
  const [requester, approver, auditor] = await Promise.all([launchChromium(), launchChromium(), launchChromium()]);
  try {
    const { url } = stack.edge;
    // The terminal: alice checks out the demo server and runs a few commands.
    const page = await requester.newPage();
    await signIn(page, url, "alice", "alice-password-1");
    await page.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await page.fill("textarea.cart-justification", "INC-4711: restart the web tier");
    await page.click("#cart-submit");
    await page.locator('tr[data-status="active"] button.connect').first().click();
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await page.click("#terminal");
    await page.keyboard.type("whoami; uname -sr; uptime\n");
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: join(DOCS, "screenshot.png") });
    await page.keyboard.type("exit\n");
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 20_000 });

    // An approval on a phone: a policy that needs bob's yes, and alice's request waiting for it.
    const bob = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-12",
      roles: ["approver"],
    });
    const approvers = await stack.admin.createGroup("approvers", [bob.id]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "Production: approval, recorded",
      approvalRequired: true,
      approverGroupId: approvers.id,
      recordingRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, {
      policyId: policy.id,
      description: "Web tier, production",
    });
    await page.goto(`${url}/#/catalog`);
    await page.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await page.fill("textarea.cart-justification", "CHG-2231: rotate the TLS certificate");
    await page.click("#cart-submit");
    await page.waitForSelector('tr[data-status="pending_approval"]');
    await page.screenshot({ path: join(DOCS, "screenshot-requests.png") });

    const phone = await approver.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await signIn(phone, url, "bob", "bob-password-12");
    await phone.waitForSelector("[data-approval-id]");
    await phone.screenshot({ path: join(DOCS, "screenshot-approval-phone.png") });

    // The replay of the first session, as the admin sees it.
    const admin = await auditor.newPage();
    await signIn(admin, url, "admin", "admin-password-1");
    await admin.goto(`${url}/#/recordings`);
    await admin.locator("a[href^='#/recordings/']").first().click();
    await admin.waitForSelector("#replay-player", { timeout: 20_000 });
    // A search hit seeks the player to where the command ran, so the screen shows it.
    await admin.fill("#replay-search", "uptime");
    await admin.keyboard.press("Enter");
    await admin.locator("#replay-hits button[data-time]").first().click();
    await admin.waitForTimeout(1_500);
    await admin.evaluate(() => window.scrollTo(0, 0));
    await admin.screenshot({ path: join(DOCS, "screenshot-replay.png") });
    console.log(`screenshots written to ${DOCS}`);
  } finally {
    await Promise.allSettled([requester.close(), approver.close(), auditor.close()]);
    await stack.stop();
  }
}

await main();
