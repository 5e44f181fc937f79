// Admin › Credentials: the credentials in the user's zones (gathered from the servers list, the
// only listing the edge offers) and the add-credential form that seals secrets in the browser.
import type { AdminContext } from "./admin-data.ts";
import { dataTable, emptyRow, panel } from "./admin-ui.ts";
import { errorText } from "./api.ts";
import { renderCredentialForm } from "./credential-form.ts";
import { type Cleanup, append, h, replace, say } from "./dom.ts";

export function renderAdminCredentials(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(4, "Loading credentials…"));
  const listMessage = h("p", { id: "credentials-error", class: "alert", role: "alert", hidden: true });

  function draw(): void {
    const rows = data.zones.flatMap((zone) => data.credentialsOf(zone.id).map((c) => ({ zone, c })));
    if (rows.length === 0) {
      replace(body, emptyRow(4, "No credentials yet. Add one below."));
      return;
    }
    replace(
      body,
      ...rows.map(({ zone, c }) =>
        h(
          "tr",
          { "data-credential-id": c.id },
          h("th", { scope: "row" }, c.name),
          h("td", { class: "mono" }, c.username),
          h("td", {}, zone.name),
          h("td", { class: "small" }, c.servers.join(", ")),
        ),
      ),
    );
  }

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "credentials",
      "Credentials",
      "Secrets are sealed in your browser to the key of the zone's site; only that site's connectors can open them.",
      dataTable("credentials-table", "Credentials", ["Credential", "Username", "Zone", "Servers"], body),
      listMessage,
    ),
  );
  const stopForm = renderCredentialForm(container, data);
  data
    .reload("servers", "zones", "sites", "policies")
    .catch((failure: unknown) => say(listMessage, errorText(failure)));
  return () => {
    stop();
    stopForm();
  };
}
