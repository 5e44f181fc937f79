// The service worker's decisions, pure (web/src/sw.ts carries them out): which notification a decrypted push
// payload becomes, and which window a tap focuses or opens. Only paths on this origin are ever opened; anything else
// opens the Account page. No imports: it is bundled into the classic-script service worker (dist/sw.js) as is.

/** Where a notice whose link is missing or not ours sends the person: the number-matching screen. */
export const FALLBACK_PATH = "/#/account";
export const ICON_PATH = "/icons/icon-192.png";

// The limits of PushNotice (protocol/web-push.ts), applied again here so a payload that is not one of ours
// cannot fill the screen; the unit test checks they match the schema's.
export const TITLE_MAX_CHARS = 120;
export const BODY_MAX_CHARS = 400;
export const TAG_MAX_CHARS = 80;

export type NotificationToShow = {
  title: string;
  options: {
    body: string;
    tag?: string;
    icon: string;
    badge: string;
    data: { url: string };
    requireInteraction: boolean;
  };
};

/**
 * A path (with query and hash) on `origin`, or FALLBACK_PATH: only a string starting with one "/" counts, and it
 * must still resolve to `origin` (a backslash, "/\\evil.example", resolves elsewhere and is refused).
 */
export function safePath(url: unknown, origin: string): string {
  if (typeof url !== "string" || !/^\/(?![/\\])/.test(url)) return FALLBACK_PATH;
  let resolved: URL;
  try {
    resolved = new URL(url, origin);
  } catch {
    return FALLBACK_PATH;
  }
  return resolved.origin === origin ? resolved.pathname + resolved.search + resolved.hash : FALLBACK_PATH;
}

/**
 * The notification for a push payload (the text the browser decrypted), or null when it is not a notice of ours
 * (not JSON, no title or body): then nothing is shown.
 */
export function notificationFor(payload: string | null | undefined, origin: string): NotificationToShow | null {
  let n: unknown;
  try {
    n = payload ? JSON.parse(payload) : null;
  } catch {
    return null;
  }
  if (!n || typeof n !== "object") return null;
  const { title, body, url, tag, kind } = n as Record<string, unknown>;
  if (typeof title !== "string" || typeof body !== "string") return null;
  return {
    title: title.slice(0, TITLE_MAX_CHARS),
    options: {
      body: body.slice(0, BODY_MAX_CHARS),
      ...(typeof tag === "string" && tag ? { tag: tag.slice(0, TAG_MAX_CHARS) } : {}),
      icon: ICON_PATH,
      badge: ICON_PATH,
      data: { url: safePath(url, origin) },
      // A sign-in request stays until acted on; it is over in 60 s anyway.
      requireInteraction: kind === "sign_in",
    },
  };
}

/** What a tap does: focus the first open window of the app (moving it to a path when it is elsewhere), or open one. */
export type ClickPlan<W> = { focus: W; navigate: string | null } | { open: string };

/**
 * The plan for a tap on a notification whose data is `data`, given the app's open windows (their URLs, in the order
 * clients.matchAll gave them). The path is checked again here: the data is what showNotification stored.
 */
export function clickPlan<W extends { url: string }>(
  data: unknown,
  origin: string,
  windows: readonly W[],
): ClickPlan<W> {
  const url = safePath((data as { url?: unknown } | null | undefined)?.url, origin);
  const href = new URL(url, origin).href;
  const window = windows.find((w) => {
    try {
      return new URL(w.url).origin === origin;
    } catch {
      return false;
    }
  });
  if (!window) return { open: url };
  return { focus: window, navigate: window.url === href ? null : url };
}
