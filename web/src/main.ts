// Entry point: loads the signed-in user, routes by URL hash (#/login, #/catalog, #/requests, #/approvals,
// #/admin/<section> (auditors: #/admin/live only), #/audit, #/sessions/<id>, #/watch/<id>, #/moderate,
// #/moderate/<id> (moderated sessions: any signed-in user; the API decides who moderates what), #/recordings,
// #/recordings/<id>[?t=<s>], #/commands, #/shared (sessions shared with the user), #/shared/<sessionId> (typing in
// one), #/duo: back from Duo's prompt) and gives
// each page a fresh container plus a cleanup hook.
import "./zod-config.ts";
import "./styles.css";
import "./forms.css";
import "./tables.css";
import "./access.css";
import type { Me, Role } from "../../protocol/index.ts";
import { api, errorText, setUnauthorizedHandler } from "./shared/api.ts";
import { renderCatalog } from "./access/catalog-page.ts";
import { type Cleanup, h, replace } from "./shared/dom.ts";
import { renderDuoReturn } from "./auth/duo-return.ts";
import { renderLogin } from "./auth/login-page.ts";
import { renderNav, setApprovalsCount, setSharedCount } from "./shared/nav.ts";
import { renderRequests } from "./access/requests-page.ts";

/** Where a signed-in user lands. */
const HOME = "#/catalog";

const app = document.getElementById("app")!;
const nav = document.getElementById("nav")!;
const main = document.getElementById("main")!;

/** undefined = not asked yet; null = nobody signed in. */
let me: Me | null | undefined;
let cleanup: Cleanup | undefined;
/** Guards against an older, slower route() finishing after a newer one. */
let routeSerial = 0;

function go(hash: string): void {
  if (location.hash === hash) void route();
  else location.hash = hash;
}

async function logout(): Promise<void> {
  await api.logout().catch(() => undefined);
  me = null;
  go("#/login");
}

setUnauthorizedHandler(() => {
  me = null;
  go("#/login");
});

const has = (user: Me, ...roles: Role[]) => roles.some((role) => user.roles.includes(role));
/** The route without its query: the audit and recordings pages keep their filters there (#/audit?user=alice). */
const withoutQuery = (path: string) => path.split("?")[0]!;

function refuse(container: HTMLElement, text: string): void {
  replace(container, h("p", { class: "notice", role: "alert" }, text));
}

