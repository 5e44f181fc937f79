// Admin › Zones: the zones in the user's scope with their site and policy; admins create zones and
// change a zone's description, policy, and the policies its zone admins may attach (the same form, switched
// to edit mode by a row's Edit).
import { CreateZoneRequest, UpdateZoneRequest, type Zone } from "../../../protocol/index.ts";
import { type AdminContext, fillSelect, fillSiteSelect } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";

export function renderZones(container: HTMLElement, { data, isAdmin }: AdminContext): Cleanup {
  let editing: Zone | null = null;
  const body = h("tbody", {}, emptyRow(6, "Loading zones…"));
  const listMessage = h("p", { id: "zones-error", class: "alert", role: "alert", hidden: true });

  const name = h("input", { id: "zone-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  const site = h("select", { id: "zone-site", name: "siteId", required: true });
  const policy = h("select", { id: "zone-policy", name: "policyId" });
  // Which policies the zone's admins may attach to its credentials (never one weaker than the zone's own).
  const allowed = h("select", { id: "zone-allowed-policies", name: "allowedPolicies", multiple: true, size: 4 });
  const allowedField = field(
    "Allowed policies",
    allowed,
    "Zone admins may give a credential one of these, if it is not weaker than the zone's policy. Ctrl-click to pick several.",
  );
  allowedField.hidden = true;
  const description = h("textarea", { id: "zone-description", name: "description", rows: 2, maxlength: 1024 });
  const sensitivity = h(
    "select",
    { id: "zone-sensitivity", name: "sensitivity" },
    h("option", { value: "low" }, "Low"),
    h("option", { value: "normal", selected: true }, "Normal"),
    h("option", { value: "high" }, "High"),
  );
  const title = h("h3", { id: "zone-form-title" }, "Create a zone");
  const submit = h("button", { type: "submit", id: "zone-submit" }, "Create zone");
  const cancel = h("button", { type: "button", class: "button-quiet", hidden: true }, "Cancel");
  const message = h("p", { id: "zone-message", class: "alert", role: "alert", hidden: true });
  const descriptionField = field(
    "Description",
    description,
    "What runs here and how sensitive it is; approvers see the zone's name.",
  );
  descriptionField.classList.add("wide");
  const form = h(
    "form",
    { id: "zone-form", class: "grid-form", novalidate: true },
    field("Name", name),
    field("Site", site, "The site whose connectors reach this zone's servers. Fixed once created."),
    field("Policy", policy, "Applies to every credential in the zone unless a credential names its own."),
    field(
      "Sensitivity",
      sensitivity,
      "High: every connect needs a second factor from the last 5 minutes (a security key when the user has one).",
    ),
    descriptionField,
    allowedField,
    h("div", { class: "form-actions" }, submit, cancel),
    message,
  );

  function policyName(id: string | null): string {
    if (id === null) return "Default policy";
    return data.policy(id)?.name ?? (data.denied.has("policies") ? id : "Unknown policy");
  }

  function startEdit(zone: Zone | null): void {
    editing = zone;
    title.textContent = zone ? `zone ${zone.name}` : "Create a zone";
    submit.textContent = zone ? "Save zone" : "Create zone";
    cancel.hidden = !zone;
    name.disabled = site.disabled = Boolean(zone);
    name.value = zone?.name ?? "";
    site.value = zone?.siteId ?? "";
    policy.value = zone?.policyId ?? "";
    description.value = zone?.description ?? "";
    sensitivity.value = zone?.sensitivity ?? "normal";
    allowedField.hidden = !zone;
    for (const option of allowed.options) option.selected = false;
    if (zone) {
      policy.focus();
      api
        .allowedPolicies(zone.id)
        .then((list) => {
          if (editing !== zone) return;
          for (const option of allowed.options) {
            option.selected = list.policyIds.includes(option.value);
            const weaker = list.weaker[option.value];
            option.textContent = `${data.policy(option.value)?.name ?? option.value}${weaker ? ` (weaker: ${weaker.join(", ")})` : ""}`;
          }
        })
        .catch((failure: unknown) => say(message, errorText(failure)));
    }
  }

  function draw(): void {
    fillSiteSelect(site, data.sites);
    fillSelect(
      policy,
      data.policies.map((p) => ({ id: p.id, label: p.name })),
      { none: "Default policy (built in)" },
    );
    const chosen = new Set([...allowed.selectedOptions].map((o) => o.value));
    allowed.replaceChildren(...data.policies.map((p) => new Option(p.name, p.id, false, chosen.has(p.id))));
    if (data.zones.length === 0) {
      replace(body, emptyRow(6, isAdmin ? "No zones yet. Create one below." : "You administer no zones yet."));
      return;
    }
    replace(
      body,
      ...data.zones.map((zone) =>
        h(
          "tr",
          { "data-zone-id": zone.id },
          h("th", { scope: "row" }, zone.name),
          h("td", {}, data.site(zone.siteId)?.name ?? zone.siteId),
          h("td", {}, policyName(zone.policyId)),
          h(
            "td",
            { "data-sensitivity": zone.sensitivity },
            h("span", { class: zone.sensitivity === "high" ? "pill pending" : "pill ok" }, zone.sensitivity),
          ),
          h("td", { class: "small" }, zone.description || h("span", { class: "muted" }, "—")),
          h(
            "td",
            { class: "actions" },
            isAdmin
              ? rowButton("Edit", "edit-zone", `zone ${zone.name}`, () => {
                  say(message, null);
                  startEdit(zone);
                })
              : null,
          ),
        ),
      ),
    );
  }

  cancel.addEventListener("click", () => {
    say(message, null);
    startEdit(null);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const current = editing;
    const policyId = policy.value || null;
    if (!current && (!name.value.trim() || !site.value)) {
      say(message, name.value.trim() ? "Choose the zone's site." : "Enter a name for the zone.");
      (name.value.trim() ? site : name).focus();
      return;
    }
    void busy(submit, async () => {
      try {
        if (current) {
          const body = UpdateZoneRequest.safeParse({
            description: description.value,
            policyId,
            sensitivity: sensitivity.value,
          });
          if (!body.success) {
            say(message, "The description is too long (up to 1024 characters).");
            return;
          }
          await api.updateZone(current.id, body.data);
          await api.setAllowedPolicies(
            current.id,
            [...allowed.selectedOptions].map((o) => o.value),
          );
          say(message, `Zone ${current.name} saved.`, "ok");
          editing = null;
        } else {
          const body = CreateZoneRequest.safeParse({
            name: name.value,
            siteId: site.value,
            description: description.value,
            policyId,
            sensitivity: sensitivity.value,
          });
          if (!body.success) {
            say(message, "Check the name (up to 128 characters) and the description (up to 1024).");
            return;
          }
          const zone = await api.createZone(body.data);
          say(message, `Zone ${zone.name} created. Add servers to it, then grant groups access.`, "ok");
          form.reset();
        }
        await data.reload("zones");
        startEdit(null);
      } catch (failure) {
        say(message, errorText(failure, { conflict: `A zone named ${name.value.trim()} already exists.` }));
      }
    });
  });

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "zones",
      "Zones",
      "A zone groups servers and credentials of one site under one policy; groups are granted access per zone.",
      dataTable("zones-table", "Zones", ["Zone", "Site", "Policy", "Sensitivity", "Description", ""], body),
      listMessage,
      isAdmin ? h("div", { class: "subform" }, title, form) : null,
    ),
  );
  data.reload("zones", "sites", "policies").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return stop;
}
