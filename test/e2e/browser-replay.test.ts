// The auditor's replay in real Chromium, of a real SSH session (wrangler dev with local R2, the connector,
// OpenSSH): at 1280×800 the controls sit beside the player and are on screen without scrolling; the
// session's events are ticks on the player's timeline and a list that seeks; 16× is offered; a search hit
// says when it happened on the clock and, on a phone, brings the player back into view; the edge's public
// keys download from "How to verify offline" (no private member), and the offline verifier accepts the
// downloaded recording, manifest and keys. The commands timeline finds the command by part of its text, and its
// "Replay at this moment" opens the replay at that second, the typed line on screen.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { axeViolations, chromiumMissing, collectBrowserBound, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describeWithPeers("replay in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;
  let dir: string;
  let recording: { id: string; sessionId: string; startedAt: number };
  /** When the command the search finds was typed and when its output came back (unix ms). */
  let typed: { from: number; to: number };
  const browserBound: string[] = [];
  let signedIn = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "psm-replay-e2e-"));
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
    // A command rule, so the connector guards the shell and reports each command (this one matches nothing run here).
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "recorded",
      recordingRequired: true,
      commandRules: [{ kind: "commands", names: ["shutdown"], action: "alert", message: "" }],
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });

    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    await client.waitForOutput("$");
    const from = Date.now();
    client.type("echo replay-hit-$((6*7))\n");
    await client.waitForOutput("replay-hit-42");
    typed = { from, to: Date.now() };
    client.type("exit\n");
    expect(await client.waitForEnd(10_000)).toBe("user_exit");
    client.close();
    const summary = await storedRecording(stack.admin, id);
    recording = { id: summary.id, sessionId: id, startedAt: summary.startedAt };
    // The edge's own verification first: a failure here shows its report, not a page that never says "verified".
    expect(await stack.admin.request("POST", `/api/recordings/${summary.id}/verify`, {})).toMatchObject({
      status: "verified",
      problems: [],
    });
  }, 180_000);

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await Promise.allSettled([browser?.close(), stack?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function openReplay(): Promise<Page> {
    const page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    // One browser profile for the file: signed in once, the cookie serves the later cases.
    if (!signedIn) await signInPage(page, stack.edge.url, "admin", "admin-password-1");
    signedIn = true;
    await page.goto(`${stack.edge.url}/#/recordings/${recording.id}`);
    await page.waitForSelector('body[data-replay="ready"]');
    // Whatever the check found, then that it is "verified" (a failure says what the page said instead).
    const integrity = page.locator("#replay-integrity");
    await expect.poll(() => integrity.getAttribute("data-status"), { timeout: 30_000 }).not.toBeNull();
    expect([await integrity.getAttribute("data-status"), await integrity.textContent()]).toEqual([
      "verified",
      expect.stringContaining("Integrity verified"),
    ]);
    return page;
  }

  /** Where `locator` is on the screen, and whether all of it is inside the viewport. */
  async function onScreen(page: Page, locator: Locator) {
    const box = (await locator.boundingBox())!;
    const { width, height } = page.viewportSize()!;
    return {
      box,
      inside: box.x >= 0 && box.y >= 0 && box.x + box.width <= width && box.y + box.height <= height,
    };
  }

  it("at 1280×800 the controls sit beside the player, on screen without scrolling; events mark the timeline; 16× is offered", async () => {
    const page = await openReplay();
    expect(page.viewportSize()).toEqual({ width: 1280, height: 800 });
    await page.locator("#replay-player .ap-marker-container").first().waitFor();
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    const player = await onScreen(page, page.locator("#replay-player"));
    const controls = [
      "#replay-speed",
      "#replay-idle",
      "#replay-search",
      "#replay-search-submit",
      "#replay-download-cast",
      "#replay-download-manifest",
      "#replay-verify-offline > summary",
      "#replay-integrity",
    ];
    for (const selector of controls) {
      const control = await onScreen(page, page.locator(selector));
      expect(control.inside, `${selector} on screen`).toBe(true);
      expect(control.box.x, `${selector} beside the player`).toBeGreaterThanOrEqual(player.box.x + player.box.width);
    }
    await page.screenshot({ path: "test-results/replay-desktop.png" });

    // The session's events: ticks on the player's own timeline (the end sits at the very end, where the
    // player draws none), and a list under it with their wall-clock times.
    expect(await page.locator("#replay-player .ap-marker-container").count()).toBeGreaterThanOrEqual(2);
    const events = page.locator("#replay-markers li");
    expect(await events.allInnerTexts()).toEqual([
      expect.stringContaining("Recording started"),
      expect.stringContaining("Connected to the server"),
      expect.stringContaining("Ended: user exit"),
    ]);
    expect(await events.first().locator("time").textContent()).toMatch(/\d{1,2}:\d{2}:\d{2}/);
    // A tick seeks (asciinema-player marks the ones passed); the end event in the list shows the last screen.
    await page.locator("#replay-player .ap-marker-container").nth(1).click();
    await page.locator("#replay-player .ap-marker.ap-marker-past").first().waitFor();
    await events.last().locator("button").click();
    await page.waitForFunction(() =>
      (document.querySelector("#replay-player")?.textContent ?? "").includes("replay-hit-42"),
    );

    const speeds = await page
      .locator("#replay-speed option")
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(speeds).toEqual(["0.5", "1", "2", "4", "8", "16"]);
    await page.selectOption("#replay-speed", "16");
    await page.waitForFunction(() => document.querySelector("#replay-player .ap-player") !== null);
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  }, 90_000);

  it("a search hit shows when it happened on the clock, and on a phone brings the player back into view", async () => {
    const page = await openReplay();
    await page.fill("#replay-search", "echo replay-hit");
    await page.click("#replay-search-submit");
    const hit = page.locator("#replay-hits button[data-time]").first();
    await hit.waitFor();
    // The wall-clock time is the recording's start plus the hit's offset: when it was typed.
    const iso = (await hit.locator("time").getAttribute("datetime"))!;
    const offset = Number(await hit.getAttribute("data-offset"));
    expect(Date.parse(iso)).toBe(recording.startedAt + Math.round(offset * 1000));
    expect(Date.parse(iso)).toBeGreaterThanOrEqual(typed.from - 1000);
    expect(Date.parse(iso)).toBeLessThanOrEqual(typed.to + 1000);
    const shown = await hit.textContent();
    const expected = await page.evaluate(
      (at) => new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(at),
      Date.parse(iso),
    );
    expect(shown).toContain(expected);
    expect(shown).toMatch(/\+0:\d\d/);

    // On a phone the controls follow the player; scrolled down to the hits, the player is out of view.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click("#replay-verify-offline > summary"); // a longer page
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await hit.scrollIntoViewIfNeeded();
    expect((await onScreen(page, page.locator("#replay-player"))).inside).toBe(false);
    await hit.click();
    await page.waitForFunction(() =>
      (document.querySelector("#replay-player")?.textContent ?? "").includes("echo replay-hit-$((6*7))"),
    );
    const player = await onScreen(page, page.locator("#replay-player"));
    expect(player.box.y).toBeGreaterThanOrEqual(0);
    expect(player.box.y + player.box.height).toBeLessThanOrEqual(844);
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth),
    ).toBe(true);
    await page.screenshot({ path: "test-results/replay-phone.png" });
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  }, 90_000);

  it("the commands timeline finds the command by part of its text; its replay link opens the recording at that moment", async () => {
    const page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    if (!signedIn) await signInPage(page, stack.edge.url, "admin", "admin-password-1");
    signedIn = true;
    await page.goto(`${stack.edge.url}/#/commands`);
    await page.waitForSelector("#commands-filter");
    await page.fill("#commands-q", "REPLAY-HIT-$((");
    await page.click("#commands-search");
    // The unfiltered first page may be on screen until the search's answer replaces it.
    await page.waitForSelector("#commands-filter:not([aria-busy])");
    const rows = page.locator("#commands-table tr[data-idx]");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute("data-session-id")).toBe(recording.sessionId);
    expect(await rows.first().locator("code").textContent()).toBe("echo replay-hit-$((6*7))");
    expect(await rows.first().innerText()).toContain("Ran");
    // The filter is in the URL; the page passes axe.
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe("#/commands?q=REPLAY-HIT-$((");
    expect(await axeViolations(page)).toEqual([]);

    await rows.first().getByRole("link", { name: "Replay at this moment" }).click();
    await page.waitForSelector('body[data-replay="ready"]');
    const hash = new URL(page.url()).hash;
    expect(hash).toMatch(new RegExp(`^#/recordings/${recording.id}\\?t=\\d+\\.\\d{3}$`));
    // The moment is when Enter was pressed, on the recording's clock: within the time the test typed it.
    const t = Number(hash.split("t=")[1]);
    expect(recording.startedAt + t * 1000).toBeGreaterThanOrEqual(typed.from - 1000);
    expect(recording.startedAt + t * 1000).toBeLessThanOrEqual(typed.to + 1000);
    // The player stands there, paused: the typed line is on screen, and the exit typed later is not.
    expect(Number(await page.evaluate(() => document.body.dataset.replayAt))).toBeLessThanOrEqual(t);
    await page.waitForFunction(() =>
      (document.querySelector("#replay-player")?.textContent ?? "").includes("echo replay-hit-$((6*7))"),
    );
    const screen = (await page.locator("#replay-player").textContent()) ?? "";
    expect(screen).not.toContain("logout");
    expect(screen).not.toMatch(/\$ exit/);
    await page.close();
  }, 90_000);

  it("downloads the recording, its manifest and the edge's public keys; the offline verifier accepts them", async () => {
    const page = await openReplay();
    await page.click("#replay-verify-offline > summary");
    const save = async (selector: string) => {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
      const path = join(dir, download.suggestedFilename());
      await download.saveAs(path);
      return { path, name: download.suggestedFilename() };
    };
    await page.screenshot({ path: "test-results/replay-verify-offline.png" });
    const key = await save("#replay-download-key");
    const cast = await save("#replay-download-cast");
    const manifest = await save("#replay-download-manifest");
    expect(cast.name).toBe(`session-${recording.sessionId}.cast`);
    // The command the panel shows names exactly the files just downloaded.
    expect(await page.locator("#replay-verify-command").textContent()).toBe(
      `npm run recording:verify -- --cast ${cast.name} --manifest ${manifest.name} --key ${key.name}`,
    );

    const text = readFileSync(key.path, "utf8");
    const set = JSON.parse(text) as { keys: Record<string, unknown>[] };
    expect(set.keys.length).toBeGreaterThanOrEqual(1);
    for (const k of set.keys) {
      expect(k).toMatchObject({ kty: "OKP", crv: "Ed25519" });
      expect(k).not.toHaveProperty("d");
    }
    expect(text).not.toContain('"d"');

    const verified = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [
          "--import",
          "tsx",
          "scripts/recording-verify.ts",
          "--cast",
          cast.path,
          "--manifest",
          manifest.path,
          "--key",
          key.path,
        ],
        { cwd: ROOT },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
    expect(verified.stdout, verified.stderr).toContain(`VERIFIED: recording ${recording.id}`);
    expect(verified.code).toBe(0);
    expect(browserBound.join("\n")).not.toContain(stack.canary);
    await page.close();
  }, 90_000);
});
