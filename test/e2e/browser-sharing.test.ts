// Shared sessions in Chromium (issue 19, docs/governance.md "Shared sessions"): with a policy that allows sharing,
// alice's terminal page offers Share; she invites bob (entitled to the same credential) and a name that may not join
// is refused in the API's words. Bob, signed in in his own browser, finds the invitation under Shared with you,
// confirms with his own security key in the connect flow's step-up dialog (the zone is high-sensitivity: a sign-in
// proved by password wants the key itself, through Chromium's virtual authenticator), joins and types; the output appears on
// both pages, alice's bar says who types with her and that bob is typing, bob's says he types with alice. Alice takes
// the invitation back and bob's page says he left. The replay says "Typed by bob" where he typed and keeps the
// authorship markers out of the session's events. Every new page passes axe; the canary is in no browser-bound byte.
// Real stack: wrangler dev, the connector, OpenSSH.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../../scripts/stack/process.ts";
import { totpAt } from "../../worker/auth/totp.ts";
import {
  axeViolations,
  chromiumMissing,
  collectBrowserBound,
  launchChromium,
  pageProblems,
  signInPage,
  virtualAuthenticator,
} from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { storedRecording } from "../support/probes.ts";
import { missingPeers, type Stack, startStack } from "../support/stack.ts";

/** The terminal's rows as lines of text (xterm draws one row per element). */
const screenLines = (page: Page, selector: string) =>
  page
    .locator(`${selector} .xterm-rows`)
    .innerText()
    .then((text) => text.split("\n").map((l) => l.trim()));

