// The catalog (#/catalog, alias #/servers): the servers and credentials the user may request, searchable
// and filterable by zone and tag, each credential with its policy hint and an "Add to cart" button.
import type { CatalogEntry } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { cart } from "./cart.ts";
import { renderCartPanel } from "./cart-panel.ts";
import { policyPhrases, policyTags } from "./checkout-view.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";

type SortKey = "name" | "zoneName";
type Credential = CatalogEntry["credentials"][number];

function matches(server: CatalogEntry, terms: string[]): boolean {
  const haystack = [
    server.name,
    server.host,
    server.zoneName,
    ...server.tags,
    ...server.credentials.flatMap((c) => [c.name, c.username]),
  ]
    .join(" ")
    .toLowerCase();
  return terms.every((term) => haystack.includes(term));
}

function options(select: HTMLSelectElement, all: string, values: [string, string][]): void {
  const previous = select.value;
  select.replaceChildren(new Option(all, ""), ...values.map(([value, label]) => new Option(label, value)));
  select.value = values.some(([value]) => value === previous) ? previous : "";
}

export function renderCatalog(container: HTMLElement, showRequests: () => void): Cleanup {
  document.title = "Catalog · PSM";
  let servers: CatalogEntry[] = [];
  let sort: { key: SortKey; ascending: boolean } = { key: "name", ascending: true };
  let disposed = false;

  const search = h("input", {
    id: "server-search",
    type: "search",
    placeholder: "Name, host, zone, tag or user",
    autocomplete: "off",
    spellcheck: "false",
  });
  const zone = h("select", { id: "catalog-zone" }, h("option", { value: "" }, "All zones"));
  const tag = h("select", { id: "catalog-tag" }, h("option", { value: "" }, "All tags"));
  const error = h("p", { id: "servers-error", class: "alert", role: "alert", hidden: true, tabindex: -1 });
  const count = h("p", { id: "servers-count", class: "muted", "aria-live": "polite" }, "Loading the catalog…");
  const body = h("tbody");
  const headers: Record<SortKey, HTMLTableCellElement> = {
    name: sortHeader("name", "Server"),
    zoneName: sortHeader("zoneName", "Zone"),
  };
  const table = h(
    "table",
    { id: "servers-table", class: "table catalog-table" },
    h("caption", { class: "visually-hidden" }, "Servers and credentials you may request"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.name,
        headers.zoneName,
        h("th", { scope: "col" }, "Tags"),
        h("th", { scope: "col" }, "Credentials"),
      ),
    ),
    body,
  );
  const panel = renderCartPanel(cart, showRequests);

  function sortHeader(key: SortKey, label: string): HTMLTableCellElement {
    const button = h("button", { type: "button", class: "sort" }, label);
    button.addEventListener("click", () => {
      sort = { key, ascending: sort.key === key ? !sort.ascending : true };
      draw();
    });
    return h("th", { scope: "col" }, button);
  }

  function addButton(server: CatalogEntry, credential: Credential): HTMLButtonElement {
    const inCart = cart.has(server.id, credential.id);
    const button = h(
      "button",
      {
        type: "button",
        class: inCart ? "add-to-cart button-quiet" : "add-to-cart",
        "data-server-id": server.id,
        "data-credential-id": credential.id,
        "aria-label": `Add ${server.name} as ${credential.username} to the cart`,
        disabled: inCart,
      },
      inCart ? "In cart" : "Add to cart",
    );
    button.addEventListener("click", () => {
      if (!cart.add(server, credential)) say(error, "The cart holds at most 20 items. Submit or remove some first.");
    });
    return button;
  }

  function credentialLine(server: CatalogEntry, credential: Credential): HTMLDivElement {
    return h(
      "div",
      {
        class: "credential-line",
        "data-credential-id": credential.id,
        title: `${credential.name} (${credential.kind === "private_key" ? "private key" : "password"}): ${policyPhrases(credential.policy).join(", ")}`,
      },
      h("span", { class: "credential-name" }, h("strong", {}, credential.username), ` ${credential.name}`),
      policyTags(credential.policy),
      addButton(server, credential),
    );
  }

  function fillFilters(): void {
    const zones = new Map(servers.map((s) => [s.zoneId, s.zoneName]));
    options(
      zone,
      "All zones",
      [...zones].sort((a, b) => a[1].localeCompare(b[1])),
    );
    const tags = [...new Set(servers.flatMap((s) => s.tags))].sort((a, b) => a.localeCompare(b));
    options(
      tag,
      "All tags",
      tags.map((t) => [t, t]),
    );
  }

  function draw(): void {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = servers
      .filter((s) => (!zone.value || s.zoneId === zone.value) && (!tag.value || s.tags.includes(tag.value)))
      .filter((s) => matches(s, terms))
      .sort((a, b) => (sort.ascending ? 1 : -1) * a[sort.key].localeCompare(b[sort.key], undefined, { numeric: true }));
    for (const [key, th] of Object.entries(headers)) {
      th.setAttribute("aria-sort", key === sort.key ? (sort.ascending ? "ascending" : "descending") : "none");
    }
    count.textContent =
      servers.length === shown.length ? `${servers.length} servers` : `${shown.length} of ${servers.length} servers`;
    if (shown.length === 0) {
      const text =
        servers.length === 0
          ? "Nothing to request yet. An admin grants your groups access to zones."
          : "No servers match your search and filters.";
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 4 }, text)));
      return;
    }
    replace(
      body,
      ...shown.map((server) =>
        h(
          "tr",
          { "data-server-id": server.id, "data-server-name": server.name, "data-zone-id": server.zoneId },
          h(
            "th",
            { scope: "row" },
            server.name,
            h("div", { class: "muted mono small" }, server.port === 22 ? server.host : `${server.host}:${server.port}`),
          ),
          h("td", { "data-label": "Zone" }, server.zoneName),
          h("td", {}, ...server.tags.map((t) => h("span", { class: "tag" }, t))),
          h(
            "td",
            { class: "credentials" },
            server.credentials.length === 0
              ? h("span", { class: "muted" }, "No credentials")
              : h("div", { class: "credential-lines" }, ...server.credentials.map((c) => credentialLine(server, c))),
          ),
        ),
      ),
    );
  }

  search.addEventListener("input", draw);
  zone.addEventListener("change", draw);
  tag.addEventListener("change", draw);
  const stopCart = cart.listen(draw);
  append(
    container,
    h("h1", {}, "Catalog"),
    h(
      "div",
      { class: "catalog-layout" },
      h(
        "div",
        { class: "catalog-main" },
        h("div", { class: "toolbar" }, field("Search", search), field("Zone", zone), field("Tag", tag)),
        error,
        count,
        h("div", { class: "table-wrap" }, table),
      ),
      panel.element,
    ),
  );

  api
    .catalog()
    .then((list) => {
      if (disposed) return;
      servers = list;
      fillFilters();
      draw();
    })
    .catch((failure: unknown) => {
      if (disposed) return;
      count.textContent = "";
      say(error, errorText(failure));
    });

  search.focus();
  return () => {
    disposed = true;
    stopCart();
    panel.cleanup();
  };
}
