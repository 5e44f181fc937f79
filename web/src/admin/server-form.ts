// The admin's server form: adds a server (name, host, port, zone, pinned host key fingerprint and tags), or, opened
// by a row's Edit, changes an existing one's name, host, port and tags (its key is re-pinned from the row).
import {
  type AdminServer,
  CreateServerRequest,
  HOST_KEY_INPUT_TEXT,
  parseHostKeyInput,
  UpdateServerRequest,
} from "../../../protocol/index.ts";
import { type AdminData, fillZoneSelect } from "./admin-data.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, type Control, append, field, h, say } from "../shared/dom.ts";

/** What to tell the admin for each field the request schema refuses. */
const FIELD_TEXT: Record<string, string> = {
  name: "Server name: use letters, digits, dots, dashes or underscores (up to 64).",
  host: "Host: enter a hostname or IP address.",
  port: "Port: enter a number from 1 to 65535.",
  zoneId: "Zone: choose the zone this server belongs to.",
  hostKey: "Host key: paste the SHA256 fingerprint, e.g. SHA256: followed by 43 characters.",
  tags: "Tags: up to 16 tags of at most 32 characters each.",
};

export function renderServerForm(
  container: HTMLElement,
  data: AdminData,
): { cleanup: Cleanup; edit: (server: AdminServer) => void } {
  let editing: AdminServer | null = null;
  const name = h("input", {
    id: "server-name",
    name: "name",
    required: true,
    maxlength: 64,
    autocomplete: "off",
    spellcheck: "false",
  });
  const host = h("input", {
    id: "server-host",
    name: "host",
    required: true,
    maxlength: 253,
    autocomplete: "off",
    spellcheck: "false",
  });
  const port = h("input", {
    id: "server-port",
    name: "port",
    type: "number",
    min: 1,
    max: 65535,
    value: 22,
    inputmode: "numeric",
  });
  const zone = h("select", { id: "server-zone", name: "zoneId", required: true });
  const hostKey = h("input", {
    id: "server-hostkey",
    name: "hostKey",
    required: true,
    placeholder: "SHA256:… or a line of ssh-keygen -lf",
    autocomplete: "off",
    spellcheck: "false",
    class: "mono",
  });
  const tags = h("input", { id: "server-tags", name: "tags", placeholder: "prod, db", autocomplete: "off" });
  const message = h("p", { id: "server-message", class: "alert", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", id: "server-submit" }, "Add server");
  const cancelEdit = h("button", { type: "button", class: "button-quiet", hidden: true }, "Cancel edit");
  const title = h("h2", { id: "server-form-title" }, "Add a server");
  const controls: Record<string, Control> = { name, host, port, zoneId: zone, hostKey, tags };

  const form = h(
    "form",
    { id: "server-form", class: "grid-form", novalidate: true },
    field("Name", name),
    field("Host", host),
    field("Port", port),
    field("Zone", zone, "Its site's connectors reach the server; its policy governs access."),
    field(
      "Host key fingerprint",
      hostKey,
      "Paste a line of: ssh-keyscan -t ed25519 -p PORT HOST | ssh-keygen -lf - (run where you trust the network)",
    ),
    field("Tags", tags, "Comma-separated"),
    h("div", { class: "form-actions" }, submit, cancelEdit),
    message,
  );

  /** Edit mode: the fields hold the server's values; its zone and key are shown but changed elsewhere. */
  function edit(server: AdminServer | null): void {
    editing = server;
    form.reset();
    for (const control of Object.values(controls)) control.removeAttribute("aria-invalid");
    say(message, null);
    zone.disabled = hostKey.disabled = server !== null;
    cancelEdit.hidden = server === null;
    title.textContent = server ? `Edit server ${server.name}` : "Add a server";
    submit.textContent = server ? "Save changes" : "Add server";
    name.value = server?.name ?? "";
    host.value = server?.host ?? "";
    port.value = String(server?.port ?? 22);
    tags.value = server?.tags.join(", ") ?? "";
    zone.value = server?.zoneId ?? zone.value;
    hostKey.value = server?.hostKey ?? "";
    if (server) {
      form.scrollIntoView({ block: "nearest" });
      name.focus();
    }
  }
  cancelEdit.addEventListener("click", () => edit(null));

  const tagList = () =>
    tags.value
      .split(",")
      .map((tag) => tag.trim())
      .filter(Boolean);

  async function saveEdit(server: AdminServer): Promise<void> {
    const wanted = {
      name: name.value.trim(),
      host: host.value.trim(),
      port: Number(port.value || 22),
      tags: tagList(),
    };
    const change = Object.fromEntries(
      Object.entries(wanted).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(server[k as keyof typeof wanted])),
    );
    if (Object.keys(change).length === 0) {
      say(message, "Nothing changed.", "info");
      return;
    }
    const parsed = UpdateServerRequest.safeParse(change);
    if (!parsed.success) {
      const key = String(parsed.error.issues[0]?.path[0] ?? "name");
      const control = controls[key] ?? name;
      control.setAttribute("aria-invalid", "true");
      say(message, FIELD_TEXT[key] ?? "Check the fields and try again.");
      control.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api.updateServer(server.id, parsed.data);
      edit(null);
      say(message, `Server ${wanted.name} saved.`, "ok");
      await data.reload("servers");
    } catch (failure) {
      say(message, errorText(failure, { conflict: `A server named ${wanted.name} already exists.` }));
    } finally {
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const control of Object.values(controls)) control.removeAttribute("aria-invalid");
    if (editing) {
      await saveEdit(editing);
      return;
    }
    const key = parseHostKeyInput(hostKey.value);
    if (!key.ok) {
      hostKey.setAttribute("aria-invalid", "true");
      say(message, HOST_KEY_INPUT_TEXT[key.problem]);
      hostKey.focus();
      return;
    }
    const parsed = CreateServerRequest.safeParse({
      name: name.value,
      host: host.value,
      port: port.value === "" ? 22 : Number(port.value),
      zoneId: zone.value,
      hostKey: key.fingerprint,
      tags: tagList(),
    });
    if (!parsed.success || !zone.value) {
      const key = parsed.success ? "zoneId" : String(parsed.error.issues[0]?.path[0] ?? "name");
      const control = controls[key] ?? name;
      control.setAttribute("aria-invalid", "true");
      say(message, FIELD_TEXT[key] ?? "Check the fields and try again.");
      control.focus();
      return;
    }
    say(message, null);
    submit.disabled = true;
    try {
      await api.createServer(parsed.data);
      say(message, `Server ${parsed.data.name} added. Add a credential for it under Credentials.`, "ok");
      form.reset();
      port.value = "22";
      await data.reload("servers");
    } catch (failure) {
      say(message, errorText(failure, { conflict: `A server named ${parsed.data.name} already exists.` }));
    } finally {
      submit.disabled = false;
    }
  });

  const stop = data.listen(() => fillZoneSelect(zone, data));
  fillZoneSelect(zone, data);
  append(container, h("section", { class: "panel", "aria-labelledby": "server-form-title" }, title, form));
  return { cleanup: stop, edit };
}
