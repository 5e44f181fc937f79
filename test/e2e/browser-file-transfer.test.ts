// File transfer in Chromium (issue 19): on the terminal page the user opens the Files panel (shown because the
// policy allows it), uploads a file with the picker into the allowed folder, sees it listed, and downloads it back
// from the list, byte-identical; a refusal shows the connector's reason; the page with the panel open passes axe,
// and the canary credential is in no byte the browser received. Real stack: wrangler dev, the connector, OpenSSH.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Policy } from "../../protocol/index.ts";
import {
  axeViolations,
  chromiumMissing,
  collectBrowserBound,
  launchChromium,
  pageProblems,
  signInPage,
} from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describeWithPeers("file transfer in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;
  let page: Page;
  let home: string;
  const browserBound: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ sftp: true });
    home = join("/home", stack.targetUser);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "files",
      fileTransfer: { upload: true, download: true, maxBytes: 4 * MIB, allowPaths: [home], denyPaths: [] },
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    browser = await launchChromium();
    page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    await signInPage(page, stack.edge.url, "alice", "alice-password-1");
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    await page.goto(`${stack.edge.url}/#/sessions/${id}`);
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 }).catch((err) => {
      throw new Error(`${err}\n${pageProblems(page)}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("an admin sets file transfer on the policy form: a relative folder is refused at its box, then it saves", async () => {
    // Its own browser: a sign-in shares the context's cookies, and the user's page stays signed in as alice.
    const adminBrowser = await launchChromium();
    const admin = await adminBrowser.newPage();
    await signInPage(admin, stack.edge.url, "admin", "admin-password-1");
    await admin.goto(`${stack.edge.url}/#/admin/policies`);
    await admin.fill("#policy-name", "transfers by form");
    await admin.check("#policy-ft-upload");
    await admin.fill("#policy-ft-max", "16");
    await admin.fill("#policy-ft-allow", "srv/data");
    await admin.click("#policy-submit");
    await admin.locator("#policy-ft-error", { hasText: "Line 1: must be an absolute path" }).waitFor();
    expect(await admin.getAttribute("#policy-ft-allow", "aria-invalid")).toBe("true");
    expect(await axeViolations(admin)).toEqual([]);
    await admin.fill("#policy-ft-allow", "/srv/data\n/home");
    await admin.fill("#policy-ft-deny", "/srv/data/keys");
    await admin.click("#policy-submit");
    await admin.locator("#policy-message", { hasText: "Policy transfers by form created" }).waitFor();
    const policies = await stack.admin.request<Policy[]>("GET", "/api/policies");
    expect(policies.find((p) => p.name === "transfers by form")?.fileTransfer).toEqual({
      upload: true,
      download: false,
      maxBytes: 16 * MIB,
      allowPaths: ["/srv/data", "/home"],
      denyPaths: ["/srv/data/keys"],
    });
    await adminBrowser.close();
  });

  it("uploads a picked file into the allowed folder and downloads it back from the list", async () => {
    await page.click("#files-button");
    await page.waitForSelector("#files-panel:not([hidden])");
    expect(await page.inputValue("#files-path")).toBe(home);
    const bytes = randomBytes(2 * MIB + 12345);
    await page.setInputFiles("#files-upload", {
      name: "picked.bin",
      mimeType: "application/octet-stream",
      buffer: bytes,
    });
    await page.waitForFunction(
      () => document.querySelector("#files-status")?.textContent?.startsWith("Uploaded"),
      null,
      {
        timeout: 20_000,
      },
    );
    expect(sha256(readFileSync(join(home, "picked.bin")))).toBe(sha256(bytes));

    const row = page.locator('#files-list li[data-name="picked.bin"]');
    await row.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 20_000 }),
      row.getByRole("button", { name: "Download: picked.bin" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("picked.bin");
    const saved = readFileSync((await download.path())!);
    expect(sha256(saved)).toBe(sha256(bytes));
    expect(await page.textContent("#files-status")).toMatch(/^Downloaded picked\.bin/);
    expect(await axeViolations(page)).toEqual([]);
  });

  it("shows the reason when a transfer is refused", async () => {
    await page.setInputFiles("#files-upload", {
      name: "too-big.bin",
      mimeType: "application/octet-stream",
      buffer: Buffer.alloc(5 * MIB),
    });
    await page.waitForFunction(() => document.querySelector("#files-status")?.textContent?.includes("refused"), null, {
      timeout: 20_000,
    });
    expect(await page.textContent("#files-status")).toMatch(/Upload refused: .*limit/);
    expect(browserBound.join("\n")).not.toContain(stack.canary);
  });
});
