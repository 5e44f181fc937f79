// The admin's CSV import of servers into a zone: paste or pick a file (read in the browser), send
// it, and list what was created and each refused line with its reason.
import { ImportServersRequest } from "../../../protocol/index.ts";
import { type AdminData, fillZoneSelect } from "./admin-data.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";

/** The edge refuses CSV bodies above 1 MiB (ImportServersRequest). */
const MAX_CSV_BYTES = 1024 * 1024;
const EXAMPLE = "name,host,port,host_key,tags\nweb-1,10.0.0.5,22,SHA256:…,prod;web";

export function renderServerImport(container: HTMLElement, data: AdminData): Cleanup {
  const zone = h("select", { id: "import-zone", name: "zoneId", required: true });
  const file = h("input", { id: "import-file", type: "file", accept: ".csv,text/csv,text/plain" });
  const csv = h("textarea", {
    id: "import-csv",
    name: "csv",
    rows: 6,
    class: "mono",
    spellcheck: "false",
    placeholder: EXAMPLE,
  });
  const submit = h("button", { type: "submit", id: "import-submit" }, "Import servers");
  const message = h("p", { id: "import-message", class: "alert", role: "alert", hidden: true });
  const errors = h("ul", { id: "import-errors", class: "import-errors", hidden: true });
  const csvField = field("CSV", csv, "Header: name,host,port,host_key,tags. Tags are separated by ';'.");
  csvField.classList.add("wide");
  const form = h(
    "form",
    { id: "import-form", class: "grid-form", novalidate: true },
    field("Zone", zone),
    field("CSV file", file, "Read in this browser into the box below; nothing is sent until you import."),
    csvField,
    h("div", { class: "form-actions" }, submit),
    message,
    h("div", { class: "wide" }, errors),
  );

  file.addEventListener("change", async () => {
    const chosen = file.files?.[0];
    if (!chosen) return;
    if (chosen.size > MAX_CSV_BYTES) {
      say(message, `${chosen.name} is larger than 1 MiB. Split it into smaller files.`);
      file.value = "";
      return;
    }
    try {
      csv.value = await chosen.text();
      say(
        message,
        `Loaded ${chosen.name} (${csv.value.split(/\r?\n/).filter(Boolean).length} lines). Check it, then import.`,
        "info",
      );
    } catch {
      say(message, `Could not read ${chosen.name}.`);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.hidden = true;
    const parsed = ImportServersRequest.safeParse({ zoneId: zone.value, csv: csv.value });
    if (!zone.value || !csv.value.trim() || !parsed.success) {
      say(
        message,
        !zone.value
          ? "Choose the zone to import into."
          : csv.value.trim()
            ? "The CSV is larger than 1 MiB."
            : "Paste the CSV or choose a file.",
      );
      (zone.value ? csv : zone).focus();
      return;
    }
    say(message, null);
    submit.disabled = true;
    try {
      const result = await api.importServers(parsed.data);
      const noun = result.created === 1 ? "server" : "servers";
      say(
        message,
        result.errors.length
          ? `Imported ${result.created} ${noun}; ${result.errors.length} line${result.errors.length === 1 ? " was" : "s were"} refused (below).`
          : `Imported ${result.created} ${noun}.`,
        result.errors.length ? "info" : "ok",
      );
      replace(
        errors,
        ...result.errors.map((e) => h("li", { "data-line": e.line }, h("strong", {}, `Line ${e.line}: `), e.error)),
      );
      errors.hidden = result.errors.length === 0;
      if (result.errors.length === 0) {
        csv.value = "";
        file.value = "";
      }
      if (result.created > 0) await data.reload("servers");
    } catch (failure) {
      say(message, `Nothing was imported. ${errorText(failure)}`);
    } finally {
      submit.disabled = false;
    }
  });

  const stop = data.listen(() => fillZoneSelect(zone, data));
  fillZoneSelect(zone, data);
  append(
    container,
    h(
      "section",
      { class: "panel", "aria-labelledby": "import-title" },
      h("h2", { id: "import-title" }, "Import servers from CSV"),
      form,
    ),
  );
  return stop;
}
