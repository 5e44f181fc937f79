// The installable app in real Chromium against the real edge (wrangler dev): the manifest is linked and served,
// the service worker registers at / (navigator.serviceWorker.ready), and the Account page's "Notify this device"
// flow runs with notifications granted. Chromium's own push service is on the internet, which this machine cannot
// reach: the real subscribe is tried and either works or must be reported plainly on the page; the registration
// path after it is then driven with PushManager.subscribe answered by the test (the browser's push service is the
// one remote API stubbed), so the device is registered, listed, tested and removed through the edge. Then the
// service worker itself: push messages (the Worker's own notices, as the browser decrypts them) are delivered to the
// real worker through the DevTools protocol (ServiceWorker.deliverPushMessage), and the notifications it shows are
// read back; a tap is a NotificationEvent dispatched in the worker (no protocol clicks a notification).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page, Worker } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { EdgeClient } from "../../scripts/stack/admin-client.ts";
import { type Edge, generateEdgeSecrets, startEdge } from "../../scripts/stack/edge.ts";
import { approvalNotice, signInNotice } from "../../worker/notify/push-notices.ts";
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
/** A loaded 2-core machine takes seconds to run a service worker's event. */
const POLL = { timeout: 30_000 };

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

  it("the service worker shows a delivered push as its notice and a tap moves the app to the notice's screen", async () => {
    const page = await accountPage();
    await page.goto(`${edge.url}/#/catalog`);
    await page.waitForSelector('body[data-route="catalog"]');
    await page.waitForFunction(() => navigator.serviceWorker.controller?.scriptURL.endsWith("/sw.js"));
    const sw = browser.serviceWorkers().find((w) => w.url() === `${edge.url}/sw.js`);
    if (!sw) throw new Error("the app's service worker is not running");

    const cdp = await browser.newCDPSession(page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
    await cdp.send("ServiceWorker.enable");
    await expect.poll(() => registrations.some((r) => r.scopeURL === `${edge.url}/` && !r.isDeleted), POLL).toBe(true);
    const { registrationId } = registrations.find((r) => r.scopeURL === `${edge.url}/` && !r.isDeleted)!;
    /** One push message as the browser hands it to the worker once decrypted. */
    const deliver = (data: string) =>
      cdp.send("ServiceWorker.deliverPushMessage", { origin: edge.url, registrationId, data });
    type Shown = { title: string; body: string; tag: string; data: unknown; requireInteraction: boolean };
    const shown = () =>
      page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map(
          (n): Shown => ({
            title: n.title,
            body: n.body,
            tag: n.tag,
            data: n.data,
            requireInteraction: n.requireInteraction,
          }),
        ),
      );
    /**
     * Delivers a notice until the worker shows it under `tag`. A loaded 2-core machine has seen Chromium drop a
     * DevTools-delivered push to a worker that was starting or stopping; a notice with a tag replaces its own
     * earlier copy, so delivering it again is harmless (as a push service's retry would be).
     */
    const deliverShown = async (notice: object, tag: string) => {
      await expect
        .poll(
          async () => {
            if (!(await shown()).some((n) => n.tag === tag)) await deliver(JSON.stringify(notice));
            return (await shown()).some((n) => n.tag === tag);
          },
          { ...POLL, interval: 2_000 },
        )
        .toBe(true);
    };

    // Not a notice of ours: nothing is shown for it.
    await deliver("not a notice");
    const signIn = signInNotice("ch_e2e", { browser: "Firefox on Windows", ip: "203.0.113.7", country: "NL" });
    await deliverShown(signIn, "sign-in-ch_e2e");
    // Exactly what the Worker sends, nothing else: no number to match, no token.
    expect(await shown()).toEqual([
      {
        title: "Sign-in request",
        body: "Sign-in request from Firefox on Windows, 203.0.113.7 (NL). Open to type the number that device shows.",
        tag: "sign-in-ch_e2e",
        data: { url: "/#/account" },
        requireInteraction: true,
      },
    ]);

    const task = approvalNotice({ checkoutId: "ck_e2e", requester: "alice", credential: "root", server: "db-1" });
    await deliverShown(task, "checkout-ck_e2e");
    // A link off this origin is not kept: the notice opens the Account page.
    await deliverShown(
      { ...task, tag: "checkout-elsewhere", url: "https://evil.example/#/approvals" },
      "checkout-elsewhere",
    );
    expect(await shown()).toHaveLength(3);
    const byTag = new Map((await shown()).map((n) => [n.tag, n]));
    expect(byTag.get("checkout-ck_e2e")).toMatchObject({
      title: "Approval needed",
      body: "alice requests root on db-1.",
      data: { url: "/#/approvals/ck_e2e" },
      requireInteraction: false,
    });
    expect(byTag.get("checkout-elsewhere")?.data).toEqual({ url: "/#/account" });

    /** Taps the notification with `tag` in the worker: its own notificationclick listener runs. */
    const tap = (worker: Worker, tag: string) =>
      worker.evaluate(async (t) => {
        const [n] = await (
          self as unknown as { registration: ServiceWorkerRegistration }
        ).registration.getNotifications({
          tag: t,
        });
        if (!n) throw new Error(`no notification ${t}`);
        const NotificationEvent = (
          globalThis as unknown as { NotificationEvent: new (type: string, init: unknown) => Event }
        ).NotificationEvent;
        self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
      }, tag);

    // The tap closes the notice and moves the open window (not focused: Chromium refuses focus without a real tap).
    await tap(sw, "checkout-ck_e2e");
    await page.waitForURL(`${edge.url}/#/approvals/ck_e2e`);
    await page.waitForSelector('body[data-route="approvals"]');
    await expect
      .poll(async () => (await shown()).map((n) => n.tag).sort(), POLL)
      .toEqual(["checkout-elsewhere", "sign-in-ch_e2e"]);

    await tap(sw, "sign-in-ch_e2e");
    await page.waitForURL(`${edge.url}/#/account`);
    await page.waitForSelector("#push-devices h2");

    // Data naming another origin, however it got there, is refused at the tap too: the Account page instead.
    await page.goto(`${edge.url}/#/catalog`);
    await page.waitForSelector('body[data-route="catalog"]');
    await sw.evaluate(() =>
      (self as unknown as { registration: ServiceWorkerRegistration }).registration.showNotification("Elsewhere", {
        tag: "forged",
        data: { url: "https://evil.example/" },
      }),
    );
    await tap(sw, "forged");
    await page.waitForURL(`${edge.url}/#/account`);
    expect(page.url()).toBe(`${edge.url}/#/account`);
    expect(pageProblems(page)).not.toContain("pageerror");
    await cdp.detach();
    await page.close();
  });
});
