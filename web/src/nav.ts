// The top navigation bar: product name, links for the signed-in user's roles, the user, and sign out.
import type { Me, Role } from "../../protocol/index.ts";
import { h, replace } from "./dom.ts";

interface NavLink {
  href: string;
  label: string;
  /** Shown when the user holds any of these roles. */
  roles: readonly Role[];
}

const LINKS: readonly NavLink[] = [
  { href: "#/servers", label: "Servers", roles: ["requester", "approver", "auditor", "admin"] },
  { href: "#/admin", label: "Admin", roles: ["admin"] },
];

export function renderNav(nav: HTMLElement, me: Me | null, currentPath: string, onLogout: () => void): void {
  if (!me) {
    nav.hidden = true;
    replace(nav);
    return;
  }
  nav.hidden = false;
  const links = LINKS.filter((link) => link.roles.some((role) => me.roles.includes(role))).map((link) =>
    h(
      "li",
      {},
      h(
        "a",
        {
          href: link.href,
          "aria-current": currentPath.startsWith(link.href.slice(1)) ? "page" : null,
          "data-nav": link.label.toLowerCase(),
        },
        link.label,
      ),
    ),
  );
  replace(
    nav,
    h("a", { class: "brand", href: "#/servers" }, "PSM"),
    h("nav", { "aria-label": "Main" }, h("ul", { class: "nav-links" }, ...links)),
    h(
      "div",
      { class: "nav-user" },
      h(
        "span",
        { id: "nav-username", "data-roles": me.roles.join(" ") },
        me.username,
        h("span", { class: "muted" }, ` · ${me.roles.join(", ")}`),
      ),
      h("button", { type: "button", id: "logout", class: "button-quiet", onclick: onLogout }, "Sign out"),
    ),
  );
}
