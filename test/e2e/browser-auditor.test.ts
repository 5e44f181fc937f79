// The auditor's journey in real Chromium against the real edge, connector and sshd: two people run recorded
// sessions; an auditor finds one person's recordings and audit entries by typing part of their name (the
// pickers offer it), sees the filter in the URL, reloads and still has it, exports what the filter selects,
// and follows a session entry's link to its replay.
import { readFileSync } from "node:fs";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import type { AuditEntry } from "../../protocol/index.ts";
import { axeViolations, chromiumMissing, collectBrowserBound, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const AUDITOR = { username: "audrey", password: "audrey-password-1" };
const BERNADETTE = { username: "bernadette", password: "bernadette-password-1" };

describeWithPeers("the auditor in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  let browser: BrowserContext;
  let bernadetteId: string;
  /** Each person's recorded session. */
  const recorded: Record<"alice" | "bernadette", { sessionId: string; recordingId: string }> = {} as never;
  const browserBound: string[] = [];

  /** A session that runs one command and exits, recorded and stored. */
  async function runSession(client: EdgeClient, who: keyof typeof recorded) {
    const { id } = await client.openSession(stack.serverId, stack.credentialId);
    const terminal = await TerminalClient.open(stack.edge.url, id, client.sessionCookie);
    await terminal.waitForState("connected");
    await terminal.waitForOutput("$");
    terminal.type(`echo audited-${who}\n`);
    await terminal.waitForOutput(`audited-${who}`);
    terminal.type("exit\n");
    expect(await terminal.waitForEnd(10_000)).toBe("user_exit");
    terminal.close();
    recorded[who] = { sessionId: id, recordingId: (await storedRecording(stack.admin, id)).id };
  }

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "recorded",
      recordingRequired: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id });
    await stack.admin.request("POST", "/api/users", { ...AUDITOR, roles: ["auditor"] });
    bernadetteId = (
      await stack.admin.request<{ id: string }>("POST", "/api/users", { ...BERNADETTE, roles: ["requester"] })
    ).id;
    const users = await stack.admin.request<{ id: string; username: string }[]>("GET", "/api/users");
    const aliceId = users.find((u) => u.username === "alice")!.id;
    await stack.admin.request("PUT", `/api/groups/${stack.operatorsGroupId}/members`, {
      userIds: [aliceId, bernadetteId],
    });
    const bernadette = new EdgeClient(stack.edge.url);
    await bernadette.login(BERNADETTE.username, BERNADETTE.password);
    await runSession(stack.user, "alice");
    await runSession(bernadette, "bernadette");
  }, 180_000);

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await Promise.allSettled([browser?.close(), stack?.stop()]);
  });

  async function auditorPage(): Promise<Page> {
    const page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    await page.goto(`${stack.edge.url}/#/login`);
    await page.waitForSelector('#login-username, body[data-route="catalog"]');
    if ((await page.getAttribute("body", "data-route")) !== "catalog")
      await signInPage(page, stack.edge.url, AUDITOR.username, AUDITOR.password);
    return page;
  }

  /** On a 390×844 phone the page does not scroll sideways (rows stack as cards). */
  async function fitsPhone(page: Page): Promise<boolean> {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 390, height: 844 });
    const fits = await page.evaluate(
      () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
    );
    if (size) await page.setViewportSize(size);
    return fits;
  }

  /** The recordings listed, by session id. */
  const listedSessions = (page: Page) =>
    page
      .locator("#recordings-table tr[data-session-id]")
      .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-session-id")));

  it("finds recordings by part of a name; the filter is in the URL and survives a reload", async () => {
    const page = await auditorPage();
    await page.goto(`${stack.edge.url}/#/recordings`);
    await page.locator(`tr[data-session-id="${recorded.alice.sessionId}"]`).waitFor();
    expect(await listedSessions(page)).toEqual(
      expect.arrayContaining([recorded.alice.sessionId, recorded.bernadette.sessionId]),
    );
    // Typing part of the name: the picker offers the whole one (any case), and the filter takes the part.
    await page.locator("#recordings-user").pressSequentially("BERNA", { delay: 30 });
    await page.locator('#recordings-user-names option[value="bernadette"]').waitFor({ state: "attached" });
    await page.click("#recordings-filter");
    await page.waitForFunction(
      (alice) => !document.querySelector(`#recordings-table tr[data-session-id="${alice}"]`),
      recorded.alice.sessionId,
    );
    expect(await listedSessions(page)).toEqual([recorded.bernadette.sessionId]);
    expect(new URL(page.url()).hash).toBe("#/recordings?user=BERNA");

    await page.reload();
    const row = page.locator(`tr[data-session-id="${recorded.bernadette.sessionId}"]`);
    await row.waitFor();
    expect(await page.inputValue("#recordings-user")).toBe("BERNA");
    expect(await listedSessions(page)).toEqual([recorded.bernadette.sessionId]);
    // The row says how the session ended and that its recording is signed; Verify holds it to its manifest.
    expect(await row.locator(".end-reason").getAttribute("data-end-reason")).toBe("user_exit");
    expect(await row.locator(".integrity").textContent()).toBe("Signed");
    await row.locator("button.verify").click();
    // Any answer marks the pill (verified, tampered, unchecked with the error's words): name it if it is not verified.
    const verdict = row.locator(".integrity[data-status]");
    await verdict.waitFor({ timeout: 60_000 });
    expect(await verdict.getAttribute("data-status"), (await verdict.textContent()) ?? "").toBe("verified");
    expect(await axeViolations(page)).toEqual([]);
    expect(await fitsPhone(page)).toBe(true);
    await page.close();
  });

  it("reads the audit log as sentences, filtered by part of a name in the URL, exports it and follows a session to its replay", async () => {
    const page = await auditorPage();
    await page.goto(`${stack.edge.url}/#/audit`);
    await page.locator("#audit-table tr[data-idx]").first().waitFor();
    await page.locator("#audit-user").pressSequentially("berna", { delay: 30 });
    await page.locator('#audit-user-names option[value="bernadette"]').waitFor({ state: "attached" });
    await page.click("#audit-apply");
    await page.waitForFunction(() => new URL(location.href).hash === "#/audit?user=berna");

    /** Every row is about bernadette: she did it, or it concerns her. */
    const rowsAreHers = async () => {
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll("#audit-table tr[data-idx]")];
        return rows.length > 0 && rows.every((r) => (r.textContent ?? "").includes("bernadette"));
      });
      return page.locator("#audit-table tr[data-idx]").count();
    };
    const shown = await rowsAreHers();
    // Her session reads as a sentence with her name and the server, and its "session" links to the replay.
    const started = page.locator('#audit-table tr[data-action="session.started"]');
    expect(await started.count()).toBe(1);
    expect(await started.locator(".audit-sentence").textContent()).toMatch(
      /^bernadette started a session as .+@target$/,
    );
    // The stored entry is one click away.
    await started.locator("details summary").click();
    expect(JSON.parse((await started.locator("pre").textContent())!)).toMatchObject({
      action: "session.started",
      refs: { userId: bernadetteId, sessionId: recorded.bernadette.sessionId },
    });
    expect(await axeViolations(page)).toEqual([]);
    expect(await fitsPhone(page)).toBe(true);

    await page.reload();
    expect(await rowsAreHers()).toBe(shown);
    expect(await page.inputValue("#audit-user")).toBe("berna");

    // The export carries what the filter selects: her entries only, each as stored.
    expect(await page.getAttribute("#audit-export", "href")).toBe("/api/audit/export?user=berna");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#audit-export")]);
    const lines = readFileSync((await download.path())!, "utf8")
      .split("\n")
      .filter(Boolean);
    const exported = lines.map((line) => JSON.parse(line) as AuditEntry);
    expect(exported.length).toBe(shown);
    for (const e of exported) expect([e.actor?.id, e.refs.userId]).toContain(bernadetteId);
    expect(exported.some((e) => e.refs.sessionId === recorded.alice.sessionId)).toBe(false);

    await page.locator('#audit-table tr[data-action="session.started"] a.audit-replay').click();
    await page.waitForFunction((id) => location.hash === `#/recordings/${id}`, recorded.bernadette.recordingId);
    await page.waitForSelector('body[data-replay="ready"]', { timeout: 30_000 });
    await page.close();
    expect(browserBound.join("\n")).not.toContain(stack.canary);
  });
});
