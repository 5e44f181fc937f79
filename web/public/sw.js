// The service worker (scope /): shows Web Push notices and opens the page they name. It holds no secret and
// caches nothing (no fetch handler: every request goes to the network as without it). A notice is
// { kind, title, body, url, tag } (protocol/web-push.ts PushNotice), decrypted by the browser; url is a path on
// this origin (the number-matching screen #/account, or an approval), anything else opens the Account page.

const FALLBACK_URL = "/#/account";

/** The notice in an event's data, or null when it is not one of ours. */
function noticeOf(data) {
  let n;
  try {
    n = data ? data.json() : null;
  } catch {
    return null;
  }
  if (!n || typeof n.title !== "string" || typeof n.body !== "string") return null;
  return {
    title: n.title.slice(0, 120),
    body: n.body.slice(0, 400),
    url: safePath(n.url),
    tag: typeof n.tag === "string" ? n.tag.slice(0, 80) : undefined,
    kind: typeof n.kind === "string" ? n.kind : "other",
  };
}

/** A path on this origin, or the Account page: a notice never sends the app elsewhere. */
function safePath(url) {
  if (typeof url !== "string" || !/^\/(?!\/)/.test(url)) return FALLBACK_URL;
  const resolved = new URL(url, self.location.origin);
  return resolved.origin === self.location.origin ? resolved.pathname + resolved.search + resolved.hash : FALLBACK_URL;
}

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", (event) => {
  const notice = noticeOf(event.data);
  if (!notice) return;
  event.waitUntil(
    self.registration.showNotification(notice.title, {
      body: notice.body,
      tag: notice.tag,
      icon: "/icons/icon-192.png",
      badge: "/icons/icon-192.png",
      data: { url: notice.url },
      // A sign-in request stays until acted on; it is over in 60 s anyway.
      requireInteraction: notice.kind === "sign_in",
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = safePath(event.notification.data?.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).origin !== self.location.origin) continue;
        await client.focus();
        // Same document (hash routes): navigate moves it to the screen; a client we do not control is told instead.
        if ("navigate" in client && client.url !== new URL(url, self.location.origin).href) {
          try {
            await client.navigate(url);
            return;
          } catch {
            client.postMessage({ type: "psm-open", url });
            return;
          }
        }
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
