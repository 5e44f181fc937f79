// Desktop recording, replay and live view through the real path: wrangler dev (edge) with an S3 store
// (s3rver behind a fault proxy), the real connector and RDP engine, a real xrdp desktop, and real
// Chromium. A recorded RDP session is stored as a .guac that verifies against its signed manifest and
// holds the typed keys (policy records input); it replays in the page and shows the desktop; an admin
// who starts watching late sees the current desktop on their canvas and sends nothing; the user is told
// they are watched; the canary password is in no stored byte and no browser-bound byte; and a required
// recording the connector cannot spool refuses an RDP session before the desktop opens.
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { gunzip, recordingPrefix } from "../../recording/chain.ts";
import { FrameKind } from "../../protocol/frames.ts";
import { GuacParser } from "../../protocol/guacamole.ts";
import type { IntegrityReport } from "../../protocol/index.ts";
import { DESKTOP_BACKGROUND } from "../../scripts/stack/xrdp.ts";
import { chromiumMissing, collectBrowserBound, launchChromium, signInPage } from "../support/browser.ts";
import { type LocalS3, startLocalS3 } from "../support/local-s3.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { type RdpStack, rdpPeersMissing, startRdpStack } from "../support/rdp-stack.ts";

/** Waits until canvas `#id` shows the X root window's colour near the desktop's bottom-right corner. */
async function waitForDesktop(page: Page, id: string, timeout = 60_000): Promise<void> {
  await page
    .waitForFunction(
      ({ id, r, g, b }) => {
        const canvas = document.getElementById(id) as HTMLCanvasElement | null;
        const [w, h] = (document.body.dataset.desktopSize ?? "0x0").split("x").map(Number);
        if (!canvas || !w || !h || w < 100) return false;
        const [pr, pg, pb] = canvas.getContext("2d")!.getImageData(w - 10, h - 10, 1, 1).data;
        return Math.abs(pr! - r) + Math.abs(pg! - g) + Math.abs(pb! - b) < 30; // lossy regions shift colours
      },
      { id, ...DESKTOP_BACKGROUND },
      { timeout, polling: 100 },
    )
    .catch(async (err) => {
      const seen = await page.evaluate(
        (id) => ({
          size: document.body.dataset.desktopSize,
          frames: document.body.dataset.desktopFrames,
          state: document.body.dataset.sessionState,
          replay: document.body.dataset.replay,
          canvas: !!document.getElementById(id),
        }),
        id,
      );
      throw new Error(`${(err as Error).message}; page: ${JSON.stringify(seen)}`);
    });
}

