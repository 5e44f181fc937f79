// Admin › Grants: which group may request which zone's credentials (optionally one server and/or
// one credential of it); create and remove. Zone admins, who cannot list groups, type a group id.
import { type AccessGrant, CreateAccessGrantRequest } from "../../../protocol/index.ts";
import { type AdminContext, fillSelect, fillZoneSelect } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";

export function renderGrants(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(5, "Loading grants…"));
  const listMessage = h("p", { id: "grants-error", class: "alert", role: "alert", hidden: true });

  const groupSelect = h("select", { id: "grant-group", name: "groupId", required: true });
  const groupInput = h("input", { id: "grant-group-id", name: "groupId", autocomplete: "off", spellcheck: "false" });
  const zone = h("select", { id: "grant-zone", name: "zoneId", required: true });
  const server = h("select", { id: "grant-server", name: "serverId" });
  const credential = h("select", { id: "grant-credential", name: "credentialId" });
  const submit = h("button", { type: "submit", id: "grant-submit" }, "Grant access");
  const message = h("p", { id: "grant-message", class: "alert", role: "alert", hidden: true });
  const groupField = h("div", { class: "field-slot" });
  const form = h(
    "form",
    { id: "grant-form", class: "grid-form", novalidate: true },
    groupField,
    field("Zone", zone),
    field("Server", server, "Narrow the grant to one server, or leave it at all servers."),
    field("Credential", credential, "Narrow the grant to one credential, or leave it at all credentials."),
    h("div", { class: "form-actions" }, submit),
    message,
  );

  function groupName(id: string): string {
    return data.group(id)?.name ?? id;
  }

  function fillScope(): void {
    fillSelect(
      server,
      data.servers.filter((s) => s.zoneId === zone.value).map((s) => ({ id: s.id, label: s.name })),
      { none: "All servers in the zone" },
    );
    const credentials = data
      .credentialsOf(zone.value)
      .filter((c) => !server.value || data.server(server.value)?.credentials.some((x) => x.id === c.id));
    fillSelect(
      credential,
      credentials.map((c) => ({ id: c.id, label: `${c.name} (${c.username})` })),
      { none: "All credentials" },
    );
  }

  async function remove(grant: AccessGrant, button: HTMLButtonElement): Promise<void> {
    say(listMessage, null);
    await busy(button, async () => {
      try {
        await api.deleteGrant(grant.id);
        await data.reload("grants");
        say(
          listMessage,
          `Removed ${groupName(grant.groupId)}'s access to ${data.zone(grant.zoneId)?.name ?? "the zone"}.`,
          "ok",
        );
      } catch (failure) {
        say(listMessage, `The grant was not removed. ${errorText(failure)}`);
      }
    });
  }

  function draw(): void {
    const groupsKnown = !data.denied.has("groups");
    replace(
      groupField,
      groupsKnown
        ? field("Group", groupSelect)
        : field("Group id", groupInput, "Ask an admin for the group's id; zone admins cannot list groups."),
    );
    fillSelect(
      groupSelect,
      data.groups.map((g) => ({ id: g.id, label: g.name })),
      { choose: "Choose a group", empty: "No groups yet" },
    );
    fillZoneSelect(zone, data);
    fillScope();
    if (data.grants.length === 0) {
      replace(body, emptyRow(5, "No grants yet: nobody can request anything. Grant a group a zone below."));
      return;
    }
    replace(
      body,
      ...data.grants.map((grant) => {
        const button = h(
          "button",
          { type: "button", class: "button-quiet small-button delete-grant", "data-grant-id": grant.id },
          "Remove",
        );
        button.addEventListener("click", () => void remove(grant, button));
        const cred = grant.credentialId
          ? data.credentialsOf(grant.zoneId).find((c) => c.id === grant.credentialId)
          : null;
        return h(
          "tr",
          { "data-grant-id": grant.id },
          h("th", { scope: "row" }, groupName(grant.groupId)),
          h("td", {}, data.zone(grant.zoneId)?.name ?? grant.zoneId),
          h(
            "td",
            {},
            grant.serverId
              ? (data.server(grant.serverId)?.name ?? grant.serverId)
              : h("span", { class: "muted" }, "All servers"),
          ),
          h(
            "td",
            {},
            grant.credentialId
              ? cred
                ? `${cred.name} (${cred.username})`
                : grant.credentialId
              : h("span", { class: "muted" }, "All credentials"),
          ),
          h("td", { class: "actions" }, button),
        );
      }),
    );
  }

  zone.addEventListener("change", fillScope);
  server.addEventListener("change", fillScope);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const groupId = data.denied.has("groups") ? groupInput.value.trim() : groupSelect.value;
    const parsed = CreateAccessGrantRequest.safeParse({
      groupId,
      zoneId: zone.value,
      serverId: server.value || null,
      credentialId: credential.value || null,
    });
    if (!groupId || !zone.value || !parsed.success) {
      say(message, groupId ? "Choose a zone." : "Choose the group to grant access to.");
      (groupId ? zone : data.denied.has("groups") ? groupInput : groupSelect).focus();
      return;
    }
    say(message, null);
    void busy(submit, async () => {
      try {
        await api.createGrant(parsed.data);
        await data.reload("grants");
        say(
          message,
          `${groupName(groupId)} can now request from ${data.zone(parsed.data.zoneId)?.name ?? "the zone"}.`,
          "ok",
        );
      } catch (failure) {
        say(
          message,
          errorText(failure, {
            bad_request:
              "The group, server and credential must exist, and the server and credential must be in the zone.",
          }),
        );
      }
    });
  });

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "grants",
      "Access grants",
      "A grant lets a group's members request the zone's credentials from the catalog. The zone's policy still decides approval.",
      dataTable("grants-table", "Access grants", ["Group", "Zone", "Server", "Credential", ""], body),
      listMessage,
      h("div", { class: "subform" }, h("h3", {}, "Grant access"), form),
    ),
  );
  data
    .reload("grants", "zones", "servers", "groups", "sites")
    .catch((failure: unknown) => say(listMessage, errorText(failure)));
  return stop;
}