async function route(): Promise<void> {
  const serial = ++routeSerial;
  let path = location.hash.replace(/^#/, "") || "/catalog";
  if (me === undefined) {
    try {
      me = await api.me();
    } catch (error) {
      if (serial !== routeSerial) return;
      replace(app, h("p", { class: "notice", role: "alert" }, errorText(error)));
      return;
    }
  }
  if (serial !== routeSerial) return;

  cleanup?.();
  cleanup = undefined;
  document.body.classList.remove("page-terminal");
  delete document.body.dataset.sessionState;
  delete document.body.dataset.endReason;
  delete document.body.dataset.closeCode;
  const container = h("div", { class: "page" });
  replace(app, container);

  const loginPath = path.split("?")[0] === "/login";
  // Back from Duo's prompt: a pending sign-in (nobody signed in yet) or a step-up (signed in).
  const duoPath = path.split("?")[0] === "/duo";
  if (!me && !loginPath && !duoPath) return go("#/login");
  if (me && loginPath) return go(HOME);
  // The old servers page is now the catalog.
  if (path === "/servers") path = "/catalog";
  document.body.dataset.route = path.split("?")[0]!.split("/")[1] ?? "";
  renderNav(nav, me, path, () => void logout());
  // Approvers see how many requests wait for them, in the nav, on every page.
  if (me && has(me, "approver", "admin", "zone_admin"))
    api.approvals().then(
      (pending) => serial === routeSerial && setApprovalsCount(nav, pending.length),
      () => {},
    );
  // Anyone may be invited to type in a shared session: the nav says how many invitations wait.
  if (me)
    api.invitations().then(
      (list) => serial === routeSerial && setSharedCount(nav, list.filter((i) => i.state === "pending").length),
      () => {},
    );

  const session = /^\/sessions\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  const watch = /^\/watch\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  const moderate = /^\/moderate\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  const shared = /^\/shared\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  // #/recordings/<id>?t=<s>: the replay opens at that second of the recording (the commands timeline links there).
  const recording = /^\/recordings\/([A-Za-z0-9_-]{1,64})(?:\?(.*))?$/.exec(path);
  // #/approvals/<id>: the inbox, at that request's card (notifications link there).
  const approvals = /^\/approvals(?:\/([A-Za-z0-9_-]{1,64}))?$/.exec(path);
  const admin = /^\/admin(?:\/([a-z]+)(?:\/([A-Za-z0-9_-]{1,64}))?)?$/.exec(path);
  if (duoPath) {
    cleanup = renderDuoReturn(container, (returnTo) => {
      me = undefined;
      go(returnTo ?? HOME);
    });
  } else if (loginPath) {
    cleanup = renderLogin(container, (signedIn) => {
      me = signedIn;
      // An approver with requests waiting lands on them; everyone else on the catalog.
      if (!has(signedIn, "approver", "admin", "zone_admin")) return go(HOME);
      api.approvals().then(
        (pending) => go(pending.length > 0 ? "#/approvals" : HOME),
        () => go(HOME),
      );
    });
  } else if (!me) {
    return;
  } else if (path === "/catalog") {
    cleanup = renderCatalog(container, () => go("#/requests"));
  } else if (path === "/account") {
    const page = await lazy(serial, () => import("./auth/account-page.ts"), container);
    if (page) cleanup = page.renderAccount(container);
  } else if (path === "/requests") {
    cleanup = renderRequests(container, (id) => go(`#/sessions/${id}`));
  } else if (approvals) {
    const page = await lazy(serial, () => import("./access/approvals-page.ts"), container);
    if (page) cleanup = page.renderApprovals(container, me, approvals[1]);
  } else if (session?.[1]) {
    document.body.classList.add("page-terminal");
    // RDP sessions open the desktop page; anything else (or an unreadable record) the terminal.
    const id = session[1];
    const desktop = await api.session(id).then(
      (s) => s.protocol === "rdp",
      () => false,
    );
    if (desktop) {
      const page = await lazy(serial, () => import("./session/desktop-page.ts"), container);
      if (page) cleanup = page.renderDesktop(container, id);
    } else {
      const page = await lazy(serial, () => import("./session/terminal-page.ts"), container);
      if (page) cleanup = page.renderTerminal(container, id);
    }
  } else if (watch?.[1]) {
    // The read-only live view: admins and zone admins (who may also kill), auditors (who may not).
    if (!has(me, "admin", "zone_admin", "auditor")) {
      return refuse(container, "The live view is for administrators and auditors.");
    }
    document.body.classList.add("page-terminal");
    // A desktop (RDP) is watched with guacamole-common-js, loaded only for desktops.
    const id = watch[1];
    const rdp = await api.liveSessions().then(
      (list) => list.find((s) => s.id === id)?.protocol === "rdp",
      () => false,
    );
    const page = await lazy(serial, () => import("./session/watch-page.ts"), container);
    const desktop = rdp ? await lazy(serial, () => import("./session/desktop-watch.ts"), container) : undefined;
    if (page && (desktop || !rdp))
      cleanup = page.renderWatch(container, id, has(me, "admin", "zone_admin"), desktop, has(me, "admin"));
  } else if (path === "/moderate") {
    const page = await lazy(serial, () => import("./session/moderate-page.ts"), container);
    if (page) cleanup = page.renderModerate(container);
  } else if (moderate?.[1]) {
    // A moderator's view of a moderated session (terminal sessions): the socket upgrade decides who may.
    document.body.classList.add("page-terminal");
    const page = await lazy(serial, () => import("./session/watch-page.ts"), container);
    if (page) cleanup = page.renderWatch(container, moderate[1], false, undefined, false, "moderate");
  } else if (path === "/shared") {
    const page = await lazy(serial, () => import("./session/shared-page.ts"), container);
    if (page) cleanup = page.renderShared(container, (id) => go(`#/shared/${id}`));
  } else if (shared?.[1]) {
    // Typing in a session shared with this person (terminal sessions): the join socket's upgrade decides who may.
    document.body.classList.add("page-terminal");
    const page = await lazy(serial, () => import("./session/join-page.ts"), container);
    if (page) cleanup = page.renderJoin(container, shared[1], me.username);
  } else if (admin) {
    // Auditors may open the live sessions list (read-only); renderAdmin shows them only that.
    if (!has(me, "admin", "zone_admin", "auditor")) {
      return refuse(container, "The admin pages are for administrators.");
    }
    const page = await lazy(serial, () => import("./admin/admin-page.ts"), container);
    if (page) cleanup = page.renderAdmin(container, me.roles, admin[1] ?? null, admin[2] ?? null);
  } else if (withoutQuery(path) === "/audit") {
    if (!has(me, "auditor", "admin")) return refuse(container, "The audit log is for auditors and administrators.");
    const page = await lazy(serial, () => import("./recordings/audit-page.ts"), container);
    if (page) cleanup = page.renderAudit(container, has(me, "admin", "zone_admin"));
  } else if (withoutQuery(path) === "/commands") {
    if (!has(me, "auditor", "admin"))
      return refuse(container, "The commands timeline is for auditors and administrators.");
    const page = await lazy(serial, () => import("./recordings/commands-page.ts"), container);
    if (page) cleanup = page.renderCommands(container);
  } else if (withoutQuery(path) === "/recordings") {
    const page = await lazy(serial, () => import("./recordings/recordings-page.ts"), container);
    if (page) cleanup = page.renderRecordings(container);
  } else if (recording?.[1]) {
    // Desktop recordings (Guacamole) play in their own player; terminal ones (asciicast) in asciinema-player.
    const id = recording[1];
    const summary = await api.recording(id).catch(() => null);
    // The edge's public keys (offline verification) are for auditors and admins.
    const canDownloadKey = has(me, "auditor", "admin", "zone_admin");
    if (summary?.format === "guacamole") {
      const page = await lazy(serial, () => import("./recordings/desktop-replay.ts"), container);
      if (page) cleanup = page.renderDesktopReplay(container, summary, canDownloadKey);
    } else {
      const page = await lazy(serial, () => import("./recordings/replay-page.ts"), container);
      const at = Number(new URLSearchParams(recording[2] ?? "").get("t") ?? Number.NaN);
      if (page)
        cleanup = page.renderReplay(container, id, canDownloadKey, Number.isFinite(at) && at >= 0 ? at : undefined);
    }
  } else {
    return go(HOME);
  }
}

/**
 * Loads a page's module on first use (xterm.js and jose stay out of the first load). Resolves to
 * undefined when a newer route started meanwhile or the chunk failed to load.
 */
async function lazy<T>(serial: number, load: () => Promise<T>, container: HTMLElement): Promise<T | undefined> {
  try {
    const page = await load();
    return serial === routeSerial ? page : undefined;
  } catch {
    if (serial === routeSerial) {
      replace(
        container,
        h("p", { class: "notice", role: "alert" }, "This page could not be loaded. Reload to try again."),
      );
    }
    return undefined;
  }
}

// The skip link must not change the hash: the hash is the route.
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", () => void route());
// The session cookie lives 15 minutes and is renewed by use: a page left open (a terminal) keeps its
// sign-in alive with a light call every 5 minutes; the edge still ends it at its absolute limit.
const KEEPALIVE_MS = 5 * 60_000;
setInterval(() => {
  if (me) void api.me().catch(() => undefined);
}, KEEPALIVE_MS);
void route();
