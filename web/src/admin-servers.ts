// Admin › Servers: the servers in the user's zones (with zone, source and credentials), the
// add-server form and the CSV import.
import type { AdminContext } from "./admin-data.ts";
import { dataTable, emptyRow, panel } from "./admin-ui.ts";
import { errorText } from "./api.ts";
import { type Cleanup, append, field, h, replace, say } from "./dom.ts";
import { renderServerForm } from "./server-form.ts";
import { renderServerImport } from "./server-import.ts";

export function renderAdminServers(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(6, "Loading servers…"));
  const listMessage = h("p", { id: "admin-servers-error", class: "alert", role: "alert", hidden: true });
  const search = h("input", {
    id: "admin-server-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Name, host, zone or tag",
  });

  function draw(): void {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = data.servers.filter((s) => {
      const text = [s.name, s.host, s.zoneName, s.source, ...s.tags].join(" ").toLowerCase();
      return terms.every((t) => text.includes(t));
    });
    if (shown.length === 0) {
      replace(
        body,
        emptyRow(6, data.servers.length ? "No servers match." : "No servers yet. Add one below or import a CSV."),
      );
      return;
    }
    replace(
      body,
      ...shown.map((s) =>
        h(
          "tr",
          { "data-server-id": s.id, "data-server-name": s.name },
          h("th", { scope: "row" }, s.name),
          h("td", { class: "mono small" }, s.port === 22 ? s.host : `${s.host}:${s.port}`),
          h("td", {}, s.zoneName),
          h("td", { class: "small" }, s.source),
          h("td", {}, ...s.tags.map((t) => h("span", { class: "tag" }, t))),
          h(
            "td",
            { class: "small" },
            s.credentials.length
              ? s.credentials.map((c) => c.username).join(", ")
              : h("span", { class: "muted" }, "None yet"),
          ),
        ),
      ),
    );
  }

  search.addEventListener("input", draw);
  const stop = data.listen(draw);
  append(
    container,
    panel(
      "admin-servers",
      "Servers",
      null,
      h("div", { class: "toolbar" }, field("Search servers", search)),
      dataTable("admin-servers-table", "Servers", ["Server", "Host", "Zone", "Source", "Tags", "Credentials"], body),
      listMessage,
    ),
  );
  const stopForm = renderServerForm(container, data);
  const stopImport = renderServerImport(container, data);
  data.reload("servers", "zones", "sites").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return () => {
    stop();
    stopForm();
    stopImport();
  };
}
