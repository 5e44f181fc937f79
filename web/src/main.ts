// Entry point: loads the signed-in user, routes by URL hash (#/login, #/servers, #/sessions/<id>, #/admin)
// and gives each page a fresh container plus a cleanup hook.
import "./styles.css";
import "./forms.css";
import "./tables.css";
import type { Me } from "../../protocol/index.ts";
import { api, errorText, setUnauthorizedHandler } from "./api.ts";
import { type Cleanup, h, replace } from "./dom.ts";
import { renderLogin } from "./login-page.ts";
import { renderNav } from "./nav.ts";
import { renderServers } from "./servers-page.ts";

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

async function route(): Promise<void> {
  const serial = ++routeSerial;
  const path = location.hash.replace(/^#/, "") || "/servers";
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

  if (!me && path !== "/login") return go("#/login");
  if (me && path === "/login") return go("#/servers");
  document.body.dataset.route = path.split("/")[1] ?? "";
  renderNav(nav, me, path, () => void logout());

  const session = /^\/sessions\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (path === "/login") {
    cleanup = renderLogin(container, (signedIn) => {
      me = signedIn;
      go("#/servers");
    });
  } else if (!me) {
    return;
  } else if (path === "/servers") {
    cleanup = renderServers(container, (id) => go(`#/sessions/${id}`));
  } else if (session?.[1]) {
    document.body.classList.add("page-terminal");
    const page = await lazy(serial, () => import("./terminal-page.ts"), container);
    if (page) cleanup = page.renderTerminal(container, session[1]);
  } else if (path === "/admin") {
    if (!me.roles.includes("admin")) {
      replace(container, h("p", { class: "notice", role: "alert" }, "The admin pages are for administrators."));
      return;
    }
    const page = await lazy(serial, () => import("./admin-page.ts"), container);
    if (page) cleanup = page.renderAdmin(container);
  } else {
    return go("#/servers");
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
void route();
