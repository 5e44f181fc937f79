// The admin pages (#/admin/<section>): a section menu by role and the chosen section. Admins see
// everything; zone admins see only their zones' zones, grants, servers, credentials, live sessions and
// revocation; auditors see only the live sessions, read-only.
import type { Role } from "../../../protocol/index.ts";
import { renderAuditSinks } from "./admin-audit-sinks.ts";
import { renderAdminCheckouts } from "./admin-checkouts.ts";
import { renderAdminCredentials } from "./admin-credentials.ts";
import { type AdminContext, AdminData } from "./admin-data.ts";
import { renderGrants } from "./admin-grants.ts";
import { renderGroups } from "./admin-groups.ts";
import { renderLiveSessions } from "./admin-live.ts";
import { renderPolicies } from "./admin-policies.ts";
import { renderAdminServers } from "./admin-servers.ts";
import { renderAdminNotifications } from "./admin-notifications.ts";
import { renderAdminSignIn } from "./admin-signin.ts";
import { renderSites } from "./admin-sites.ts";
import { renderUsers } from "./admin-users.ts";
import { renderZones } from "./admin-zones.ts";
import { type Cleanup, append, h } from "../shared/dom.ts";

interface Section {
  id: string;
  label: string;
  /** Who may open it (the edge refuses the others anyway). */
  roles: readonly Role[];
  render: (container: HTMLElement, context: AdminContext) => Cleanup;
}

const ADMIN: readonly Role[] = ["admin"];
const ADMINS: readonly Role[] = ["admin", "zone_admin"];
const WATCHERS: readonly Role[] = ["admin", "zone_admin", "auditor"];

const SECTIONS: readonly Section[] = [
  { id: "sites", label: "Sites", roles: ADMIN, render: renderSites },
  { id: "zones", label: "Zones", roles: ADMINS, render: renderZones },
  { id: "policies", label: "Policies", roles: ADMIN, render: renderPolicies },
  { id: "groups", label: "Groups", roles: ADMIN, render: renderGroups },
  { id: "users", label: "Users", roles: ADMIN, render: renderUsers },
  { id: "grants", label: "Grants", roles: ADMINS, render: renderGrants },
  { id: "servers", label: "Servers", roles: ADMINS, render: renderAdminServers },
  { id: "credentials", label: "Credentials", roles: ADMINS, render: renderAdminCredentials },
  { id: "live", label: "Live sessions", roles: WATCHERS, render: renderLiveSessions },
  { id: "checkouts", label: "Checkouts", roles: ADMINS, render: renderAdminCheckouts },
  { id: "signin", label: "Sign-in", roles: ADMIN, render: renderAdminSignIn },
  { id: "notifications", label: "Notifications", roles: ADMIN, render: renderAdminNotifications },
  { id: "streaming", label: "Audit streaming", roles: ADMIN, render: renderAuditSinks },
];

/** The sections a user with `roles` may open, in menu order. */
export function adminSections(roles: readonly Role[]): readonly Section[] {
  return SECTIONS.filter((section) => section.roles.some((role) => roles.includes(role)));
}

/** Whether a user with `roles` may open any admin section (the router's gate). */
export function canOpenAdmin(roles: readonly Role[]): boolean {
  return adminSections(roles).length > 0;
}

/**
 * Renders `#/admin/<sectionId>/<param>` for a user with `roles` (at least one section must be open to
 * them). An unknown or forbidden section falls back to the first one the user may open (Sites for
 * admins, where setup starts; Zones for zone admins; Live sessions for auditors).
 */
export function renderAdmin(
  container: HTMLElement,
  roles: readonly Role[],
  sectionId: string | null,
  param: string | null,
): Cleanup {
  const isAdmin = roles.includes("admin");
  const readOnly = !isAdmin && !roles.includes("zone_admin");
  const sections = adminSections(roles);
  const section = sections.find((s) => s.id === sectionId) ?? sections[0]!;
  document.title = `${section.label} · Admin · PSM`;
  const menu = h(
    "nav",
    { class: "subnav", "aria-label": "Admin sections" },
    h(
      "ul",
      {},
      ...sections.map((s) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `#/admin/${s.id}`, "data-admin-section": s.id, "aria-current": s === section ? "page" : null },
            s.label,
          ),
        ),
      ),
    ),
  );
  const body = h("div", { class: "admin-section", "data-section": section.id });
  const title = isAdmin ? "Admin" : readOnly ? "Oversight" : "Zone admin";
  append(container, h("h1", {}, title), menu, body);
  const context = { data: new AdminData(), isAdmin, readOnly, param: section.id === sectionId ? param : null };
  return section.render(body, context);
}
