// The top navigation bar: product name, links for the signed-in user's roles, the user, and sign out.
import type { Me, Role } from "../../../protocol/index.ts";
import { h, replace } from "./dom.ts";

interface NavLink {
  href: string;
  label: string;
  /** Shown when the user holds any of these roles; null: everyone signed in (entitlement comes from groups). */
  roles: readonly Role[] | null;
  /** Not shown to holders of these roles (another link already leads there). */
  except?: readonly Role[];
}

const LINKS: readonly NavLink[] = [
  { href: "#/catalog", label: "Catalog", roles: null },
  { href: "#/requests", label: "My requests", roles: null },
  // Shared sessions: live sessions someone invited this person to type in (empty for most people, most of the time).
  { href: "#/shared", label: "Shared with you", roles: null },
  { href: "#/approvals", label: "Approvals", roles: ["approver", "admin", "zone_admin"] },
  { href: "#/admin", label: "Admin", roles: ["admin", "zone_admin"] },
  // Auditors watch live sessions read-only; admins and zone admins reach them through Admin.
  { href: "#/admin/live", label: "Live sessions", roles: ["auditor"], except: ["admin", "zone_admin"] },
  { href: "#/audit", label: "Audit", roles: ["auditor", "admin"] },
  { href: "#/commands", label: "Commands", roles: ["auditor", "admin"] },
  // Moderated sessions: whoever is in a moderator group (the list says which sessions; empty for everyone else).
  { href: "#/moderate", label: "Moderate", roles: null },
  // Everyone: the list shows only what the user may replay (auditors, zone admins, own sessions where allowed).
  { href: "#/recordings", label: "Recordings", roles: null },
  { href: "#/account", label: "Account", roles: null },
];

/** `data-nav` hook of each link: "catalog", "requests", "shared", "approvals", "admin", "admin/live", "audit", …. */
const hook = (link: NavLink) => link.href.slice(2);

export function renderNav(nav: HTMLElement, me: Me | null, currentPath: string, onLogout: () => void): void {
  if (!me) {
    nav.hidden = true;
    replace(nav);
    return;
  }
  nav.hidden = false;
  const holds = (roles: readonly Role[]) => roles.some((role) => me.roles.includes(role));
  const shown = LINKS.filter((link) => (!link.roles || holds(link.roles)) && !(link.except && holds(link.except)));
  const links = shown.map((link) =>
    h(
      "li",
      {},
      h(
        "a",
        {
          href: link.href,
          "aria-current": currentPath.startsWith(link.href.slice(1)) ? "page" : null,
          "data-nav": hook(link),
        },
        link.label,
      ),
    ),
  );
  // On a phone the links fold behind a Menu button (the CSS shows the button only on narrow screens).
  const list = h("ul", { class: "nav-links", id: "nav-links" }, ...links);
  const toggle = h(
    "button",
    {
      type: "button",
      id: "nav-toggle",
      class: "nav-toggle button-quiet",
      "aria-expanded": "false",
      "aria-controls": "nav-links",
    },
    "Menu",
  );
  const setOpen = (open: boolean) => {
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("nav-open", open);
  };
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  list.addEventListener("click", (event) => {
    if ((event.target as Element).closest("a")) setOpen(false);
  });
  replace(
    nav,
    h("a", { class: "brand", href: "#/catalog" }, "PSM"),
    toggle,
    h("nav", { "aria-label": "Main" }, list),
    h(
      "div",
      { class: "nav-user" },
      h(
        "span",
        { id: "nav-username", "data-roles": me.roles.join(" ") },
        me.username,
        h("span", { class: "muted" }, ` · ${me.roles.join(", ").replace("zone_admin", "zone admin")}`),
      ),
      h("button", { type: "button", id: "logout", class: "button-quiet", onclick: onLogout }, "Sign out"),
    ),
  );
}

/** Shows how many requests wait for this approver next to Approvals ("Approvals 2"); 0 shows none. */
export function setApprovalsCount(nav: HTMLElement, count: number): void {
  setCount(nav, "approvals", count);
}

/** Shows how many invitations to a shared session wait for this person ("Shared with you 1"); 0 shows none. */
export function setSharedCount(nav: HTMLElement, count: number): void {
  setCount(nav, "shared", count);
}

function setCount(nav: HTMLElement, hook: string, count: number): void {
  const link = nav.querySelector<HTMLAnchorElement>(`a[data-nav="${hook}"]`);
  if (!link) return;
  link.querySelector(".nav-count")?.remove();
  if (count > 0) link.append(" ", h("span", { class: "nav-count", "aria-label": `${count} waiting` }, String(count)));
}
