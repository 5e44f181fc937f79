// The product as people meet it, in real Chromium against the real edge, connector and sshd:
// a requester checks a server out through the cart and opens its terminal; with approval
// required, an approver in a second browser approves, and at expiry Connect disappears.
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { d1Query } from "../../scripts/stack/edge.ts";
import {
  axeViolations,
  chromiumMissing,
  collectBrowserBound,
  launchChromium,
  pageProblems,
} from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

/** Every page an admin (who sees all of them) can open. */
const ALL_ROUTES = [
  "catalog",
  "requests",
  "approvals",
  "recordings",
  "account",
  "audit",
  "commands",
  // Moderated sessions: the list, and a moderator's view (of no live session: it says so).
  "moderate",
  "moderate/no-such-session",
  // Shared sessions: the invitations to the user, and the join page (of no session: it says so).
  "shared",
  "shared/no-such-session",
  ...[
    "sites",
    "zones",
    "policies",
    "groups",
    "users",
    "grants",
    "servers",
    "credentials",
    "live",
    "checkouts",
    "signin",
    "notifications",
    "streaming",
  ].map((s) => `admin/${s}`),
];

describeWithPeers("the product in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;
  let approverBrowser: BrowserContext;
  let adminBrowser: BrowserContext;
  const browserBound: string[] = [];

  beforeAll(async () => {
    [stack, browser, approverBrowser, adminBrowser] = await Promise.all([
      startStack(),
      launchChromium(),
      launchChromium(),
      launchChromium(),
    ]);
  });
  afterAll(async () => {
    await Promise.allSettled([browser?.close(), approverBrowser?.close(), adminBrowser?.close()]);
    await stack?.stop();
  });

  /** The blob the edge holds for the stack's credential. */
  const vaultedBlob = async () =>
    (
      await d1Query<{ sealed: string }>(
        join(stack.dir, "edge"),
        `SELECT sealed FROM credentials WHERE id = '${stack.credentialId}'`,
      )
    )[0]!.sealed;

  /** Records every byte the page receives (responses, websocket frames, console) for the canary scan. */
  async function openPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    collectBrowserBound(page, browserBound);
    return page;
  }

  async function signIn(page: Page, username: string, password: string) {
    await page.goto(`${stack.edge.url}/#/login`);
    await page.waitForSelector('#login-username, body[data-route="catalog"]');
    if ((await page.getAttribute("body", "data-route")) === "catalog") return; // this browser is signed in already
    await page.fill("#login-username", username);
    await page.fill("#login-password", password);
    await page.click("#login-submit");
    // Approvers with requests waiting land on Approvals.
    await page.waitForSelector('body[data-route="catalog"], body[data-route="approvals"]');
  }

  async function requestThroughCart(page: Page, justification: string): Promise<string> {
    await page.goto(`${stack.edge.url}/#/catalog`);
    await page.locator(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`).click();
    await page.fill("textarea.cart-justification", justification);
    await page.click("#cart-submit");
    await page.waitForSelector('body[data-route="requests"]');
    const row = page.locator(`tr[data-server-name="target"]`).first();
    await row.waitFor();
    return (await row.getAttribute("data-checkout-id"))!;
  }

  async function runInTerminal(page: Page, checkoutId: string) {
    await page
      .locator(`tr[data-checkout-id="${checkoutId}"][data-status="active"] button.connect`)
      .click({ timeout: 20_000 });
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 }).catch(async (err) => {
      await page.screenshot({ path: "test-results/connect-failed.png" });
      console.log(
        `page at ${page.url()}:\n${await page.locator("body").innerText()}\n${pageProblems(page)}\n`,
        (await stack.logs()).slice(-4000),
      );
      throw err;
    });
    await page.click("#terminal");
    await page.keyboard.type("whoami\n");
    await page.waitForFunction(
      (user) => (document.querySelector("#terminal")?.textContent ?? "").split(user).length > 2,
      stack.targetUser,
      { timeout: 10_000 },
    );
  }

  it("checks out through the cart, opens the terminal, runs whoami", async () => {
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "check the disk usage");
    await runInTerminal(page, checkoutId);
    // The bar says the session is recorded, and offers Check in.
    await page.locator("#session-recording").waitFor();
    expect(await page.locator("#session-check-in").isVisible()).toBe(true);
    await page.screenshot({ path: "test-results/terminal.png" });
    await page.keyboard.type("exit\n");
    await page.waitForSelector('body[data-session-state="ended"]');
    expect(await page.getAttribute("body", "data-end-reason")).toBe("user_exit");
    expect(await page.locator("#ended-banner").isVisible()).toBe(true);
    // The overlay can be put away to read what the session printed last.
    await page.click("#ended-dismiss");
    expect(await page.locator("#ended-banner").isVisible()).toBe(false);
    expect(await page.locator("#terminal").innerText()).toContain(stack.targetUser);
    await page.close();
  });

  it("takes a requester from sign-in to a shell prompt in at most 5 clicks (auto-approved policy)", async () => {
    const context = await launchChromium();
    try {
      const page = await context.newPage();
      collectBrowserBound(page, browserBound);
      let clicks = 0;
      const click = async (selector: string) => {
        clicks++;
        await page.locator(selector).first().click({ timeout: 20_000 });
      };
      await page.goto(`${stack.edge.url}/#/login`);
      await page.fill("#login-username", "alice");
      await page.fill("#login-password", "alice-password-1");
      await click("#login-submit");
      await click(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`);
      await page.fill("textarea.cart-justification", "count the clicks");
      await click("#cart-submit");
      await click('tr[data-status="active"] button.connect');
      await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
      // The shell's prompt (user@host:~$) is on the screen.
      await page.waitForFunction(
        (user) => (document.querySelector("#terminal .xterm-rows")?.textContent ?? "").includes(`${user}@`),
        stack.targetUser,
      );
      expect(clicks).toBeLessThanOrEqual(5);
    } finally {
      await context.close();
    }
  });

  it("takes a requester from sign-in to a shell by keyboard alone (Tab, typing, Enter), with focus always visible", async () => {
    const context = await launchChromium();
    try {
      const page = await context.newPage();
      collectBrowserBound(page, browserBound);
      /** Tabs forward until `selector` has focus (as a keyboard user would), checking each stop shows its focus. */
      const tabTo = async (selector: string) => {
        for (let presses = 0; presses < 80; presses++) {
          await page.keyboard.press("Tab");
          const stop = await page.evaluate((wanted) => {
            const el = document.activeElement as HTMLElement | null;
            if (!el || el === document.body) return { here: false, visible: true };
            const style = getComputedStyle(el);
            const visible = style.outlineStyle !== "none" || style.boxShadow !== "none";
            return { here: el.matches(wanted), visible, what: el.outerHTML.slice(0, 80) };
          }, selector);
          expect(stop.visible, `focus is visible on ${stop.what}`).toBe(true);
          if (stop.here) return;
        }
        throw new Error(`Tab never reached ${selector}`);
      };
      await page.goto(`${stack.edge.url}/#/login`);
      await page.waitForSelector("#login-username");
      await tabTo("#login-username");
      await page.keyboard.type("alice");
      await tabTo("#login-password");
      await page.keyboard.type("alice-password-1");
      await page.keyboard.press("Enter");
      await page.waitForSelector('body[data-route="catalog"]');
      await tabTo(`button.add-to-cart[data-credential-id="${stack.credentialId}"]`);
      await page.keyboard.press("Enter");
      await tabTo("textarea.cart-justification");
      await page.keyboard.type("keyboard only");
      await tabTo("#cart-submit");
      await page.keyboard.press("Enter");
      await page.waitForSelector('body[data-route="requests"]');
      await tabTo('tr[data-status="active"] button.connect');
      await page.keyboard.press("Enter");
      await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
      // The terminal has the focus: typing goes to the shell.
      await page.keyboard.type("echo typed-$((6*7))\n");
      await page.waitForFunction(
        () => (document.querySelector("#terminal .xterm-rows")?.textContent ?? "").includes("typed-42"),
        undefined,
        { timeout: 10_000 },
      );
    } finally {
      await context.close();
    }
  });

  it("checks in from the terminal bar: after a confirmation the session and the checkout end", async () => {
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "quick look");
    await runInTerminal(page, checkoutId);
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click("#session-check-in");
    await page.waitForSelector('body[data-session-state="ended"]');
    expect(await page.getAttribute("body", "data-end-reason")).toBe("checkout_ended");
    await page.goto(`${stack.edge.url}/#/requests`);
    await page.locator(`tr[data-checkout-id="${checkoutId}"][data-status="checked_in"]`).waitFor();
    await page.close();
  });

  it("lets an admin in another browser watch the session live and kill it", async () => {
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "tail the application log");
    await runInTerminal(page, checkoutId);

    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/live`);
    await admin.locator("a.watch[data-session-id]").first().click();
    await admin.waitForSelector('body[data-route="watch"]');
    await admin.waitForSelector('body[data-session-state="connected"]');
    // The screen so far arrives at once; what the user types next arrives live.
    await admin.waitForFunction(
      (user) => (document.querySelector("#watch-terminal")?.textContent ?? "").includes(user),
      stack.targetUser,
    );
    await page.keyboard.type("echo watched-$((6*7))\n");
    await admin.waitForFunction(() =>
      (document.querySelector("#watch-terminal")?.textContent ?? "").includes("watched-42"),
    );

    await admin.click("#watch-kill");
    await admin.fill("#watch-kill-reason", "policy violation");
    await admin.click("#watch-kill-confirm");
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 5000 });
    expect(await page.getAttribute("body", "data-end-reason")).toBe("killed");
    expect(await page.locator("#ended-note").innerText()).toContain("policy violation");
    await admin.waitForSelector('body[data-session-state="ended"]', { timeout: 5000 });
    // The checkout went with it (the default): the user cannot reconnect at once, and the admin is told.
    await admin.locator("#kill-outcome, #session-notice", { hasText: "checkout was revoked" }).waitFor();
    await page.goto(`${stack.edge.url}/#/requests`);
    await page.locator(`tr[data-checkout-id="${checkoutId}"][data-status="revoked"]`).waitFor();
    // Request again puts the same server and credential back in the cart, on the catalog.
    await page.locator(`tr[data-checkout-id="${checkoutId}"] button.request-again`).click();
    await page.waitForSelector('body[data-route="catalog"]');
    await page.fill("textarea.cart-justification", "again, after the kill");
    await page.click("#cart-submit");
    await page.waitForSelector('body[data-route="requests"]');
    await page.locator('tr[data-status="active"]', { hasText: "target" }).first().waitFor();
    await Promise.all([page.close(), admin.close()]);
  });

  it("an admin turns the server off in Admin › Servers; the user's open terminal ends, saying why", async () => {
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "rotate the logs");
    await runInTerminal(page, checkoutId);

    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/servers`);
    admin.once("dialog", (dialog) => void dialog.accept());
    await admin.locator('tr[data-server-name="target"] button[aria-label="Turn off target"]').click();
    await admin.locator('tr[data-server-name="target"] button[aria-label="Turn on target"]').waitFor();
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 5000 });
    expect(await page.getAttribute("body", "data-end-reason")).toBe("access_revoked");
    expect(await page.locator("#ended-reason").innerText()).toContain("access to this server was removed");
    // Back on for the cases after this one.
    await admin.locator('tr[data-server-name="target"] button[aria-label="Turn on target"]').click();
    await admin.locator('tr[data-server-name="target"] button[aria-label="Turn off target"]').waitFor();
    await Promise.all([page.close(), admin.close()]);
  });

  it("an admin checks a vaulted credential from Admin › Credentials; the connector logs in with it and the page says so", async () => {
    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/credentials`);
    const row = admin.locator(`tr[data-credential-id="${stack.credentialId}"]`);
    await row.locator('td[data-rotation="ok"]').waitFor();
    await row.locator("button.verify-now").click();
    await row.locator('td[data-rotation="ok"]', { hasText: "Checked" }).waitFor({ timeout: 30_000 });
    expect(await admin.locator("#credentials-error").innerText()).toContain("check asked");
    // The Rotation panel shows where the account lives and the check just made.
    await admin.selectOption("#rot-credential", stack.credentialId);
    await admin.locator('#rot-history li[data-outcome="in_sync"]', { hasText: "check (manual)" }).waitFor();
    expect(await admin.inputValue("#rot-type")).toBe("ssh");
    await admin.click("#rot-save");
    await admin.locator("#rot-message", { hasText: "saved" }).waitFor();
    // Replace secret… seals a new secret in the page (here the same password, so later sessions still log in).
    const before = await vaultedBlob();
    await row.locator("button.replace-secret").click();
    await row.locator(".replace-secret-value").fill(stack.canary);
    await row.locator("button.replace-secret-save").click();
    await admin.locator("#credentials-error", { hasText: "sealed and saved" }).waitFor();
    expect(await vaultedBlob()).not.toBe(before);
    await admin.close();
  });

  it("an admin rotates the site's seal key from Admin › Sites and sees it done; later sessions open with the re-sealed credential", async () => {
    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/sites`);
    const row = admin.locator(`tr[data-site-id="${stack.siteId}"]`);
    const before = await row.locator(".pill.ok").getAttribute("title");
    await row.locator(".seal-status", { hasText: "1 of 1 connectors hold it" }).waitFor();
    admin.once("dialog", (dialog) => void dialog.accept());
    await row.locator("button.rotate-seal-key").click();
    await row.locator(".seal-status", { hasText: "1 credentials re-sealed" }).waitFor({ timeout: 30_000 });
    await expect.poll(() => row.locator(".pill.ok").getAttribute("title")).not.toBe(before);
    expect(await row.locator(".seal-status").innerText()).toContain("1 of 1 connectors hold it");
    await admin.close();
  });

  it("an admin finds a user's checkout by name in Admin › Checkouts and revokes it there", async () => {
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "check the queue");
    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/checkouts`);
    await admin.fill("#checkouts-q", "ali");
    const row = admin.locator(`tr[data-checkout-id="${checkoutId}"][data-status="active"]`);
    await row.locator("button.revoke").click();
    await row.locator(".revoke-reason").fill("access review");
    await row.locator("button.revoke-confirm").click();
    await admin.locator("#checkouts-message", { hasText: "is revoked" }).waitFor();
    await row.waitFor({ state: "detached" });
    await page.goto(`${stack.edge.url}/#/requests`);
    await page.locator(`tr[data-checkout-id="${checkoutId}"][data-status="revoked"]`).waitFor();
    await Promise.all([page.close(), admin.close()]);
  });

  it("an admin sees a server's pinned host key and re-pins it from a line of ssh-keygen -lf", async () => {
    const admin = await openPage(adminBrowser);
    await signIn(admin, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/servers`);
    const row = admin.locator(`tr[data-server-id="${stack.serverId}"]`);
    expect(await row.locator("code.host-key").getAttribute("title")).toBe(stack.sshd.hostKeyFingerprint);
    const repin = async (text: string) => {
      admin.once("dialog", (dialog) => void dialog.accept());
      // Re-pin… opens the form; it stays open after a refused entry.
      if (await row.locator("button.repin").isVisible()) await row.locator("button.repin").click();
      await row.locator(".repin-key").fill(text);
      await row.locator("button.repin-save").click();
    };
    // A scan of several key types is refused, not guessed between.
    const other = `SHA256:${"x".repeat(43)}`;
    await row.locator("button.repin").click();
    await row
      .locator(".repin-key")
      .fill(`3072 ${other} 127.0.0.1 (RSA)\n256 ${stack.sshd.hostKeyFingerprint} 127.0.0.1 (ED25519)`);
    await row.locator("button.repin-save").click();
    await admin.locator("#admin-servers-error", { hasText: "several keys" }).waitFor();
    await repin(`256 ${other} 127.0.0.1 (ED25519)`);
    await admin.locator(`tr[data-server-id="${stack.serverId}"] code.host-key[title="${other}"]`).waitFor();
    // The user's connect now fails before any password is sent, and the page says it never started and why.
    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "after the reinstall");
    await page.locator(`tr[data-checkout-id="${checkoutId}"][data-status="active"] button.connect`).click();
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 20_000 });
    expect(await page.getAttribute("body", "data-end-reason")).toBe("host_key_mismatch");
    expect(await page.locator("#ended-banner h2").innerText()).toBe("The session could not start");
    expect(await page.locator("#ended-reason").innerText()).toContain("re-pin its key in Admin › Servers");
    await page.close();
    // Back to the real key, pasted as ssh-keygen prints it.
    await repin(`256 ${stack.sshd.hostKeyFingerprint} [127.0.0.1]:${stack.sshd.port} (ED25519)`);
    await admin
      .locator(`tr[data-server-id="${stack.serverId}"] code.host-key[title="${stack.sshd.hostKeyFingerprint}"]`)
      .waitFor();
    await admin.close();
  });

  it("warns before the time limit and ends the session at it; More time moves another session's deadline", async () => {
    const page = await openPage(browser);
    const other = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    // A one-minute checkout: shorter than the first warning's lead, so the warning comes at once.
    const short = await stack.user.openSession(stack.serverId, stack.credentialId, 1);
    const long = await stack.user.openSession(stack.serverId, stack.credentialId, 30);
    await page.goto(`${stack.edge.url}/#/sessions/${short.id}`);
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await page.waitForSelector('#session-warning[data-warning="time_limit"]', { timeout: 10_000 });
    expect(await page.locator("#session-warning").innerText()).toMatch(/ends in .* save your work/);

    await other.goto(`${stack.edge.url}/#/sessions/${long.id}`);
    await other.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    const before = Number(await other.getAttribute("#session-countdown", "data-deadline"));
    await other.click("#extend-button");
    await other.selectOption("#extend-minutes", "15");
    await other.fill("#extend-reason", "the backup is still running");
    await other.click("#extend-ask");
    await other.waitForSelector('#extend-result[data-status="granted"]');
    await other.waitForFunction(
      (expected) => Number(document.querySelector("#session-countdown")?.getAttribute("data-deadline")) === expected,
      before + 15 * 60_000,
    );
    await other.close();

    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 75_000 });
    expect(await page.getAttribute("body", "data-end-reason")).toBe("time_limit");
    expect(await page.locator("#ended-banner").innerText()).toContain("time limit");
    await page.close();
  }, 120_000);

  it("holds a moderated session's input until a moderator watches; the moderator locks input and ends it", async () => {
    const mona = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "mona",
      password: "mona-password-12",
      roles: ["requester"],
    });
    const moderators = await stack.admin.createGroup("moderators", [mona.id]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "moderated",
      moderatorsRequired: 1,
      moderatorGroupId: moderators.id,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    const moderator = await launchChromium();
    try {
      const page = await openPage(browser);
      await signIn(page, "alice", "alice-password-1");
      const checkoutId = await requestThroughCart(page, "change the firewall rules");
      await page
        .locator(`tr[data-checkout-id="${checkoutId}"][data-status="active"] button.connect`)
        .click({ timeout: 20_000 });
      await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
      const bar = page.locator("#session-moderation");
      await bar.filter({ hasText: "Waiting for a moderator (0 of 1): input is held" }).waitFor();
      // Typed while held: not sent, and the bar says so.
      await page.click("#terminal");
      await page.keyboard.type("echo held-$((6*7))\n");
      await page.locator("#session-notice", { hasText: "Not sent" }).waitFor();

      const mod = await openPage(moderator);
      await signIn(mod, "mona", "mona-password-12");
      await mod.goto(`${stack.edge.url}/#/moderate`);
      await mod.locator("a.moderate", { hasText: "Moderate alice on target" }).first().click();
      await mod.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
      await mod.locator("#session-server", { hasText: "Moderating alice on target" }).waitFor();
      await bar.filter({ hasText: "Moderated by mona" }).waitFor();

      await page.click("#terminal");
      await page.keyboard.type("echo moderated-$((6*7))\n");
      await mod.waitForFunction(() =>
        (document.querySelector("#watch-terminal")?.textContent ?? "").includes("moderated-42"),
      );
      // What was typed while held never reached the shell (it would have been echoed before this).
      await page.waitForFunction(() =>
        (document.querySelector("#terminal .xterm-rows")?.textContent ?? "").includes("moderated-42"),
      );
      const screen = await page.locator("#terminal .xterm-rows").innerText();
      expect(screen).toContain("moderated-42");
      expect(screen).not.toContain("held-");

      await mod.click("#moderate-lock");
      await bar.filter({ hasText: "Input locked by a moderator" }).waitFor();
      await mod.locator("#session-moderation", { hasText: "Input locked by a moderator" }).waitFor();

      mod.once("dialog", (dialog) => void dialog.accept());
      await mod.click("#moderate-end");
      await page.waitForSelector('body[data-session-state="ended"]', { timeout: 10_000 });
      expect(await page.getAttribute("body", "data-end-reason")).toBe("killed");
      expect(await page.locator("#ended-banner").isVisible()).toBe(true);
      await mod.waitForSelector('body[data-session-state="ended"]', { timeout: 10_000 });
      await page.close();
    } finally {
      await moderator.close();
      await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: null });
    }
  }, 120_000);

  it("needs an approver's yes, then loses Connect at expiry", async () => {
    const bob = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-12",
      roles: ["approver"],
    });
    const approvers = await stack.admin.createGroup("approvers", [bob.id]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "approval, one minute",
      approvalRequired: true,
      approverGroupId: approvers.id,
      // A one-minute window holds sessions and extensions of at most a minute (protocol/policy-rules.ts).
      maxCheckoutMinutes: 1,
      maxSessionMinutes: 1,
      extensionMinutes: null,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });

    const page = await openPage(browser);
    await signIn(page, "alice", "alice-password-1");
    const checkoutId = await requestThroughCart(page, "restart the web tier");
    await page.waitForSelector(`tr[data-checkout-id="${checkoutId}"][data-status="pending_approval"]`);
    // The row says who must approve; the page offers a notification for the approval (a prompt follows a click).
    await page
      .locator(`tr[data-checkout-id="${checkoutId}"]`, { hasText: "Waiting for one approval from the approvers group" })
      .waitFor();
    await browser.grantPermissions(["notifications"], { origin: stack.edge.url });
    await page.evaluate(() => {
      const Native = window.Notification;
      const seen: string[] = [];
      (window as unknown as { notified: string[] }).notified = seen;
      window.Notification = class extends Native {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options);
          seen.push(`${title}: ${options?.body ?? ""}`);
        }
      };
    });
    await page.click("#notify-approvals");
    await page.waitForSelector("#notify-approvals", { state: "hidden" });

    const approverPage = await openPage(approverBrowser);
    await signIn(approverPage, "bob", "bob-password-12");
    // Something waits for bob: he lands on Approvals, the nav counts it, and the request has its own URL.
    expect(await approverPage.getAttribute("body", "data-route")).toBe("approvals");
    await approverPage.locator('a[data-nav="approvals"] .nav-count', { hasText: "1" }).waitFor();
    await approverPage.goto(`${stack.edge.url}/#/approvals/${checkoutId}`);
    const card = approverPage.locator(`[data-approval-id="${checkoutId}"]`);
    await approverPage.locator(`[data-approval-id="${checkoutId}"].linked`).waitFor();
    // The card says what approving allows and where: the policy's limits, the zone's sensitivity, alice's record.
    await card.locator(".policy-effects li", { hasText: "sessions up to 1 min" }).waitFor();
    expect(await card.locator("[data-sensitivity]").getAttribute("data-sensitivity")).toBe("normal");
    expect(await card.locator("[data-history]").innerText()).toMatch(/other requests? in the last 30 days/);
    await card.locator("textarea.decision-comment").fill("go ahead");
    await card.locator("button.approve").click();
    await approverPage.waitForSelector(`[data-approval-id="${checkoutId}"] [data-approval-result="approved"]`);
    // The requester's tab says it was approved, and shows the approver's words inline on My requests.
    await page.waitForFunction(() => document.title.startsWith("Approved: target"), undefined, { timeout: 15_000 });
    // The banner from sending the cart follows the row.
    await page
      .locator(`#cart-results li[data-checkout-id="${checkoutId}"] .flash-text`, { hasText: "Approved and active" })
      .waitFor();
    expect(await page.evaluate(() => (window as unknown as { notified: string[] }).notified)).toEqual([
      `Request approved: Approved: target as ${stack.targetUser}`,
    ]);
    await page.locator(`tr[data-checkout-id="${checkoutId}"] .approval-comment`, { hasText: "“go ahead”" }).waitFor();

    await runInTerminal(page, checkoutId);
    // A one-minute checkout is shorter than the warning lead time: the user is warned at once,
    // then the room ends the session at the deadline.
    await page.waitForSelector('#session-warning[data-warning="time_limit"]', { timeout: 10_000 });
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 75_000 });
    expect(await page.getAttribute("body", "data-end-reason")).toBe("time_limit");
    await page.goto(`${stack.edge.url}/#/requests`);
    await page.waitForSelector(`tr[data-checkout-id="${checkoutId}"]`);
    await page.waitForSelector(`tr[data-checkout-id="${checkoutId}"] button.connect`, {
      state: "detached",
      timeout: 15_000,
    });
    await expect(stack.user.createSession(checkoutId)).rejects.toThrow(/HTTP 409/);

    // Denying asks for a reason the requester reads, and a confirmation.
    const second = await requestThroughCart(page, "one more restart");
    await approverPage.goto(`${stack.edge.url}/#/approvals`);
    const next = approverPage.locator(`[data-approval-id="${second}"]`);
    await next.locator("button.deny").click();
    await next.locator('[data-approval-result="error"]', { hasText: "Say why" }).waitFor();
    await next.locator("textarea.decision-comment").fill("not during the change freeze");
    approverPage.once("dialog", (dialog) => void dialog.accept());
    await next.locator("button.deny").click();
    await approverPage.waitForSelector(`[data-approval-id="${second}"] [data-approval-result="denied"]`);
    expect(browserBound.join("\n")).toContain(stack.targetUser);
    expect(browserBound.join("\n")).not.toContain(stack.canary);
  }, 150_000);

  it("on a 390×844 phone no page scrolls sideways, and the nav folds behind Menu", async () => {
    const phone = await openPage(adminBrowser);
    await phone.setViewportSize({ width: 390, height: 844 });
    await signIn(phone, "admin", "admin-password-1");
    const routes = ALL_ROUTES;
    const wide: string[] = [];
    for (const route of routes) {
      await phone.goto(`${stack.edge.url}/#/${route}`);
      await phone.waitForSelector("body[data-route]");
      await phone.waitForTimeout(400); // lists load after the route renders
      const overflow = await phone.evaluate(() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return null;
        const culprits = [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right > width + 1 && el.getBoundingClientRect().width > 0)
          .slice(-3)
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}.${[...el.classList].join(".")}`);
        return `${document.documentElement.scrollWidth}px: ${culprits.join(", ")}`;
      });
      if (overflow) wide.push(`${route} ${overflow}`);
    }
    expect(wide).toEqual([]);
    // The links are behind Menu, and a chosen link folds them again.
    expect(await phone.locator("#nav-links").isVisible()).toBe(false);
    await phone.click("#nav-toggle");
    await phone.locator('a[data-nav="requests"]').click();
    await phone.waitForSelector('body[data-route="requests"]');
    expect(await phone.locator("#nav-links").isVisible()).toBe(false);
    await phone.close();
  });

  it("has no serious or critical accessibility violations (axe-core, WCAG 2.1 AA) on any page", async () => {
    const page = await openPage(adminBrowser);
    await signIn(page, "admin", "admin-password-1");
    // A new policy starts recorded.
    await page.goto(`${stack.edge.url}/#/admin/policies`);
    expect(await page.locator("#policy-recordingRequired").isChecked()).toBe(true);
    const found: string[] = [];
    for (const route of ALL_ROUTES) {
      await page.goto(`${stack.edge.url}/#/${route}`);
      await page.waitForSelector("body[data-route]");
      await page.waitForTimeout(400);
      for (const v of await axeViolations(page)) found.push(`${route}: ${v}`);
    }
    expect(found).toEqual([]);
    await page.close();
  });
});
