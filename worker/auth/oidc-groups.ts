// IdP groups -> our groups and roles, pure. OIDC_GROUP_MAP is JSON: { "<IdP group>": "<our group>" |
// ["<our group>", "role:<role>", ...] }. Only groups and roles named in the map are managed by the IdP:
// at each OIDC sign-in they are set to exactly what the IdP says; anything else stays as admins set it.
import { Role } from "../../protocol/index.ts";

export type GroupMap = Record<string, string[]>;

export function parseGroupMap(text: string | undefined): GroupMap {
  if (!text) return {};
  const raw = JSON.parse(text) as Record<string, unknown>;
  const map: GroupMap = {};
  for (const [idp, target] of Object.entries(raw)) {
    const list = Array.isArray(target) ? target : [target];
    map[idp] = list.filter((t): t is string => typeof t === "string" && t.length > 0);
  }
  return map;
}

export type Mapped = { groups: string[]; roles: Role[]; managedGroups: string[]; managedRoles: Role[] };

export function mapIdpGroups(map: GroupMap, idpGroups: readonly string[]): Mapped {
  const groups = new Set<string>();
  const roles = new Set<Role>();
  const managedGroups = new Set<string>();
  const managedRoles = new Set<Role>();
  for (const [idp, targets] of Object.entries(map)) {
    const member = idpGroups.includes(idp);
    for (const target of targets) {
      if (target.startsWith("role:")) {
        const role = Role.safeParse(target.slice(5));
        if (!role.success) continue;
        managedRoles.add(role.data);
        if (member) roles.add(role.data);
      } else {
        managedGroups.add(target);
        if (member) groups.add(target);
      }
    }
  }
  return { groups: [...groups], roles: [...roles], managedGroups: [...managedGroups], managedRoles: [...managedRoles] };
}

/** The user's roles after sync: unmanaged roles kept, managed ones as the IdP says, requester always. */
export function syncedRoles(current: readonly Role[], mapped: Mapped): Role[] {
  const kept = current.filter((r) => !mapped.managedRoles.includes(r));
  return [...new Set<Role>(["requester", ...kept, ...mapped.roles])];
}

/** A local username from the IdP's claims: preferred_username, else email, else the subject. */
export function usernameFrom(claims: { preferred_username?: unknown; email?: unknown; sub: string }): string {
  const pick = [claims.preferred_username, claims.email, claims.sub].find(
    (v) => typeof v === "string" && v.length > 0,
  ) as string;
  const clean = pick.replace(/[^A-Za-z0-9._@-]/g, "_").slice(0, 64);
  return clean || "oidc-user";
}

/** Groups may come as an array of strings or a single string (some IdPs). */
export function groupsClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string").slice(0, 500);
  if (typeof value === "string") return [value];
  return [];
}
