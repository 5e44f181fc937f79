// Who administers what: admins everything, zone admins only the zones assigned to them.
import type { AuthUser } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { zonesAdministered } from "./group-store.ts";

export type ZoneScope = { all: true } | { all: false; zones: Set<string> };

export async function adminScope(db: D1Database, user: AuthUser): Promise<ZoneScope> {
  if (user.roles.includes("admin")) return { all: true };
  if (!user.roles.includes("zone_admin")) return { all: false, zones: new Set() };
  return { all: false, zones: new Set(await zonesAdministered(db, user.id)) };
}

export function inScope(scope: ZoneScope, zoneId: string | null): boolean {
  return scope.all || (zoneId !== null && scope.zones.has(zoneId));
}

export function requireZone(scope: ZoneScope, zoneId: string | null): void {
  if (!inScope(scope, zoneId)) throw new ApiFailure("forbidden", `zone ${zoneId} outside the caller's scope`);
}

export function requireAnyAdmin(user: AuthUser): void {
  if (!user.roles.includes("admin") && !user.roles.includes("zone_admin"))
    throw new ApiFailure("forbidden", "not an admin");
}

export function requireAdmin(user: AuthUser): void {
  if (!user.roles.includes("admin")) throw new ApiFailure("forbidden", "not an admin");
}
