// The admin pages' shared view of sites, zones, servers, policies, groups, users and grants: loaded
// per section, reloaded after each change, with listeners so every picker stays current. A list the
// caller may not read (zone admins: users, groups) stays empty and is marked denied.
import type { AccessGrant, AdminServer, Group, Policy, Site, UserSummary, Zone } from "../../../protocol/index.ts";
import { ApiError, api } from "../shared/api.ts";

export type AdminCredential = AdminServer["credentials"][number];

export type AdminKind = "sites" | "zones" | "servers" | "policies" | "groups" | "users" | "grants";

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name, undefined, { numeric: true });

export class AdminData {
  sites: Site[] = [];
  zones: Zone[] = [];
  servers: AdminServer[] = [];
  policies: Policy[] = [];
  groups: Group[] = [];
  users: UserSummary[] = [];
  grants: AccessGrant[] = [];
  /** Lists the edge refused to show this user (403). */
  readonly denied = new Set<AdminKind>();
  private readonly listeners = new Set<() => void>();

  /** Registers a redraw; returns its removal. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads the given lists; a 403 empties and marks that list, any other failure is thrown after all settle. */
  async reload(...kinds: AdminKind[]): Promise<void> {
    const outcomes = await Promise.allSettled(kinds.map((kind) => this.fetch(kind)));
    let failure: unknown;
    outcomes.forEach((outcome, i) => {
      const kind = kinds[i]!;
      if (outcome.status === "fulfilled") {
        this.denied.delete(kind);
      } else if (outcome.reason instanceof ApiError && outcome.reason.code === "forbidden") {
        this.denied.add(kind);
      } else {
        failure ??= outcome.reason;
      }
    });
    for (const listener of this.listeners) listener();
    if (failure !== undefined) throw failure;
  }

  private async fetch(kind: AdminKind): Promise<void> {
    switch (kind) {
      case "sites":
        this.sites = (await api.sites()).sort(byName);
        return;
      case "zones":
        this.zones = (await api.zones()).sort(byName);
        return;
      case "servers":
        this.servers = (await api.servers()).sort(byName);
        return;
      case "policies":
        this.policies = (await api.policies()).sort(byName);
        return;
      case "groups":
        this.groups = (await api.groups()).sort(byName);
        return;
      case "users":
        this.users = (await api.users()).sort((a, b) => a.username.localeCompare(b.username));
        return;
      case "grants":
        this.grants = await api.grants();
        return;
    }
  }

  site(id: string): Site | undefined {
    return this.sites.find((site) => site.id === id);
  }
  zone(id: string): Zone | undefined {
    return this.zones.find((zone) => zone.id === id);
  }
  policy(id: string | null): Policy | undefined {
    return id === null ? undefined : this.policies.find((policy) => policy.id === id);
  }
  group(id: string): Group | undefined {
    return this.groups.find((group) => group.id === id);
  }
  server(id: string): AdminServer | undefined {
    return this.servers.find((server) => server.id === id);
  }

  /** The credentials of a zone, deduplicated across its servers. */
  credentialsOf(zoneId: string): (AdminCredential & { servers: string[] })[] {
    const found = new Map<string, AdminCredential & { servers: string[] }>();
    for (const server of this.servers.filter((s) => s.zoneId === zoneId)) {
      for (const c of server.credentials) {
        const entry = found.get(c.id) ?? { ...c, servers: [] };
        entry.servers.push(server.name);
        found.set(c.id, entry);
      }
    }
    return [...found.values()].sort(byName);
  }
}

/**
 * Fills a <select> with `items`, keeping the current choice when it still exists. `none` adds a
 * first option with value "" that may be chosen (e.g. "Zone's policy"); without it the first option
 * is a disabled prompt.
 */
export function fillSelect(
  select: HTMLSelectElement,
  items: readonly { id: string; label: string }[],
  prompt: { none?: string; choose?: string; empty?: string },
): void {
  const previous = select.value;
  const first = prompt.none ?? (items.length ? (prompt.choose ?? "Choose…") : (prompt.empty ?? "None yet"));
  const head = new Option(first, "", true, false);
  head.disabled = prompt.none === undefined;
  select.replaceChildren(head, ...items.map((item) => new Option(item.label, item.id)));
  if (items.some((item) => item.id === previous)) select.value = previous;
  else if (prompt.none === undefined && items.length === 1 && items[0]) select.value = items[0].id;
  else select.value = "";
}

/** Fills a <select> with the sites, marking those whose first connector has not enrolled yet. */
export function fillSiteSelect(select: HTMLSelectElement, sites: readonly Site[]): void {
  fillSelect(
    select,
    sites.map((site) => ({ id: site.id, label: site.sealKey ? site.name : `${site.name} (no connector yet)` })),
    { choose: "Choose a site", empty: "No sites yet" },
  );
}

/** Fills a <select> with the zones, each with its site's name. */
export function fillZoneSelect(select: HTMLSelectElement, data: AdminData): void {
  fillSelect(
    select,
    data.zones.map((zone) => ({ id: zone.id, label: `${zone.name} · ${data.site(zone.siteId)?.name ?? "site ?"}` })),
    { choose: "Choose a zone", empty: "No zones yet" },
  );
}

/** What every admin section receives. `param` is the part after `#/admin/<section>/`, if any. */
export interface AdminContext {
  data: AdminData;
  /** Full admin (false: zone admin, who sees only their zones and no directory, or an auditor). */
  isAdmin: boolean;
  /** Neither admin nor zone admin: an auditor, who may look (live sessions) but not act. */
  readOnly: boolean;
  param: string | null;
}
