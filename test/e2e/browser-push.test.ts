// The installable app in real Chromium against the real edge (wrangler dev): the manifest is linked and served,
// the service worker registers at / (navigator.serviceWorker.ready), and the Account page's "Notify this device"
// flow runs with notifications granted. Chromium's own push service is on the internet, which this machine cannot
// reach: the real subscribe is tried and either works or must be reported plainly on the page; the registration
// path after it is then driven with PushManager.subscribe answered by the test (the browser's push service is the
// one remote API stubbed), so the device is registered, listed, tested and removed through the edge.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import { type Edge, generateEdgeSecrets, startEdge } from "../../scripts/stack/edge.ts";
import {
  axeViolations,
  chromiumMissing,
  collectBrowserBound,
  launchChromium,
  pageProblems,
  signInPage,
} from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";

const ADMIN = { username: "admin", password: "admin-password-1" };

async function vapidKey(): Promise<string> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d });
}

describeWithPeers("the installable app and Notify this device, in Chromium", chromiumMissing(), () => {
  let edge: Edge;
  let browser: BrowserContext;
  const browserBound: string[] = [];
  let vapid: string;

  beforeAll(async () => {
    const secrets = await generateEdgeSecrets();
    vapid = await vapidKey();
    const dir = await mkdtemp(join(tmpdir(), "psm-push-"));
    [edge, browser] = await Promise.all([
      startEdge({
        stateDir: join(dir, "edge"),
        secrets,
        vars: { PUSH_VAPID_KEY: vapid, PUSH_VAPID_SUBJECT: "mailto:security@psm.test" },
      }),
      launchChromium(),
    ]);
    const admin = new EdgeClient(edge.url);
    await admin.bootstrap(secrets.BOOTSTRAP_TOKEN, ADMIN.username, ADMIN.password);
    await browser.grantPermissions(["notifications"], { origin: edge.url });
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), edge?.stop()]);
  });

  /** Signs in unless the shared browser profile already is. */
  async function signIn(page: Page): Promise<void> {
    await page.goto(`${edge.url}/#/login`);
    await page.waitForSelector('#login-username, body[data-route="catalog"]');
    if ((await page.getAttribute("body", "data-route")) !== "catalog")
      await signInPage(page, edge.url, ADMIN.username, ADMIN.password);
  }

  async function accountPage(): Promise<Page> {
    const page = await browser.newPage();
    collectBrowserBound(page, browserBound);
    await signIn(page);
    await page.goto(`${edge.url}/#/account`);
    await page.waitForSelector("#push-devices h2");
    return page;
  }

  it("links a manifest with icons and registers the service worker at /", async () => {
    const page = await accountPage();
    const href = await page.getAttribute('link[rel="manifest"]', "href");
    expect(href).toBe("/manifest.webmanifest");
    const manifest = await (await page.request.get(`${edge.url}${href}`)).json();
    expect(manifest).toMatchObject({
      name: "Privileged Session Manager",
      start_url: "/#/account",
      display: "standalone",
    });
    for (const icon of manifest.icons as { src: string; type: string }[]) {
      const res = await page.request.get(`${edge.url}${icon.src}`);
      expect(res.headers()["content-type"]).toBe("image/png");
    }
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
    expect(scope).toBe(`${edge.url}/`);
    // It caches nothing: no Cache Storage is opened by it.
    expect(await page.evaluate(() => caches.keys())).toEqual([]);
    expect(await axeViolations(page)).toEqual([]);
    await page.close();
  });

  it("Notify this device: the real subscribe works or is reported; a subscription is registered, listed, tested and removed", async () => {
    const page = await accountPage();
    expect(await page.evaluate(() => Notification.permission)).toBe("granted");
    await page.click("#push-notify-this");
    const status = page.locator("#push-device-status");
    // The page gives the browser's push service 15 s before it says it could not be reached.
    await status
      .filter({ hasText: /notified of sign-in requests|could not reach its push service/ })
      .waitFor({ timeout: 60_000 });
    const real = (await status.textContent()) ?? "";
    console.log(`Chromium's own push service here: ${real}`);
    if (/could not reach/.test(real)) {
      // Nothing was registered for a subscription that does not exist.
      expect(await page.locator("#push-device-list li.push-device").count()).toBe(0);
    }

    // The browser's push service answered by the test: a subscription as Chromium would hand back.
    const stubbed = await browser.newPage();
    collectBrowserBound(stubbed, browserBound);
    await stubbed.addInitScript(() => {
      const b64 = (bytes: Uint8Array) =>
        btoa(String.fromCharCode(...bytes))
          .replace(/\+/g, "-")
          .replace(/\//g, "_")
          .replace(/=+$/, "");
      const p256dh = new Uint8Array(65);
      p256dh[0] = 4;
      crypto.getRandomValues(p256dh.subarray(1));
      const auth = crypto.getRandomValues(new Uint8Array(16));
      let current: unknown = null;
      const fake = {
        endpoint: "https://push.psm.test/wpush/v2/stubbed-device",
        expirationTime: null,
        toJSON: () => ({
          endpoint: fake.endpoint,
          expirationTime: null,
          keys: { p256dh: b64(p256dh), auth: b64(auth) },
        }),
        unsubscribe: async () => {
          current = null;
          return true;
        },
      };
      const seen: unknown[] = [];
      (window as unknown as { __subscribeCalls: unknown[] }).__subscribeCalls = seen;
      PushManager.prototype.subscribe = async (options?: PushSubscriptionOptionsInit) => {
        seen.push(
          options?.applicationServerKey ? new Uint8Array(options.applicationServerKey as ArrayBuffer).length : 0,
        );
        current = fake;
        return fake as unknown as PushSubscription;
      };
      PushManager.prototype.getSubscription = async () => current as PushSubscription | null;
    });
    await signIn(stubbed);
    await stubbed.goto(`${edge.url}/#/account`);
    await stubbed.waitForSelector("#push-notify-this");
    await stubbed.click("#push-notify-this");
    await stubbed
      .locator("#push-device-status")
      .filter({ hasText: "This device will be notified of sign-in requests and approvals." })
      .waitFor();
    // Subscribed with the edge's VAPID public key (65 bytes, uncompressed P-256).
    expect(
      await stubbed.evaluate(() => (window as unknown as { __subscribeCalls: unknown[] }).__subscribeCalls),
    ).toEqual([65]);
    const row = stubbed.locator("#push-device-list li.push-device", { hasText: "(this device)" });
    await row.waitFor();
    expect(await row.textContent()).toContain("Chrome on Linux");
    // A test goes through the outbox (the push service is not reachable from here: it is retried there).
    await row.getByRole("button", { name: /^Send a test to/ }).click();
    await stubbed.locator("#push-device-status").filter({ hasText: "A test is on its way" }).waitFor();
    await row.getByRole("button", { name: /^Remove / }).click();
    await stubbed.locator("#push-device-status").filter({ hasText: "will not be notified any more" }).waitFor();
    await stubbed.locator("#push-device-list li.muted", { hasText: "No device is notified." }).waitFor();
    expect(pageProblems(stubbed)).not.toContain("pageerror");
    // The endpoint went to the edge once and never came back to a browser.
    expect(browserBound.join("\n")).not.toContain("stubbed-device");
    await Promise.all([page.close(), stubbed.close()]);
  });
});
