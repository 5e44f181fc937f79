// Admin › Audit streaming (#/admin/streaming, docs/audit.md "Streaming to a SIEM"): the sinks every audit entry also
// goes out to, how far each is and why one fails, refreshed every 5 s; add, edit and delete them. An HEC token is
// write-only: the page sends it and never gets it back (the edge answers `tokenSet`); left empty on edit, it is kept.
import { type AuditSink, AuditSinkInput } from "../../../protocol/index.ts";
import { type AdminContext, fillSiteSelect } from "./admin-data.ts";
import { busy, checkField, dataTable, emptyRow, panel, rowButton } from "./admin-ui.ts";
import { ApiError, api, errorText } from "../shared/api.ts";
import { type SinkTone, sinkStatus, sinkTarget } from "./audit-sink-status.ts";
import { type Cleanup, type Control, field, h, replace, say } from "../shared/dom.ts";
import { formatFullTime } from "../shared/format.ts";

/** How often the list reloads while shown: a failing sink retries within 2 s .. 1 min. */
const REFRESH_MS = 5_000;
const DEFAULT_SYSLOG_PORT = 6514;

/** What to tell the admin for each field the request schema refuses. */
const FIELD_TEXT: Record<string, string> = {
  name: "Name: enter a name (up to 64 characters).",
  url: "URL: enter the collector's https:// address, without a user or password in it.",
  token: "Token: enter the collector's token (up to 256 characters); a new URL needs it again.",
  siteId: "Site: choose the site whose connectors reach the collector.",
  host: "Host: enter a host name or IP address.",
  port: "Port: enter a number from 1 to 65535.",
};

const TONE_LABEL: Record<SinkTone, string> = { ok: "OK", behind: "Behind", failing: "Failing", off: "Off" };

const COLUMNS = ["Name", "Kind", "Target", "Enabled", "Status", ""];

/** An API failure as a sentence plus its stable code, so an admin can quote it. */
function failureText(failure: unknown, overrides: Parameters<typeof errorText>[1] = {}): string {
  const text = errorText(failure, overrides);
  return failure instanceof ApiError ? `${text} (${failure.code})` : text;
}

/** Times in the status: with seconds (retries come seconds apart). */
const statusTime = (ms: number) => formatFullTime(ms);

