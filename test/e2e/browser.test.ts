// The whole product as a person meets it, in real Chromium: log in, find the server, open the
// terminal, type whoami, read the answer. Every byte the page receives is scanned for the canary.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { BrowserContext } from "playwright-core";
import { chromiumMissing, launchChromium } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack, TARGET_USER } from "../support/stack.ts";

describeWithPeers("terminal in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("logs in, opens the terminal, runs whoami and sees the user's name", async () => {
    const page = await browser.newPage();
    const browserBound: string[] = [];
    page.on("response", async (res) => {
      browserBound.push(JSON.stringify(res.headers()));
      browserBound.push(await res.text().catch(() => ""));
    });
    page.on("websocket", (ws) =>
      ws.on("framereceived", (f) =>
        browserBound.push(typeof f.payload === "string" ? f.payload : f.payload.toString("latin1")),
      ),
    );
    const consoleLines: string[] = [];
    page.on("console", (msg) => consoleLines.push(msg.text()));

    await page.goto(`${stack.edge.url}/#/login`);
    await page.fill("#login-username", "alice");
    await page.fill("#login-password", "alice-password-1");
    await page.click("#login-submit");
    const row = page.locator('tr[data-server-name="target"]');
    await row.waitFor();
    await row.locator(`button.connect[data-credential-id="${stack.credentialId}"]`).click();
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await page.click("#terminal");
    await page.keyboard.type("whoami\n");
    await page.waitForFunction(
      (user) => (document.querySelector("#terminal")?.textContent ?? "").split(user).length > 2,
      TARGET_USER,
      { timeout: 10_000 },
    );
    await page.screenshot({ path: "test-results/terminal.png" });

    // The shell's own exit ends the session and the page says why.
    await page.keyboard.type("exit\n");
    await page.waitForSelector('body[data-session-state="ended"]');
    expect(await page.getAttribute("body", "data-end-reason")).toBe("user_exit");
    expect(await page.locator("#ended-banner").isVisible()).toBe(true);

    const everything = [...browserBound, ...consoleLines].join("\n");
    expect(everything).toContain(TARGET_USER);
    expect(everything).not.toContain(stack.canary);
  });
});