describeWithPeers("RDP recording, replay and live view", rdpPeersMissing() ?? chromiumMissing(), () => {
  let s3: LocalS3;
  let rdp: RdpStack;
  let userBrowser: BrowserContext;
  let adminBrowser: BrowserContext;
  let policyId: string;
  const browserBound: string[] = [];

  beforeAll(async () => {
    s3 = await startLocalS3();
    [rdp, userBrowser, adminBrowser] = await Promise.all([
      startRdpStack({
        vars: s3.vars,
      }),
      launchChromium(),
      launchChromium(),
    ]);
    const policy = await rdp.stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "desktops recorded with input",
      recordingRequired: true,
      recordKeystrokes: true,
      liveViewAllowed: true,
      notifyWatched: true,
    });
    policyId = policy.id;
    await rdp.stack.admin.request("PATCH", `/api/zones/${rdp.stack.zoneId}`, { policyId });
  });

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await rdp?.logs())?.slice(-6000));
    await Promise.allSettled([userBrowser?.close(), adminBrowser?.close()]);
    await rdp?.stop();
    await s3?.stop();
  });

  it("records the desktop as a verified .guac; a late admin viewer sees the desktop; the user is told", async () => {
    const page = await userBrowser.newPage();
    collectBrowserBound(page, browserBound);
    await signInPage(page, rdp.stack.edge.url, "alice", "alice-password-1");
    const { id: sessionId } = await rdp.stack.user.openSession(rdp.serverId, rdp.credentialId);
    await page.goto(`${rdp.stack.edge.url}/#/sessions/${sessionId}`);
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 60_000 });
    await waitForDesktop(page, "desktop-canvas");

    // Keys typed in the page: with input recording on they are in the .guac as `key` instructions.
    const canvas = page.locator("#desktop-canvas");
    const box = (await canvas.boundingBox())!;
    await page.mouse.click(box.x + 60, box.y + 60);
    await page.keyboard.type("echo recorded\n", { delay: 20 });

    // An admin starts watching late: the current desktop appears on their canvas (a repaint, not a replay).
    const watch = await adminBrowser.newPage();
    collectBrowserBound(watch, browserBound);
    const sentByViewer: Buffer[] = [];
    watch.on("websocket", (ws) =>
      ws.on("framesent", (f) => {
        if (typeof f.payload !== "string") sentByViewer.push(Buffer.from(f.payload));
      }),
    );
    await signInPage(watch, rdp.stack.edge.url, "admin", "admin-password-1");
    const joined = Date.now();
    await watch.goto(`${rdp.stack.edge.url}/#/watch/${sessionId}`);
    await watch.waitForSelector("#watch-desktop");
    await watch.waitForSelector('body[data-session-state="connected"]', { timeout: 30_000 });
    const attached = Date.now();
    await waitForDesktop(watch, "watch-desktop-canvas", 30_000);
    console.info(
      `RDP late viewer: desktop on the admin's canvas ${Date.now() - attached} ms after the viewer attached (${Date.now() - joined} ms after opening the page)`,
    );
    // The user is told they are watched.
    await page.waitForFunction(
      () => (document.getElementById("session-watchers")?.textContent ?? "").includes("Watched live by 1 admin"),
      undefined,
      { timeout: 15_000 },
    );
    // Read-only: the viewer's socket carries credit, never a DATA frame (input) toward the session.
    await watch.mouse.click(200, 300);
    await watch.keyboard.type("nope");
    await new Promise((r) => setTimeout(r, 500));
    expect(sentByViewer.filter((f) => f[0] !== FrameKind.Credit)).toEqual([]);
    await watch.close();
    await page.waitForFunction(() => document.getElementById("session-watchers")?.hidden === true, undefined, {
      timeout: 15_000,
    });

    // The admin ends the session: the recording is sealed, stored and verifies.
    await rdp.stack.admin.request("POST", `/api/sessions/${sessionId}/kill`, { reason: "recording test" });
    await page.waitForSelector('body[data-end-reason="killed"]', { timeout: 15_000 });
    const summary = await storedRecording(rdp.stack.admin, sessionId, 60_000);
    expect(summary).toMatchObject({ format: "guacamole", complete: true });
    const report = await rdp.stack.admin.request<IntegrityReport>("POST", `/api/recordings/${summary.id}/verify`, {});
    expect(report).toMatchObject({ status: "verified", problems: [] });

    const res = await fetch(`${rdp.stack.edge.url}/api/recordings/${summary.id}/cast`, {
      headers: { cookie: rdp.stack.admin.sessionCookie },
    });
    expect(res.headers.get("content-disposition")).toContain(".guac");
    const guac = await res.text();
    const instructions = new GuacParser(1 << 20).push(guac);
    const ops = new Set(instructions.map((i) => i.opcode));
    for (const op of ["size", "img", "blob", "end", "sync", "key"]) expect(ops.has(op), op).toBe(true);
    expect(instructions.at(-1)!.opcode).toBe("sync");
    // Frame times are the room's ms since the start: from 0, never backwards.
    const times = instructions.filter((i) => i.opcode === "sync").map((i) => Number(i.args[0]));
    expect(times[0]).toBe(0);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    // `e` (0x65) typed: a key press recorded with its time.
    expect(instructions.some((i) => i.opcode === "key" && i.args[0] === "101" && i.args[1] === "1")).toBe(true);
    expect(guac).not.toContain(rdp.stack.canary);

    // Every stored object, compressed and not, is free of the canary.
    const keys = await s3.direct.list(recordingPrefix(summary.id));
    expect(keys.length).toBe(summary.chunks + 1);
    for (const key of keys) {
      const data = (await s3.direct.get(key))!;
      const text = key.endsWith(".gz") ? new TextDecoder().decode(await gunzip(data)) : new TextDecoder().decode(data);
      expect(text).not.toContain(rdp.stack.canary);
      expect(Buffer.from(data).toString("latin1")).not.toContain(rdp.stack.canary);
    }
    console.info(
      `RDP recording: ${summary.chunks} chunks, ${summary.bytes} B stored (gzip), .guac ${guac.length} B, ${((times.at(-1) ?? 0) / 1000).toFixed(1)} s`,
    );

    // The replay, in the page: the list opens the desktop player; seeking to the end shows the desktop.
    const replay = await adminBrowser.newPage();
    collectBrowserBound(replay, browserBound);
    await replay.goto(`${rdp.stack.edge.url}/#/recordings`);
    const row = replay.locator(`tr[data-session-id="${sessionId}"]`);
    await row.waitFor();
    expect(await row.getAttribute("data-format")).toBe("guacamole");
    await row.locator("a.replay").click();
    await replay.waitForSelector('body[data-replay="ready"]', { timeout: 30_000 }).catch(async (err) => {
      const shown = await replay.locator("p[role=alert]").allTextContents();
      throw new Error(`${(err as Error).message}; the page said: ${JSON.stringify(shown)}`);
    });
    await replay.waitForSelector('#replay-integrity[data-status="verified"]');
    // The keys typed in the page, as text (policy records input), each line a place to jump to.
    expect((await replay.locator("#replay-keys").textContent()) ?? "").toContain("echo recorded⏎");
    // The session's events are named, in order, each a button to its moment.
    const events = (await replay.locator("#replay-markers li").allTextContents()).join("\n");
    expect(events).toMatch(/Connected to the server[\s\S]*Ended: /);
    expect(await replay.locator("#replay-markers button[data-time]").count()).toBeGreaterThanOrEqual(2);
    expect(await replay.locator("#replay-speed option").allTextContents()).toEqual([
      "0.5×",
      "1×",
      "2×",
      "4×",
      "8×",
      "16×",
    ]);
    await replay.selectOption("#replay-speed", "8");
    await replay.locator("#replay-seek").evaluate((el: HTMLInputElement) => {
      el.value = el.max;
      el.dispatchEvent(new Event("input"));
    });
    await waitForDesktop(replay, "replay-desktop-canvas", 30_000);
    // Play from the start at 8x: the clock runs and the player reaches the end by itself.
    await replay.locator("#replay-seek").evaluate((el: HTMLInputElement) => {
      el.value = "0";
      el.dispatchEvent(new Event("input"));
    });
    await replay.click("#replay-play");
    await replay.waitForSelector('body[data-replay-state="playing"]');
    await replay.waitForSelector('body[data-replay-state="paused"]', { timeout: 60_000 });
    expect(await replay.locator("#replay-seek").evaluate((el: HTMLInputElement) => el.value === el.max)).toBe(true);
    await waitForDesktop(replay, "replay-desktop-canvas", 30_000);
    await replay.close();

    expect(browserBound.join("\n")).not.toContain(rdp.stack.canary);
    expect(await rdp.logs()).not.toContain(rdp.stack.canary);
  }, 300_000);

  it("a required recording fails closed when the connector's spool cannot be written: the desktop never opens", async () => {
    // The spool's place is taken by a file: nothing can be written there, not even by root.
    const spool = join(rdp.stack.connectorState, "spool");
    renameSync(spool, `${spool}.away`);
    writeFileSync(spool, "not a directory");
    try {
      const { id } = await rdp.stack.user.openSession(rdp.serverId, rdp.credentialId);
      let reason: unknown;
      for (const started = Date.now(); Date.now() - started < 30_000 && reason === undefined; ) {
        const ended = await rdp.stack.admin.request<{ refs: { sessionId?: string }; data: { reason?: string } }[]>(
          "GET",
          "/api/audit?action=session.ended",
        );
        reason = ended.find((e) => e.refs.sessionId === id)?.data.reason;
        if (reason === undefined) await new Promise((r) => setTimeout(r, 200));
      }
      expect(reason).toBe("recording_unavailable");
    } finally {
      rmSync(spool, { force: true });
      renameSync(`${spool}.away`, spool);
    }
  });
});
