// The admin page's shared view of sites and servers: loaded once, reloaded after each change,
// with listeners so every form's site and server pickers stay current.
import type { ServerSummary, Site } from "../../protocol/index.ts";
import { api } from "./api.ts";

export class AdminCatalog {
  sites: Site[] = [];
  servers: ServerSummary[] = [];
  private readonly listeners = new Set<() => void>();

  /** Registers a redraw; returns its removal. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async reload(): Promise<void> {
    const [sites, servers] = await Promise.all([api.sites(), api.servers()]);
    this.sites = [...sites].sort((a, b) => a.name.localeCompare(b.name));
    this.servers = [...servers].sort((a, b) => a.name.localeCompare(b.name));
    for (const listener of this.listeners) listener();
  }

  site(id: string): Site | undefined {
    return this.sites.find((site) => site.id === id);
  }
}

/** Fills a <select> with the sites, keeping the current choice when it still exists. */
export function fillSiteSelect(select: HTMLSelectElement, sites: readonly Site[]): void {
  const previous = select.value;
  select.replaceChildren(
    new Option(sites.length ? "Choose a site" : "No sites yet", "", true, false),
    ...sites.map((site) => new Option(site.sealKey ? site.name : `${site.name} (no connector yet)`, site.id)),
  );
  (select.options[0] as HTMLOptionElement).disabled = true;
  if (sites.some((site) => site.id === previous)) select.value = previous;
  else if (sites.length === 1 && sites[0]) select.value = sites[0].id;
  else select.value = "";
}
