// The admin pages (#/admin/<section>): a section menu by role and the chosen section. Admins see
// everything; zone admins see only their zones' zones, grants, servers, credentials and revocation.
import { renderAdminCheckouts } from "./admin-checkouts.ts";
import { renderAdminCredentials } from "./admin-credentials.ts";
import { type AdminContext, AdminData } from "./admin-data.ts";
import { renderGrants } from "./admin-grants.ts";
import { renderGroups } from "./admin-groups.ts";
import { renderPolicies } from "./admin-policies.ts";
import { renderAdminServers } from "./admin-servers.ts";
import { renderSites } from "./admin-sites.ts";
import { renderUsers } from "./admin-users.ts";
import { renderZones } from "./admin-zones.ts";
import { type Cleanup, append, h } from "./dom.ts";

interface Section {
  id: string;
  label: string;
  /** Hidden from zone admins (the edge refuses them anyway). */
  adminOnly: boolean;
  render: (container: HTMLElement, context: AdminContext) => Cleanup;
}

const SECTIONS: readonly Section[] = [
  { id: "sites", label: "Sites", adminOnly: true, render: renderSites },
  { id: "zones", label: "Zones", adminOnly: false, render: renderZones },
  { id: "policies", label: "Policies", adminOnly: true, render: renderPolicies },
  { id: "groups", label: "Groups", adminOnly: true, render: renderGroups },
  { id: "users", label: "Users", adminOnly: true, render: renderUsers },
  { id: "grants", label: "Grants", adminOnly: false, render: renderGrants },
  { id: "servers", label: "Servers", adminOnly: false, render: renderAdminServers },
  { id: "credentials", label: "Credentials", adminOnly: false, render: renderAdminCredentials },
  { id: "checkouts", label: "Revoke", adminOnly: false, render: renderAdminCheckouts },
];

/** The sections this user may open, in menu order. */
export function adminSections(isAdmin: boolean): readonly Section[] {
  return SECTIONS.filter((section) => isAdmin || !section.adminOnly);
}

/**
 * Renders `#/admin/<sectionId>/<param>`. An unknown or forbidden section falls back to the first
 * one the user may open (Sites for admins, where setup starts; Zones for zone admins).
 */
export function renderAdmin(
  container: HTMLElement,
  isAdmin: boolean,
  sectionId: string | null,
  param: string | null,
): Cleanup {
  const sections = adminSections(isAdmin);
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
  append(container, h("h1", {}, isAdmin ? "Admin" : "Zone admin"), menu, body);
  return section.render(body, { data: new AdminData(), isAdmin, param: section.id === sectionId ? param : null });
}
