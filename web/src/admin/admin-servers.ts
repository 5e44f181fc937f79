// Admin › Servers: the servers in the user's zones (with zone, source and credentials), the
// add-server form and the CSV import.
import { type AdminServer, HOST_KEY_INPUT_TEXT, parseHostKeyInput } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, inlineAction, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { renderServerForm } from "./server-form.ts";
import { renderServerImport } from "./server-import.ts";

/** What a host key probe that found no key means, and what to do. */
const PROBE_ERROR: Record<"refused" | "unreachable" | "offline", string> = {
  refused: "The site's connector may not connect to this address (its allowed target ranges refuse it).",
  unreachable: "No SSH server answered at this host and port from the site's connector. Check the host and port.",
  offline: "No connector of this server's site is online to ask. Start one, or paste the key by hand.",
};

export function renderAdminServers(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(7, "Loading servers…"));
  const listMessage = h("p", { id: "admin-servers-error", class: "alert", role: "alert", hidden: true });
  const search = h("input", {
    id: "admin-server-search",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "Name, host, zone or tag",
  });

  /**
   * Turns a server or one of its credentials off or on. Off ends every open checkout and live session on
   * it at once (worker/access/revocation.ts), so the admin confirms first.
   */
  async function toggle(
    what: { kind: "server" | "credential"; id: string; label: string; enabled: boolean },
    button: HTMLButtonElement,
  ): Promise<void> {
    say(listMessage, null);
    if (what.enabled && !window.confirm(`Turn off ${what.label}? Its open checkouts and live sessions end now.`))
      return;
    await busy(button, async () => {
      try {
        if (what.kind === "server") await api.setServerEnabled(what.id, !what.enabled);
        else await api.setCredentialEnabled(what.id, !what.enabled);
        await data.reload("servers");
        say(listMessage, `${what.label} is ${what.enabled ? "off" : "on"}.`, "ok");
      } catch (failure) {
        say(listMessage, `${what.label} was not changed. ${errorText(failure)}`);
      }
    });
  }

  async function remove(s: AdminServer, button: HTMLButtonElement): Promise<void> {
    say(listMessage, null);
    if (
      !window.confirm(
        `Delete ${s.name}? It leaves this list and its name is free again; its checkouts, sessions and recordings keep it.`,
      )
    )
      return;
    await busy(button, async () => {
      try {
        await api.deleteServer(s.id);
        say(listMessage, `${s.name} is deleted.`, "ok");
        await data.reload("servers");
      } catch (failure) {
        say(listMessage, `${s.name} was not deleted. ${errorText(failure)}`);
      }
    });
  }

  function deleteButton(s: AdminServer): HTMLButtonElement {
    const button = rowButton("Delete", "delete-server", `server ${s.name}`, () => void remove(s, button));
    return button;
  }

  function switchButton(what: Parameters<typeof toggle>[0]): HTMLButtonElement {
    const button = h(
      "button",
      { type: "button", class: "small", "aria-label": `${what.enabled ? "Turn off" : "Turn on"} ${what.label}` },
      what.enabled ? "Turn off" : "Turn on",
    );
    button.addEventListener("click", () => void toggle(what, button));
    return button;
  }

  /** The pinned key, and Re-pin… opening an inline form that takes a fingerprint or a line of ssh-keygen -lf. */
  function hostKeyCell(s: AdminServer): HTMLElement {
    const pinned = h("code", { class: "host-key", title: s.hostKey }, `${s.hostKey.slice(0, 19)}…`);
    const open = h("button", { type: "button", class: "button-quiet small-button repin" }, "Re-pin…");
    const input = h("input", {
      class: "mono repin-key",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: "SHA256:… or a line of ssh-keygen -lf",
      "aria-label": `New host key of ${s.name}`,
    });
    const save = h("button", { type: "submit", class: "small-button repin-save" }, "Pin");
    const action = inlineAction({ open, field: input, submit: save, onSubmit: () => submit() });
    if (s.protocol !== "ssh") return h("div", { class: "small" }, pinned, " ", action.element);
    const result = h("div", { class: "probe-result", "aria-live": "polite" });
    const fetchKey = rowButton("Fetch key", "probe-host-key", `server ${s.name}`, () => void probe());
    return h("div", { class: "small" }, pinned, " ", action.element, fetchKey, result);

    /** Reads the key the server presents through a connector, shows it beside the pinned one; pins nothing. */
    async function probe(): Promise<void> {
      replace(result, "Asking a connector of the site…");
      await busy(fetchKey, async () => {
        try {
          const found = await api.probeHostKey(s.id);
          if (!found.ok) {
            replace(result, h("span", { class: "danger-text" }, PROBE_ERROR[found.error]));
            return;
          }
          if (found.matchesPinned) {
            replace(result, `The server presents the pinned key (${found.keyType}, read by ${found.connector}).`);
            return;
          }
          const use = rowButton("Pin this key…", "use-probed-key", `server ${s.name}`, () => {
            open.click();
            input.value = found.fingerprint;
            input.focus();
          });
          replace(
            result,
            h(
              "span",
              { class: "danger-text" },
              `It presents a different key: ${found.fingerprint} (${found.keyType}), read by ${found.connector}. `,
            ),
            "Compare it with the server's own console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before you pin it: a changed key can mean someone is in between. ",
            use,
          );
        } catch (failure) {
          replace(result, h("span", { class: "danger-text" }, errorText(failure)));
        }
      });
    }

    function submit(): void {
      const key = parseHostKeyInput(input.value);
      if (!key.ok) {
        say(listMessage, HOST_KEY_INPUT_TEXT[key.problem]);
        input.focus();
        return;
      }
      if (
        !window.confirm(
          `Pin ${key.fingerprint} for ${s.name}? Only do this when you know why the key changed (a reinstall, a new host key); a changed key can also mean someone is in between.`,
        )
      )
        return;
      void busy(save, async () => {
        try {
          await api.repinServer(s.id, key.fingerprint);
          say(listMessage, `${s.name}'s host key is now ${key.fingerprint}.`, "ok");
          await data.reload("servers");
        } catch (failure) {
          say(listMessage, `${s.name}'s host key was not changed. ${errorText(failure)}`);
        }
      });
    }
  }

  function draw(): void {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = data.servers.filter((s) => {
      const text = [s.name, s.host, s.zoneName, s.source, ...s.tags].join(" ").toLowerCase();
      return terms.every((t) => text.includes(t));
    });
    if (shown.length === 0) {
      replace(
        body,
        emptyRow(7, data.servers.length ? "No servers match." : "No servers yet. Add one below or import a CSV."),
      );
      return;
    }
    replace(
      body,
      ...shown.map((s) =>
        h(
          "tr",
          { "data-server-id": s.id, "data-server-name": s.name },
          h("th", { scope: "row" }, s.name, s.enabled ? null : h("span", { class: "tag" }, "off")),
          h("td", { class: "mono small" }, s.port === 22 ? s.host : `${s.host}:${s.port}`, hostKeyCell(s)),
          h("td", {}, s.zoneName),
          h("td", { class: "small" }, s.source),
          h("td", {}, ...s.tags.map((t) => h("span", { class: "tag" }, t))),
          h(
            "td",
            { class: "small" },
            ...(s.credentials.length
              ? s.credentials.map((c) =>
                  h(
                    "div",
                    { "data-credential-id": c.id },
                    c.enabled ? c.username : h("s", {}, c.username),
                    " ",
                    switchButton({
                      kind: "credential",
                      id: c.id,
                      label: `${c.name} (${c.username})`,
                      enabled: c.enabled,
                    }),
                  ),
                )
              : [h("span", { class: "muted" }, "None yet")]),
          ),
          h(
            "td",
            { class: "row-actions" },
            switchButton({ kind: "server", id: s.id, label: s.name, enabled: s.enabled }),
            rowButton("Edit", "edit-server", `server ${s.name}`, () => form.edit(s)),
            // Deleting is for a server already off: turning off is the step that ends what is open on it.
            s.enabled ? null : deleteButton(s),
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
      dataTable(
        "admin-servers-table",
        "Servers",
        ["Server", "Host and pinned key", "Zone", "Source", "Tags", "Credentials", "Status"],
        body,
      ),
      listMessage,
    ),
  );
  const form = renderServerForm(container, data);
  const stopForm = form.cleanup;
  const stopImport = renderServerImport(container, data);
  data.reload("servers", "zones", "sites").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return () => {
    stop();
    stopForm();
    stopImport();
  };
}