describeWithPeers("shared sessions in Chromium", missingPeers() ?? chromiumMissing(), () => {
  let stack: Stack;
  /** The app as the browsers reach it: WebAuthn wants a domain rp id, so localhost rather than 127.0.0.1. */
  let app: string;
  let aliceBrowser: BrowserContext;
  let bobBrowser: BrowserContext;
  let alice: Page;
  let bob: Page;
  let sessionId: string;
  /** Alice's authenticator app: a high-sensitivity zone wants a fresh factor before she connects. */
  let aliceTotp: string;
  const browserBound: string[] = [];

  /** Waits for `selector`, printing what the page shows and its problems when it does not come. */
  const expectShown = (page: Page, selector: string, timeout = 20_000) =>
    page.waitForSelector(selector, { timeout }).catch(async (err) => {
      throw new Error(`${err}\n${await page.locator("body").innerText()}\n${pageProblems(page)}`);
    });

  beforeAll(async () => {
    const port = await freePort();
    app = `http://localhost:${port}`;
    [stack, aliceBrowser, bobBrowser] = await Promise.all([
      startStack({ port, vars: { APP_URL: app } }),
      launchChromium(),
      launchChromium(),
    ]);
    const policy = await stack.admin.request<{ id: string }>("POST", "/api/policies", {
      name: "shared",
      sessionSharing: true,
    });
    await stack.admin.request("PATCH", `/api/zones/${stack.zoneId}`, { policyId: policy.id, sensitivity: "high" });
    // Bob may use the same credential: his own group is granted the zone.
    const bobUser = await stack.admin.request<{ id: string }>("POST", "/api/users", {
      username: "bob",
      password: "bob-password-1",
      roles: ["requester"],
    });
    const team = await stack.admin.createGroup("bob's team", [bobUser.id]);
    await stack.admin.grant(team.id, stack.zoneId);

    // Alice has an authenticator app; enrolling it proves it, so her API sign-in may connect to the zone now.
    aliceTotp = (await stack.user.request<{ secret: string }>("POST", "/api/mfa/totp/enrol", {})).secret;
    await stack.user.request("POST", "/api/mfa/totp/confirm", { code: totpAt(aliceTotp, Date.now()) });
    ({ id: sessionId } = await stack.user.openSession(stack.serverId, stack.credentialId));

    alice = await aliceBrowser.newPage();
    bob = await bobBrowser.newPage();
    collectBrowserBound(alice, browserBound);
    collectBrowserBound(bob, browserBound);
    // Alice signs in with her password and a code.
    await alice.goto(`${app}/#/login`);
    await alice.fill("#login-username", "alice");
    await alice.fill("#login-password", "alice-password-1");
    await alice.click("#login-submit");
    await alice.fill("#mfa-code", totpAt(aliceTotp, Date.now() + 30_000));
    await alice.click("#mfa-code-submit");
    await expectShown(alice, 'body[data-route="catalog"]');
    await alice.goto(`${app}/#/sessions/${sessionId}`);
    await expectShown(alice, 'body[data-session-state="connected"]');

    // Bob signs in with his password and registers a security key (Chromium's virtual authenticator): his sign-in's
    // last proof is then not the key, which is what this zone wants of a joiner.
    await virtualAuthenticator(bob);
    await signInPage(bob, app, "bob", "bob-password-1");
    await bob.goto(`${app}/#/account`);
    await bob.fill("#key-name", "Bob's key");
    await bob.click("#key-add");
    await expectShown(bob, "#recovery-codes");
    await bob.click("#recovery-saved");
  }, 180_000);

  afterAll(async () => {
    if (process.env.PSM_DEBUG) console.log((await stack?.logs())?.slice(-6000));
    await Promise.allSettled([aliceBrowser?.close(), bobBrowser?.close()]);
    await stack?.stop();
  });

  it("alice invites bob from the Share panel; a name that may not join is refused in the API's words", async () => {
    await expectShown(alice, "#share-button:not([hidden])");
    await alice.click("#share-button");
    await expectShown(alice, "#share-panel:not([hidden])");
    await alice.locator("#share-list", { hasText: "Nobody is invited yet." }).waitFor();
    await alice.fill("#share-username", "admin"); // not entitled to the credential
    await alice.click("#share-invite");
    await alice.locator("#share-message", { hasText: "That person cannot join this session" }).waitFor();
    await alice.fill("#share-username", "bob");
    await alice.fill("#share-minutes", "10");
    await alice.click("#share-invite");
    await alice.locator("#share-message", { hasText: "bob is invited until" }).waitFor();
    await expectShown(alice, '#share-list li[data-invitee="bob"][data-state="pending"]');
    expect(await axeViolations(alice)).toEqual([]);
  });

  it("bob finds it under Shared with you, confirms with his security key, joins and types; both pages show it", async () => {
    await bob.goto(`${app}/#/shared`);
    const row = bob.locator('#shared-list tr[data-state="pending"]', { hasText: "alice" });
    await row.waitFor({ timeout: 20_000 }).catch(async (err) => {
      throw new Error(`${err}\n${await bob.locator("body").innerText()}\n${pageProblems(bob)}`);
    });
    expect(await row.getAttribute("data-session-id")).toBe(sessionId);
    expect(await bob.locator('a[data-nav="shared"] .nav-count').textContent()).toBe("1");
    expect(await axeViolations(bob)).toEqual([]);

    await row.getByRole("button", { name: "Join: alice's session on target" }).click();
    // The connect flow's step-up dialog, asking bob's own key: a code would not do for this zone.
    await expectShown(bob, "#step-up[open] #mfa-key");
    expect(await bob.textContent("#step-up-title")).toBe("Confirm it is you to join alice's session on target");
    expect(await bob.locator("#step-up-reasons li").allTextContents()).toContain(
      "e2e servers is a high-sensitivity zone: use your security key",
    );
    expect(await bob.locator("#step-up #mfa-code").count()).toBe(0);
    expect(await axeViolations(bob)).toEqual([]);
    await bob.click("#step-up #mfa-key");
    await expectShown(bob, 'body[data-session-state="connected"]');
    expect(new URL(bob.url()).hash).toBe(`#/shared/${sessionId}`);

    // Each sees who else types.
    await bob.locator("#session-participants", { hasText: "Typing with: alice" }).waitFor();
    await alice.locator("#session-participants", { hasText: "Typing with: bob" }).waitFor();

    await bob.click("#join-terminal");
    // Shown for about 3 s after the room's last word: watched for from before bob types.
    const typing = alice.locator("#session-typing", { hasText: "bob is typing" }).waitFor({ timeout: 10_000 });
    await bob.keyboard.type("echo typed-by-bob\n");
    await typing;
    await Promise.all([
      alice.screenshot({ path: "test-results/shared-session-user.png" }),
      bob.screenshot({ path: "test-results/shared-session-joiner.png" }),
    ]);
    // The output line itself (the command's echo is a longer line), on both pages.
    for (const [page, selector] of [
      [bob, "#join-terminal"],
      [alice, "#terminal"],
    ] as const)
      await page.waitForFunction(
        (sel) =>
          (document.querySelector(`${sel} .xterm-rows`) as HTMLElement | null)?.innerText
            .split("\n")
            .some((line) => line.trim() === "typed-by-bob"),
        selector,
        { timeout: 10_000 },
      );
    expect(await screenLines(alice, "#terminal")).toContain("typed-by-bob");
    // Bob is not told he is typing himself.
    expect(await bob.locator("#session-typing").isVisible()).toBe(false);
    // The indicator goes once bob stops.
    await alice.locator("#session-typing").waitFor({ state: "hidden", timeout: 6_000 });
    await expectShown(alice, '#share-list li[data-invitee="bob"][data-state="joined"]');
    expect(await axeViolations(bob)).toEqual([]);
    expect(await axeViolations(alice)).toEqual([]);
  });

  it("alice takes the invitation back: bob's page says he left, and her bar no longer names him", async () => {
    await alice.locator('#share-list li[data-invitee="bob"]').getByRole("button", { name: "Take back: bob" }).click();
    await alice.locator("#share-message", { hasText: "they were disconnected" }).waitFor();
    await expectShown(bob, 'body[data-session-state="ended"]');
    await bob.locator("#ended-banner", { hasText: "You left the session" }).waitFor();
    expect(await bob.textContent("#ended-reason")).toContain("took the invitation back");
    await alice.locator("#session-participants").waitFor({ state: "hidden" });
    await expectShown(alice, '#share-list li[data-invitee="bob"][data-state="revoked"]');
    // Alice's session goes on.
    expect(await alice.getAttribute("body", "data-session-state")).toBe("connected");
    // Nothing waits for bob any more.
    await bob.goto(`${app}/#/shared`);
    await bob.locator("#shared-list", { hasText: "Nobody has invited you into a session right now." }).waitFor();
  });

  it("the replay says who typed where, and keeps authorship out of the session's events", async () => {
    await alice.click("#terminal");
    await alice.keyboard.type("exit\n");
    await expectShown(alice, 'body[data-session-state="ended"]');
    const recording = await storedRecording(stack.admin, sessionId);
    // The admin's replay, in a browser of its own.
    const adminBrowser = await launchChromium();
    const page = await adminBrowser.newPage();
    collectBrowserBound(page, browserBound);
    await signInPage(page, app, "admin", "admin-password-1");
    await page.goto(`${app}/#/recordings/${recording.id}`);
    await expectShown(page, 'body[data-replay="ready"]');
    const events = await page.locator("#replay-markers li").allTextContents();
    expect(events.some((e) => e.includes("bob joined with input"))).toBe(true);
    expect(events.some((e) => /typing:|Typed by/.test(e))).toBe(false);
    await page.fill("#replay-search", "typed-by-bob");
    await page.click("#replay-search-submit");
    await page.locator("#replay-hits button[data-time]").first().click();
    await page.locator("#replay-author", { hasText: "Typed by bob" }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await adminBrowser.close();
    expect(browserBound.join("\n")).not.toContain(stack.canary);
  });
});
