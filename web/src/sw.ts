// The service worker (built to dist/sw.js as a classic script, scope /): shows Web Push notices and opens the page
// they name; the decisions are web/src/sw-core.ts (pure, unit-tested), this is the glue. It holds no secret and
// caches nothing (no fetch handler: every request goes to the network as without it). A notice is
// { kind, title, body, url, tag } (protocol/web-push.ts PushNotice), decrypted by the browser.
import { clickPlan, notificationFor } from "./sw-core.ts";

// The few service-worker types used here (web/ compiles with the DOM lib, which has no ServiceWorkerGlobalScope).
type ExtendableEvent = Event & { waitUntil(p: Promise<unknown>): void };
type WindowClient = {
  url: string;
  focus(): Promise<WindowClient>;
  navigate?(url: string): Promise<WindowClient | null>;
  postMessage(message: unknown): void;
};
type Scope = {
  location: Location;
  registration: ServiceWorkerRegistration;
  clients: {
    claim(): Promise<void>;
    matchAll(o: { type: "window"; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: "install" | "activate", f: (e: ExtendableEvent) => void): void;
  addEventListener(type: "push", f: (e: ExtendableEvent & { data: { text(): string } | null }) => void): void;
  addEventListener(type: "notificationclick", f: (e: ExtendableEvent & { notification: Notification }) => void): void;
};
const sw = self as unknown as Scope;

sw.addEventListener("install", () => {
  sw.skipWaiting().catch(() => {
    // Not taking over at once only delays the new worker to the next page load.
  });
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(sw.clients.claim());
});

sw.addEventListener("push", (event) => {
  const shown = notificationFor(event.data?.text(), sw.location.origin);
  if (!shown) return;
  event.waitUntil(sw.registration.showNotification(shown.title, shown.options));
});

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    (async () => {
      const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
      const plan = clickPlan(event.notification.data, sw.location.origin, windows);
      if ("open" in plan) {
        await sw.clients.openWindow(plan.open);
        return;
      }
      const client = plan.focus;
      // Focus is refused without the tap's activation; moving the window to the screen is still worth doing.
      await client.focus().catch(() => client);
      if (plan.navigate === null) return;
      // A hash route in the same document: navigate moves it; a window we do not control is told instead (pwa.ts).
      try {
        if (!client.navigate) throw new Error("no navigate");
        await client.navigate(plan.navigate);
      } catch {
        client.postMessage({ type: "psm-open", url: plan.navigate });
      }
    })(),
  );
});
