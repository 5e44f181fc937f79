// Recording end to end with real peers: wrangler dev (workerd) writing through the S3 uploader to a
// real s3rver behind the fault-injecting proxy, the real connector and OpenSSH. A session's
// recording is stored and verifies; the canary (the target's password, also typed at a no-echo
// prompt) is in no stored byte; in Chromium an admin opens the recording, searches a typed command,
// jumps there and sees it on the player's screen, with no title change; the store down for a whole session
// loses nothing (the connector spools); kill -9 of the connector leaves an honest incomplete recording.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ConnectorInfo, IntegrityReport, RecordingSummary } from "../../protocol/index.ts";
import { gunzip, recordingPrefix } from "../../recording/chain.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { type LocalS3, startLocalS3 } from "../support/local-s3.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";
import { TerminalClient } from "../support/terminal-client.ts";

const asciinemaMissing = () =>
  existsSync("/usr/bin/asciinema") ? undefined : "asciinema is not installed (apt-get install asciinema)";

let stackRef: Stack;

describeWithPeers("recording end to end", missingPeers() ?? chromiumMissing() ?? asciinemaMissing(), () => {
  let dir: string;
  let s3: LocalS3;
  let stack: Stack;
  let browser: BrowserContext;
  let policyId: string;
  let recorded: { sessionId: string; recordingId: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "psm-rec-e2e-"));
    s3 = await startLocalS3();
    [stack, browser] = await Promise.all([
      startStack({
        // The edge seals an incomplete recording 4 s after its session ended (not 10 minutes).
        vars: { ...s3.vars, RECORDING_TAIL_WAIT_MS: "4000" },
        // Short chunks, so a kill -9 mid-session finds some cut and spooled.
        connectorEnv: { PSM_RECORDING_CHUNK_MS: "500" },
      }),
      launchChromium(),
    ]);
    stackRef = stack;
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "recorded with keystrokes",
      recordingRequired: true,
      recordKeystrokes: true,
    });
    policyId = policy.id;
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId });
  });

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await Promise.allSettled([browser?.close(), stack?.stop()]);
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores a real SSH session's recording in S3; it verifies; the canary is in no stored byte", async () => {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    // A shell command (its ${#X} is bash's, not a template).
    // $'secr\x65t: ': the echoed command line never contains "secret: ", so the wait below sees read's own prompt,
    // printed once echo is off (typed earlier, the canary would be echoed by the tty).
    client.type(["read -s -p $'secr\\x65t: ' X; echo got-", "${#X}", "-chars\n"].join(""));
    await client.waitForOutput("secret: ");
    for (const ch of stack.canary) client.type(ch); // typed at a prompt that does not echo
    client.type("\n");
    await client.waitForOutput(`got-${stack.canary.length}-chars`);
    client.type("echo rec-marker-$((6*7))\n");
    await client.waitForOutput("rec-marker-42");
    // A title change and a clipboard write in the output: replay must not act on them.
    client.type("printf '\\033]0;pwned-title\\007\\033]52;c;cHduZWQ=\\007done-printf\\n'\n");
    await client.waitForOutput("done-printf");
    client.type("exit\n");
    expect(await client.waitForEnd(10_000)).toBe("user_exit");
    client.close();

    const summary = await storedRecording(stack.admin, id);
    recorded = { sessionId: id, recordingId: summary.id };
    expect(summary.complete).toBe(true);
    const report = await stack.admin.request<IntegrityReport>("POST", `/api/recordings/${summary.id}/verify`, {});
    expect(report).toMatchObject({ status: "verified", problems: [] });

    const cast = await (
      await fetch(`${stack.edge.url}/api/recordings/${summary.id}/cast`, {
        headers: { cookie: stack.admin.sessionCookie },
      })
    ).text();
    expect(cast).toContain("rec-marker-42");
    // The downloaded .cast plays in `asciinema play` (2.2, Debian's), under script(1) for the tty it wants.
    const castFile = join(dir, "session.cast");
    writeFileSync(castFile, cast);
    const played = execFileSync(
      "script",
      ["-q", "-e", "-c", `/usr/bin/asciinema play -s 20 -i 0.05 ${castFile}`, "/dev/null"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 },
    );
    expect(played).toContain("rec-marker-42");
    expect(cast).toContain("echo rec-marker"); // the typed command, echoed and recorded as input
    const events = cast
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string]);
    expect(events.filter((e) => e[1] === "m").map((e) => e[2])).toEqual(["start", "connected", "end: user_exit"]);
    expect(events.some((e) => e[1] === "i" && e[2].includes("echo rec-marker"))).toBe(true);

    // Every object in the store, compressed and not, is free of the canary.
    const keys = await s3.direct.list(recordingPrefix(summary.id));
    expect(keys.length).toBe(summary.chunks + 1);
    for (const key of keys) {
      const data = (await s3.direct.get(key))!;
      const text = key.endsWith(".gz") ? new TextDecoder().decode(await gunzip(data)) : new TextDecoder().decode(data);
      expect(text).not.toContain(stack.canary);
      expect(Buffer.from(data).toString("latin1")).not.toContain(stack.canary);
    }
    expect(cast).not.toContain(stack.canary);
  });

  it("in Chromium: opens the recording, searches a typed command, jumps there and sees it on the screen", async () => {
    const page = await browser.newPage();
    const received: string[] = [];
    page.on("response", async (res) => received.push(await res.text().catch(() => "")));
    await signInPage(page, stack.edge.url, "admin", "admin-password-1");
    await page.click('a[data-nav="recordings"]');
    await page.locator(`tr[data-session-id="${recorded.sessionId}"] a.replay`).click();
    await page.waitForSelector('body[data-replay="ready"]');
    await page.waitForSelector('#replay-integrity[data-status="verified"]');
    await page.fill("#replay-search", "echo rec-marker");
    await page.click("#replay-search-submit");
    const hit = page.locator("#replay-hits button[data-time]").first();
    await hit.waitFor();
    await hit.click();
    await page.waitForFunction(
      () => (document.querySelector("#replay-player")?.textContent ?? "").includes("echo rec-marker-$((6*7))"),
      undefined,
      { timeout: 15_000 },
    );
    await page.locator("#replay-player").scrollIntoViewIfNeeded();
    await page.screenshot({ path: "test-results/replay-search.png" });
    if (process.env.PSM_DEBUG)
      console.log(await page.evaluate(() => document.querySelector("#replay-player")!.innerHTML.slice(0, 3000)));
    // Play through the title-change and clipboard sequences: the page's title stays its own.
    await page.fill("#replay-search", "done-printf");
    await page.click("#replay-search-submit");
    await page.locator("#replay-hits button[data-time]").last().click();
    await page.waitForFunction(() =>
      (document.querySelector("#replay-player")?.textContent ?? "").includes("done-printf"),
    );
    expect(await page.title()).toBe("Replay · PSM");
    expect(received.join("\n")).not.toContain(stack.canary);
    await page.close();
  });

  it("the store down for the whole session, then back: the connector's spool holds every chunk, nothing is lost", async () => {
    s3.proxy.setSchedule(() => "500");
    let id: string;
    try {
      // A required recording still starts: an outage shorter than PSM_SPOOL_OUTAGE_MS costs only spool space.
      ({ id } = await stack.user.openSession(stack.serverId, stack.credentialId));
      const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
      await client.waitForState("connected");
      client.type("for i in $(seq 1 15); do echo outage-line-$i; sleep 0.1; done\n");
      await client.waitForOutput("outage-line-15");
      client.type("exit\n");
      expect(await client.waitForEnd(10_000)).toBe("user_exit");
      client.close();
      // Nothing reached the store: the recording is not sealed while its chunks wait on the connector's disk.
      await new Promise((r) => setTimeout(r, 1_000));
      const pending = await stack.admin.request<RecordingSummary[]>("GET", "/api/recordings");
      expect(pending.find((r) => r.sessionId === id)?.status).toBe("recording");
      // Admin sees the spool holding them and the uploads failing (the connector reports every 15 s).
      let spool: ConnectorInfo["spool"] = null;
      for (const started = Date.now(); Date.now() - started < 40_000; ) {
        const connectors = await stack.admin.request<ConnectorInfo[]>("GET", `/api/sites/${stack.siteId}/connectors`);
        spool = connectors.find((c) => c.online)?.spool ?? null;
        if (spool && spool.chunks > 0 && spool.failingSince !== null) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(spool).toMatchObject({ chunks: expect.any(Number), failingSince: expect.any(Number) });
      expect(spool!.chunks).toBeGreaterThan(0);
      expect(spool!.bytes).toBeGreaterThan(0);
    } finally {
      s3.proxy.setSchedule(() => "none");
    }
    // The outage outlasted the tail wait (4 s here), so the edge may have sealed it incomplete first; the
    // chunks that arrive now seal it again, complete.
    let summary = await storedRecording(stack.admin, id, 90_000);
    for (const started = Date.now(); !summary.complete && Date.now() - started < 90_000; ) {
      await new Promise((r) => setTimeout(r, 500));
      summary = await storedRecording(stack.admin, id, 90_000);
    }
    expect(summary.complete).toBe(true);
    const report = await stack.admin.request<IntegrityReport>("POST", `/api/recordings/${summary.id}/verify`, {});
    expect(report).toMatchObject({ status: "verified", problems: [] });
    const cast = await castOf(summary.id);
    expect(cast).toContain("outage-line-15");
  });

  it("kill -9 of the connector mid-session: its spool uploads after the restart; the recording verifies up to the crash, incomplete (connector_lost)", async () => {
    const { id } = await stack.user.openSession(stack.serverId, stack.credentialId);
    const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie);
    await client.waitForState("connected");
    client.type("for i in $(seq 1 20); do echo crash-line-$i; sleep 0.05; done\n");
    await client.waitForOutput("crash-line-20");
    // The store goes down, and the chunk holding the last line is cut (PSM_RECORDING_CHUNK_MS) into the spool.
    s3.proxy.setSchedule(() => "500");
    await new Promise((r) => setTimeout(r, 1_500));
    await stack.restartConnector(); // SIGKILL, then a fresh process on the same state directory
    s3.proxy.setSchedule(() => "none");
    expect(await client.waitForEnd(30_000)).toBe("connector_lost");
    client.close();
    // Sealed once the tail wait (RECORDING_TAIL_WAIT_MS) has passed with no last chunk; the spooled chunks are in.
    let report: IntegrityReport | undefined;
    let cast = "";
    for (const started = Date.now(); Date.now() - started < 60_000; ) {
      const summary = await storedRecording(stack.admin, id, 60_000);
      report = await stack.admin.request<IntegrityReport>("POST", `/api/recordings/${summary.id}/verify`, {});
      cast = await castOf(summary.id);
      if (report.status === "incomplete" && cast.includes("crash-line-20")) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(report?.status).toBe("incomplete");
    expect(report?.problems[0]?.detail).toMatch(/connector_lost/);
    expect(cast).toContain("crash-line-20");
    expect(cast).not.toContain(stack.canary);
  });
});

async function castOf(recordingId: string): Promise<string> {
  const res = await fetch(`${stackRef.edge.url}/api/recordings/${recordingId}/cast`, {
    headers: { cookie: stackRef.admin.sessionCookie },
  });
  return res.text();
}
