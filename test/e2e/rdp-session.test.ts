// RDP through the real session path: wrangler dev (edge), the real connector running the RDP engine
// for an "rdp" server entry, a real xrdp desktop, and real Chromium rendering with guacamole-common-js
// over the session socket. The first frame is checked on the page's canvas, keystrokes typed in the
// page create a file on the target, kill and the time limit end the desktop session on the server,
// and the canary password appears in no browser-bound byte and no log.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitFor } from "../../scripts/stack/process.ts";
import { DESKTOP_BACKGROUND } from "../../scripts/stack/xrdp.ts";
import { chromiumMissing, collectBrowserBound, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { type RdpStack, rdpPeersMissing, startRdpStack } from "../support/rdp-stack.ts";
import { createTargetUser, newCanary, removeTargetUser } from "../support/stack.ts";

/** The user's X server (started by xrdp-sesman for the desktop session) while the session lives. */
function hasDesktop(user: string): boolean {
  try {
    execFileSync("pgrep", ["-u", user, "-x", "Xorg"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Waits until the page's canvas shows the X root window's known colour inside the desktop. */
async function waitForBackground(page: Page, logs: () => Promise<string>): Promise<void> {
  await page
    .waitForFunction(
      ({ r, g, b }) => {
        const canvas = document.getElementById("desktop-canvas") as HTMLCanvasElement | null;
        // The layer's canvas may be larger than the desktop: read inside the desktop's own size.
        const [w, h] = (document.body.dataset.desktopSize ?? "0x0").split("x").map(Number);
        if (!canvas || !w || !h || w < 100) return false;
        const [pr, pg, pb] = canvas.getContext("2d")!.getImageData(w - 10, h - 10, 1, 1).data;
        return Math.abs(pr! - r) + Math.abs(pg! - g) + Math.abs(pb! - b) < 30; // lossy (WebP) regions shift colours slightly
      },
      DESKTOP_BACKGROUND,
      { timeout: 60_000, polling: 100 },
    )
    .catch(async (err) => {
      // Say what the canvas showed instead, for whoever reads a failure.
      const seen = await page.evaluate(() => {
        const canvas = document.getElementById("desktop-canvas") as HTMLCanvasElement | null;
        const [w, h] = (document.body.dataset.desktopSize ?? "0x0").split("x").map(Number);
        const at = (x: number, y: number) =>
          canvas ? Array.from(canvas.getContext("2d")!.getImageData(x, y, 1, 1).data) : null;
        return JSON.stringify({
          frames: document.body.dataset.desktopFrames,
          decodeFailures: document.body.dataset.desktopDecodeFailures,
          state: document.body.dataset.sessionState,
          endReason: document.body.dataset.endReason,
          closeCode: document.body.dataset.closeCode,
          size: document.body.dataset.desktopSize,
          canvas: [canvas?.width, canvas?.height],
          corner: at(w! - 10, h! - 10),
          mid: at(w! / 2, h! / 2),
          origin: at(5, 5),
        });
      });
      const events = (await logs())
        .split("\n")
        .filter((l) => /"event":"(session|rdp)\./.test(l))
        .slice(-15)
        .join("\n");
      throw new Error(`${(err as Error).message}; canvas: ${seen}; connector:\n${events}`);
    });
}

async function sessionStatus(rdp: RdpStack, id: string) {
  return rdp.stack.user.request<{ status: string; endReason: string | null; protocol: string }>(
    "GET",
    `/api/sessions/${id}`,
  );
}

describeWithPeers("RDP desktop through edge, connector and Chromium", rdpPeersMissing() ?? chromiumMissing(), () => {
  let rdp: RdpStack;
  let browser: BrowserContext;
  let page: Page;
  let sessionId: string;
  const browserBound: string[] = [];
  const extraUsers: string[] = [];

  beforeAll(async () => {
    [rdp, browser] = await Promise.all([startRdpStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    for (const user of extraUsers) removeTargetUser(user);
    await rdp?.stop();
  });

  it("paints the desktop on the page's canvas and types into it", async () => {
    page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    await signInPage(page, rdp.stack.edge.url, "alice", "alice-password-1");

    const opened = Date.now();
    ({ id: sessionId } = await rdp.stack.user.openSession(rdp.serverId, rdp.credentialId));
    expect((await sessionStatus(rdp, sessionId)).protocol).toBe("rdp");
    await page.goto(`${rdp.stack.edge.url}/#/sessions/${sessionId}`);
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 60_000 });
    await waitForBackground(page, rdp.logs);
    console.info(`RDP first frame on the page's canvas ${Date.now() - opened} ms after the session was opened`);
    expect(await page.locator("#send-cad").isVisible()).toBe(true);
    expect(await page.locator("#send-win").isVisible()).toBe(true);

    // Real keystrokes in the page reach the remote xterm (keys go to the window under the pointer).
    const marker = `psm-page-${randomBytes(4).toString("hex")}`;
    const file = join("/home", rdp.stack.targetUser, marker);
    const canvas = page.locator("#desktop-canvas");
    const box = (await canvas.boundingBox())!;
    const scale = box.width / (await canvas.evaluate((c: HTMLCanvasElement) => c.width));
    await page.mouse.move(box.x + 100 * scale, box.y + 100 * scale);
    await page.mouse.click(box.x + 100 * scale, box.y + 100 * scale);
    await waitFor(
      "the file typed in the page",
      async () => {
        if (existsSync(file)) return true;
        await page.keyboard.type(`echo Typed-In-Page > ~/${marker}\n`, { delay: 20 });
        await new Promise((r) => setTimeout(r, 1500));
        return existsSync(file) ? true : undefined;
      },
      45_000,
    );

    // A browser that attaches later (here: the same page reloaded) gets the whole desktop again.
    await page.reload();
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 60_000 });
    await waitForBackground(page, rdp.logs);

    // The canary password is in no byte the browser received and in no log.
    expect(browserBound.join("\n")).not.toContain(rdp.stack.canary);
    expect(await rdp.logs()).not.toContain(rdp.stack.canary);
  });

  it("ends the desktop session on the server when killed and at the time limit", async () => {
    // A second account whose session runs out: a checkout of one minute bounds the session to it.
    const canary2 = newCanary();
    const user2 = createTargetUser(canary2);
    extraUsers.push(user2);
    const cred2 = await rdp.stack.admin.createCredential({
      name: "desktop password 2",
      username: user2,
      kind: "password",
      zoneId: rdp.stack.zoneId,
      secret: canary2,
      serverIds: [rdp.serverId],
    });
    const { id: shortId } = await rdp.stack.user.openSession(rdp.serverId, cred2.id, 1);
    await waitFor("the short session to be active", async () =>
      (await sessionStatus(rdp, shortId)).status === "active" ? true : undefined,
    );
    // The RDP connection is up before xrdp has finished logging on and started the desktop.
    await waitFor("the short session's desktop on the server", async () => (hasDesktop(user2) ? true : undefined));

    // Kill the page's session: the user sees why, and the desktop goes away on the server.
    expect(hasDesktop(rdp.stack.targetUser)).toBe(true);
    await rdp.stack.admin.request("POST", `/api/sessions/${sessionId}/kill`, { reason: "test kill" });
    await page.waitForSelector('body[data-end-reason="killed"]', { timeout: 15_000 });
    // xrdp keeps a disconnected desktop for its KillDisconnected delay (60 s at least), then ends it.
    await waitFor(
      "the killed desktop to end on the server",
      async () => (hasDesktop(rdp.stack.targetUser) ? undefined : true),
      120_000,
    );

    await waitFor(
      "the short session's time limit",
      async () => ((await sessionStatus(rdp, shortId)).status === "ended" ? true : undefined),
      120_000,
    );
    expect((await sessionStatus(rdp, shortId)).endReason).toBe("time_limit");
    await waitFor(
      "the timed-out desktop to end on the server",
      async () => (hasDesktop(user2) ? undefined : true),
      120_000,
    );
    expect(await rdp.logs()).not.toContain(canary2);
  }, 400_000);
});
