// The Account page's "Notifications on this device" card: after the person clicks "Notify this device" (the
// browser's permission prompt comes only then), subscribes this browser to Web Push with the edge's VAPID key and
// registers it (/api/push/devices); lists the person's notified devices, removes one, sends a test. The
// subscription's endpoint and keys go to the edge once, never back.
import { browserOf } from "../../../protocol/user-agent.ts";
import type { PushSubscriptionInput } from "../../../protocol/web-push.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type Cleanup, h, replace, say } from "../shared/dom.ts";
import { registerServiceWorker } from "../shared/pwa.ts";

/** How long the browser's push service may take to hand out a subscription before the page says it failed, ms. */
const SUBSCRIBE_WAIT_MS = 15_000;

/** "Chrome on Android": what the person will recognise this device by in the list. */
const thisDeviceLabel = (): string => browserOf(navigator.userAgent) ?? "Browser";

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const bin = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function subscriptionInput(sub: PushSubscription): PushSubscriptionInput {
  const json = sub.toJSON() as { endpoint?: string; keys?: { p256dh?: string; auth?: string } };
  return {
    endpoint: json.endpoint ?? sub.endpoint,
    keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" },
    label: thisDeviceLabel(),
  };
}

export function renderPushDevices(card: HTMLElement): Cleanup {
  let disposed = false;
  /** This browser's row id, once it is registered (from the save answer). */
  let thisDevice: string | null = null;
  const status = h("p", { id: "push-device-status", class: "note", role: "status", hidden: true });
  const list = h("ul", { id: "push-device-list" });
  const notifyButton = h("button", { type: "button", id: "push-notify-this" }, "Notify this device");
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  const fail = (failure: unknown) => {
    if (disposed) return;
    say(status, errorText(failure));
  };

  async function refresh(): Promise<void> {
    const devices = await api.pushDevices();
    if (disposed) return;
    const items = devices.map((d) => {
      const remove = h("button", { type: "button", class: "button-quiet push-device-remove" }, `Remove ${d.label}`);
      remove.addEventListener("click", () => {
        void api
          .removePushDevice(d.id)
          .then(async () => {
            if (d.id === thisDevice) {
              const reg = await navigator.serviceWorker.getRegistration("/");
              await (await reg?.pushManager.getSubscription())?.unsubscribe();
              thisDevice = null;
            }
            say(status, `${d.label} will not be notified any more.`, "ok");
            await refresh();
          })
          .catch(fail);
      });
      const test = h("button", { type: "button", class: "button-quiet push-device-test" }, `Send a test to ${d.label}`);
      test.addEventListener("click", () => {
        void api
          .testPushDevice(d.id)
          .then(() => say(status, `A test is on its way to ${d.label}.`, "ok"))
          .catch(fail);
      });
      const when = d.lastDeliveredAt
        ? `last notified ${new Date(d.lastDeliveredAt).toLocaleString()}`
        : "not notified yet";
      return h(
        "li",
        { class: "push-device" },
        h("span", {}, `${d.label}${d.id === thisDevice ? " (this device)" : ""} · ${when}`),
        test,
        remove,
      );
    });
    replace(list, ...(items.length ? items : [h("li", { class: "muted" }, "No device is notified.")]));
  }

  /** Subscribes this browser and registers it; runs only from the button's click (the permission prompt). */
  async function notifyThisDevice(): Promise<void> {
    say(status, null);
    const { publicKey } = await api.pushConfig();
    if (!publicKey) return say(status, "Notifications are not set up on this server. Ask an administrator.");
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      return say(
        status,
        "Notifications are blocked for this site. Allow them in the browser's settings, then try again.",
      );
    }
    const reg = (await registerServiceWorker()) ?? (await navigator.serviceWorker.ready);
    await navigator.serviceWorker.ready;
    let sub: PushSubscription;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // The browser asks its vendor's push service; without a network path to it the promise may never settle.
      const gaveUp = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("push service timeout")), SUBSCRIBE_WAIT_MS);
      });
      sub =
        (await reg.pushManager.getSubscription()) ??
        (await Promise.race([
          reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }),
          gaveUp,
        ]));
    } catch {
      // The browser's push service could not be reached (offline, or a browser without one).
      return say(status, "This browser could not reach its push service. Check the connection and try again.");
    } finally {
      clearTimeout(timer);
    }
    const saved = await api.savePushDevice(subscriptionInput(sub));
    thisDevice = saved.id;
    say(status, "This device will be notified of sign-in requests and approvals.", "ok");
    await refresh();
  }

  notifyButton.addEventListener("click", () => {
    notifyButton.disabled = true;
    void notifyThisDevice()
      .catch(fail)
      .finally(() => {
        notifyButton.disabled = false;
      });
  });

  replace(
    card,
    h("h2", { id: "push-devices-title" }, "Notifications"),
    h(
      "p",
      {},
      "Be told on this device (a phone, with the app installed) when a sign-in waits for your approval or a request waits for your decision. Tapping the notice opens the screen where you answer.",
    ),
    supported ? notifyButton : h("p", { class: "muted" }, "This browser cannot show notifications from the web."),
    status,
    list,
  );

  // Already subscribed (an earlier visit): registered again quietly, which refreshes its keys and marks it here.
  // No prompt: this runs only where permission was granted before.
  void (async () => {
    if (supported && Notification.permission === "granted") {
      const reg = await navigator.serviceWorker.getRegistration("/");
      const sub = await reg?.pushManager.getSubscription();
      if (sub && !disposed) thisDevice = (await api.savePushDevice(subscriptionInput(sub))).id;
    }
    await refresh();
  })().catch((failure: unknown) => {
    if (!(failure instanceof ApiError && failure.status === 401)) fail(failure);
  });

  return () => {
    disposed = true;
  };
}
