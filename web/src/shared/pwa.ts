// Makes the app installable and able to show Web Push notices: registers the service worker (/sw.js, built from
// web/src/sw.ts; scope /) on every page, and follows a notice the worker could not open itself ("psm-open").
export const SW_URL = "/sw.js";

/** The registration, or null where service workers are not available (an http page, an old browser). */
export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  return navigator.serviceWorker.register(SW_URL, { scope: "/", type: "classic" });
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as { type?: unknown; url?: unknown } | null;
    // Only a path on this origin with a hash route: the page moves itself there.
    if (data?.type === "psm-open" && typeof data.url === "string" && data.url.startsWith("/#/")) {
      location.hash = data.url.slice(1);
    }
  });
  registerServiceWorker().catch(() => {
    // No worker (private mode, blocked): the app works, only notifications are unavailable.
  });
}
