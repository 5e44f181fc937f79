// The server catalog: a searchable, sortable table with a "Connect as <username>" button per credential.
import type { ServerSummary } from "../../protocol/index.ts";
import { api, errorText } from "./api.ts";
import { type Cleanup, append, field, h, replace, say } from "./dom.ts";

type SortKey = "name" | "host";

/** Session lengths offered, in minutes; the edge caps them at its maximum. */
const LENGTHS = [
  { minutes: 30, label: "30 minutes" },
  { minutes: 60, label: "1 hour" },
  { minutes: 120, label: "2 hours" },
  { minutes: 240, label: "4 hours" },
  { minutes: 480, label: "8 hours" },
];

function matches(server: ServerSummary, terms: string[]): boolean {
  const haystack = [server.name, server.host, ...server.tags, ...server.credentials.map((c) => c.username)]
    .join(" ")
    .toLowerCase();
  return terms.every((term) => haystack.includes(term));
}

export function renderServers(container: HTMLElement, openSession: (id: string) => void): Cleanup {
  document.title = "Servers · PSM";
  let servers: ServerSummary[] = [];
  let sort: { key: SortKey; ascending: boolean } = { key: "name", ascending: true };
  let busy = false;
  let disposed = false;

  const search = h("input", {
    id: "server-search",
    type: "search",
    placeholder: "Name, host, tag or user",
    autocomplete: "off",
    spellcheck: "false",
  });
  const length = h(
    "select",
    { id: "session-minutes" },
    ...LENGTHS.map((l) => h("option", { value: l.minutes, selected: l.minutes === 60 }, l.label)),
  );
  const error = h("p", { id: "servers-error", class: "alert", role: "alert", hidden: true });
  const count = h("p", { id: "servers-count", class: "muted", "aria-live": "polite" }, "Loading servers…");
  const body = h("tbody");
  const headers: Record<SortKey, HTMLTableCellElement> = {
    name: sortHeader("name", "Name"),
    host: sortHeader("host", "Host"),
  };
  const table = h(
    "table",
    { id: "servers-table", class: "table" },
    h("caption", { class: "visually-hidden" }, "Servers you can connect to"),
    h(
      "thead",
      {},
      h("tr", {}, headers.name, headers.host, h("th", { scope: "col" }, "Tags"), h("th", { scope: "col" }, "Connect")),
    ),
    body,
  );

  function sortHeader(key: SortKey, label: string): HTMLTableCellElement {
    const button = h("button", { type: "button", class: "sort" }, label);
    button.addEventListener("click", () => {
      sort = { key, ascending: sort.key === key ? !sort.ascending : true };
      draw();
    });
    return h("th", { scope: "col" }, button);
  }

  function connectButton(server: ServerSummary, credential: ServerSummary["credentials"][number]): HTMLButtonElement {
    const button = h(
      "button",
      {
        type: "button",
        class: "connect",
        "data-credential-id": credential.id,
        title: `${credential.name} (${credential.kind === "private_key" ? "private key" : "password"})`,
        "aria-label": `Connect to ${server.name} as ${credential.username}`,
      },
      `Connect as ${credential.username}`,
    );
    button.addEventListener("click", () => void connect(server, credential.id, button));
    return button;
  }

  async function connect(server: ServerSummary, credentialId: string, button: HTMLButtonElement): Promise<void> {
    if (busy) return;
    busy = true;
    say(error, null);
    const label = button.textContent;
    button.textContent = "Connecting…";
    for (const b of Array.from(body.querySelectorAll("button"))) b.disabled = true;
    try {
      const session = await api.createSession({ serverId: server.id, credentialId, minutes: Number(length.value) });
      if (!disposed) openSession(session.id);
    } catch (failure) {
      if (disposed) return;
      say(
        error,
        errorText(failure, {
          connector_unavailable: `No connector is online for ${server.name}'s site, so the session could not start. Ask an admin to check the site's connector, then try again.`,
          forbidden: `You are not allowed to open a session on ${server.name}.`,
          not_found: `${server.name} or that credential no longer exists. Reload the list.`,
        }),
      );
      error.focus();
    } finally {
      busy = false;
      button.textContent = label;
      for (const b of Array.from(body.querySelectorAll("button"))) b.disabled = false;
    }
  }

  function draw(): void {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = servers
      .filter((server) => matches(server, terms))
      .sort((a, b) => (sort.ascending ? 1 : -1) * a[sort.key].localeCompare(b[sort.key], undefined, { numeric: true }));
    for (const [key, th] of Object.entries(headers)) {
      th.setAttribute("aria-sort", key === sort.key ? (sort.ascending ? "ascending" : "descending") : "none");
    }
    count.textContent =
      servers.length === shown.length ? `${servers.length} servers` : `${shown.length} of ${servers.length} servers`;
    if (shown.length === 0) {
      const text =
        servers.length === 0
          ? "No servers yet. An admin adds them on the Admin page."
          : "No servers match your search.";
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 4 }, text)));
      return;
    }
    replace(
      body,
      ...shown.map((server) =>
        h(
          "tr",
          { "data-server-id": server.id, "data-server-name": server.name },
          h("th", { scope: "row" }, server.name),
          h("td", { class: "mono" }, server.port === 22 ? server.host : `${server.host}:${server.port}`),
          h("td", {}, ...server.tags.map((tag) => h("span", { class: "tag" }, tag))),
          h(
            "td",
            { class: "actions" },
            server.credentials.length === 0
              ? h("span", { class: "muted" }, "No credentials")
              : h("div", { class: "button-row" }, ...server.credentials.map((c) => connectButton(server, c))),
          ),
        ),
      ),
    );
  }

  search.addEventListener("input", draw);
  error.tabIndex = -1;
  append(
    container,
    h("h1", {}, "Servers"),
    h("div", { class: "toolbar" }, field("Search servers", search), field("Session length", length)),
    error,
    count,
    h("div", { class: "table-wrap" }, table),
  );

  api
    .servers()
    .then((list) => {
      if (disposed) return;
      servers = list;
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
  };
}