export function renderAuditSinks(container: HTMLElement, { data }: AdminContext): Cleanup {
  let disposed = false;
  let editing: AuditSink | null = null;
  let sinks: AuditSink[] = [];
  let loaded = false;

  const body = h("tbody", {}, emptyRow(COLUMNS.length, "Loading sinks…"));
  const listMessage = h("p", { id: "sinks-error", class: "alert", role: "alert", hidden: true });

  const kind = h(
    "select",
    { id: "sink-kind", name: "kind" },
    h("option", { value: "hec" }, "HTTPS event collector (Splunk HEC)"),
    h("option", { value: "syslog" }, "Syslog over TLS, sent by a site's connector"),
  );
  const name = h("input", { id: "sink-name", name: "name", required: true, maxlength: 64, autocomplete: "off" });
  const url = h("input", {
    id: "sink-url",
    name: "url",
    type: "url",
    maxlength: 2048,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "https://siem.example/services/collector/event",
  });
  const token = h("input", { id: "sink-token", name: "token", type: "password", autocomplete: "new-password" });
  const site = h("select", { id: "sink-site", name: "siteId" });
  const host = h("input", { id: "sink-host", name: "host", maxlength: 253, autocomplete: "off", spellcheck: "false" });
  const port = h("input", {
    id: "sink-port",
    name: "port",
    type: "number",
    min: 1,
    max: 65535,
    value: DEFAULT_SYSLOG_PORT,
    inputmode: "numeric",
  });
  const enabled = h("input", { type: "checkbox", id: "sink-enabled", name: "enabled", checked: true });
  const fromStart = h("input", { type: "radio", id: "sink-from-start", name: "from", value: "start", checked: true });
  const fromNow = h("input", { type: "radio", id: "sink-from-now", name: "from", value: "now" });
  const controls: Record<string, Control> = { name, url, token, siteId: site, host, port };

  const hecFields = [
    field("Collector URL", url, "Where the edge posts the entries (HTTPS only)."),
    field(
      "Token",
      token,
      "Write-only: it is never shown again. On edit, leave it empty to keep the stored one (a new URL needs it again).",
    ),
  ];
  const syslogFields = [
    field("Site", site, "One of its connectors sends; the CA and client certificate are in its own config."),
    field("Collector host", host, "As the connector reaches it, e.g. siem.corp.example."),
    field("Port", port, `${DEFAULT_SYSLOG_PORT} is syslog over TLS.`),
  ];
  const fromField = h(
    "fieldset",
    { class: "field wide", id: "sink-from" },
    h("legend", {}, "What to send first"),
    h("label", { class: "check", for: fromStart.id }, fromStart, " The whole audit log, from its first entry"),
    h("label", { class: "check", for: fromNow.id }, fromNow, " Only entries written from now on"),
  );
  const title = h("h3", { id: "sink-form-title" }, "Add a sink");
  const submit = h("button", { type: "submit", id: "sink-submit" }, "Add sink");
  const cancel = h("button", { type: "button", id: "sink-cancel", class: "button-quiet", hidden: true }, "Cancel");
  const message = h("p", { id: "sink-message", class: "alert", role: "alert", hidden: true });
  const form = h(
    "form",
    { id: "sink-form", class: "grid-form", novalidate: true },
    field("Kind", kind, "It cannot change once the sink exists."),
    field("Name", name),
    ...hecFields,
    ...syslogFields,
    checkField(enabled, "Enabled", "A turned-off sink keeps its place and catches up when turned on again."),
    fromField,
    h("div", { class: "form-actions" }, submit, cancel),
    message,
  );

  function showKind(): void {
    const hec = kind.value === "hec";
    for (const f of hecFields) f.hidden = !hec;
    for (const f of syslogFields) f.hidden = hec;
  }
  kind.addEventListener("change", showKind);

  function clearInvalid(): void {
    for (const control of Object.values(controls)) control.removeAttribute("aria-invalid");
  }

  /** Edit mode for `sink`, or the empty add form with `null`. The token field is always empty. */
  function startEdit(sink: AuditSink | null): void {
    editing = sink;
    clearInvalid();
    title.textContent = sink ? `Edit sink ${sink.name}` : "Add a sink";
    submit.textContent = sink ? "Save sink" : "Add sink";
    cancel.hidden = !sink;
    kind.disabled = Boolean(sink);
    fromField.hidden = Boolean(sink);
    kind.value = sink?.kind ?? kind.value;
    name.value = sink?.name ?? "";
    url.value = sink?.url ?? "";
    token.value = "";
    token.placeholder = sink?.tokenSet ? "A token is set: leave empty to keep it" : "";
    site.value = sink?.siteId ?? site.value;
    host.value = sink?.host ?? "";
    port.value = String(sink?.port ?? DEFAULT_SYSLOG_PORT);
    enabled.checked = sink?.enabled ?? true;
    fromStart.checked = true;
    showKind();
    if (sink) {
      form.scrollIntoView({ block: "nearest" });
      name.focus();
    }
  }

  function row(sink: AuditSink): HTMLTableRowElement {
    const status = sinkStatus(sink, statusTime);
    const pill = { ok: "pill ok", behind: "pill pending", failing: "pill danger", off: "pill muted" }[status.tone];
    return h(
      "tr",
      { "data-sink-id": sink.id, "data-status": status.tone },
      h("th", { scope: "row" }, sink.name),
      h("td", {}, sink.kind === "hec" ? "HEC" : "Syslog"),
      h(
        "td",
        { class: "small mono sink-target" },
        sinkTarget(sink, (id) => data.site(id)?.name ?? id),
      ),
      h("td", {}, sink.enabled ? "Yes" : "No"),
      h("td", { class: "small sink-status" }, h("span", { class: pill }, TONE_LABEL[status.tone]), " ", status.text),
      h(
        "td",
        { class: "actions" },
        rowButton("Edit", "edit-sink", `sink ${sink.name}`, () => {
          say(message, null);
          startEdit(sink);
        }),
        rowButton("Delete", "delete-sink", `sink ${sink.name}`, () => remove(sink)),
      ),
    );
  }

  function draw(): void {
    fillSiteSelect(site, data.sites);
    if (editing?.siteId) site.value = editing.siteId;
    if (!loaded) return;
    if (sinks.length === 0) {
      replace(body, emptyRow(COLUMNS.length, "No sinks yet: the audit log goes nowhere else. Add one below."));
      return;
    }
    replace(body, ...sinks.map(row));
  }

  async function load(): Promise<void> {
    try {
      const list = await api.auditSinks();
      if (disposed) return;
      say(listMessage, null);
      // Redraw only on a change, so a refresh does not take the focus off a row's button.
      if (loaded && JSON.stringify(list) === JSON.stringify(sinks)) return;
      loaded = true;
      sinks = list;
      draw();
    } catch (failure) {
      if (!disposed) say(listMessage, failureText(failure));
    }
  }

  function remove(sink: AuditSink): void {
    if (!window.confirm(`Delete sink ${sink.name}? Nothing more is sent to it; adding it again starts over.`)) return;
    api.deleteAuditSink(sink.id).then(
      () => {
        if (disposed) return;
        if (editing?.id === sink.id) startEdit(null);
        say(message, `Sink ${sink.name} deleted.`, "ok");
        return load();
      },
      (failure: unknown) => !disposed && say(message, failureText(failure)),
    );
  }

  /** The request body from the fields; the token only when one was typed. */
  function input(): unknown {
    const common = {
      name: name.value,
      enabled: enabled.checked,
      ...(editing ? {} : { from: fromNow.checked ? "now" : "start" }),
    };
    if (kind.value === "hec") {
      return { kind: "hec", ...common, url: url.value.trim(), ...(token.value ? { token: token.value } : {}) };
    }
    return {
      kind: "syslog",
      ...common,
      siteId: site.value,
      host: host.value.trim(),
      port: port.value === "" ? DEFAULT_SYSLOG_PORT : Number(port.value),
    };
  }

  cancel.addEventListener("click", () => {
    say(message, null);
    startEdit(null);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearInvalid();
    const current = editing;
    const parsed = AuditSinkInput.safeParse(input());
    // A new sink, or one moved to a new URL, needs the token: the stored one goes only to the URL it was given for.
    const missingToken =
      parsed.success && parsed.data.kind === "hec" && !parsed.data.token && parsed.data.url !== current?.url;
    if (!parsed.success || missingToken) {
      const key = parsed.success ? "token" : String(parsed.error.issues[0]?.path[0] ?? "name");
      const control = controls[key] ?? name;
      control.setAttribute("aria-invalid", "true");
      say(message, FIELD_TEXT[key] ?? "Check the fields and try again.");
      control.focus();
      return;
    }
    say(message, null);
    void busy(submit, async () => {
      try {
        const saved = current
          ? await api.updateAuditSink(current.id, parsed.data)
          : await api.createAuditSink(parsed.data);
        if (disposed) return;
        token.value = "";
        startEdit(null);
        say(message, current ? `Sink ${saved.name} saved.` : `Sink ${saved.name} added.`, "ok");
        await load();
      } catch (failure) {
        if (!disposed)
          say(message, failureText(failure, { conflict: `A sink named ${name.value.trim()} already exists.` }));
      }
    });
  });

  const stopListening = data.listen(draw);
  replace(
    container,
    panel(
      "sinks",
      "Streaming to a SIEM",
      "Every audit entry also goes to these collectors, in order, and again after a failure until acknowledged.",
      dataTable("sinks-table", "Audit stream sinks", COLUMNS, body),
      listMessage,
      h("div", { class: "subform" }, title, form),
    ),
  );
  showKind();
  data.reload("sites").catch((failure: unknown) => !disposed && say(listMessage, failureText(failure)));
  void load();
  const timer = window.setInterval(() => void load(), REFRESH_MS);
  return () => {
    disposed = true;
    window.clearInterval(timer);
    stopListening();
  };
}
