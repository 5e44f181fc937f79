// Admin › Groups (admins only): groups with their members, group creation, and a members editor opened from a
// row's "Edit members": a searchable picker (web/src/admin/member-picker.ts), so a directory of thousands still fits.
import type { Group } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { MemberPicker } from "./member-picker.ts";

/** Members named in the table's row; the rest are counted ("and 12 more"). */
const NAMED_MEMBERS = 5;

export function renderGroups(container: HTMLElement, { data }: AdminContext): Cleanup {
  let editing: Group | null = null;
  const body = h("tbody", {}, emptyRow(3, "Loading groups…"));
  const listMessage = h("p", { id: "groups-error", class: "alert", role: "alert", hidden: true });

  const name = h("input", { id: "group-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  const createSubmit = h("button", { type: "submit", id: "group-submit" }, "Create group");
  const createMessage = h("p", { id: "group-message", class: "alert", role: "alert", hidden: true });
  const createForm = h(
    "form",
    { id: "group-form", class: "inline-form", novalidate: true },
    field("New group name", name),
    createSubmit,
  );

  const membersTitle = h("h3", { id: "group-members-title" });
  const picker = new MemberPicker((q, limit) => api.searchUsers(q, limit), "group-member");
  const membersSubmit = h("button", { type: "submit", id: "group-members-submit" }, "Save members");
  const membersCancel = h("button", { type: "button", class: "button-quiet" }, "Cancel");
  const membersMessage = h("p", { id: "group-members-message", class: "alert", role: "alert", hidden: true });
  const membersForm = h(
    "form",
    { id: "group-members-form", class: "subform", hidden: true, "aria-labelledby": "group-members-title" },
    membersTitle,
    picker.element,
    h("div", { class: "form-actions" }, membersSubmit, membersCancel),
    membersMessage,
  );

  function openMembers(group: Group | null): void {
    editing = group;
    membersForm.hidden = !group;
    say(membersMessage, null);
    if (!group) return;
    membersTitle.textContent = `Members of ${group.name}`;
    picker.set(group.members);
    membersForm.scrollIntoView({ block: "nearest" });
    picker.search.focus();
  }

  function draw(): void {
    if (data.groups.length === 0) {
      replace(body, emptyRow(3, "No groups yet. Create one below, then grant it a zone under Grants."));
      return;
    }
    replace(
      body,
      ...data.groups.map((group) =>
        h(
          "tr",
          { "data-group-id": group.id },
          h("th", { scope: "row" }, group.name),
          h("td", {}, group.members.length ? memberNames(group) : h("span", { class: "muted" }, "No members")),
          h(
            "td",
            { class: "actions" },
            rowButton("Edit members", "edit-members", `group ${group.name}`, () => openMembers(group)),
          ),
        ),
      ),
    );
  }

  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = name.value.trim();
    if (!value) {
      say(createMessage, "Enter a name for the group.");
      name.focus();
      return;
    }
    say(createMessage, null);
    void busy(createSubmit, async () => {
      try {
        const group = await api.createGroup(value);
        name.value = "";
        await data.reload("groups");
        say(createMessage, `Group ${group.name} created. Add its members.`, "ok");
        openMembers(data.group(group.id) ?? group);
      } catch (failure) {
        say(createMessage, errorText(failure, { conflict: `A group named ${value} already exists.` }));
      }
    });
  });

  membersCancel.addEventListener("click", () => openMembers(null));
  membersForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const group = editing;
    if (!group) return;
    void busy(membersSubmit, async () => {
      try {
        const saved = await api.setGroupMembers(group.id, picker.ids());
        await data.reload("groups");
        openMembers(null);
        say(
          createMessage,
          `${saved.name} now has ${saved.members.length} member${saved.members.length === 1 ? "" : "s"}.`,
          "ok",
        );
      } catch (failure) {
        say(membersMessage, errorText(failure));
      }
    });
  });

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "groups",
      "Groups",
      "Groups receive access to zones (see Grants) and act as approver groups in policies.",
      dataTable("groups-table", "Groups", ["Group", "Members", ""], body),
      listMessage,
      membersForm,
      createForm,
      createMessage,
    ),
  );
  data.reload("groups").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return () => {
    stop();
    picker.dispose();
  };
}

function memberNames(group: Group): string {
  const named = group.members.slice(0, NAMED_MEMBERS).map((m) => m.username);
  const more = group.members.length - named.length;
  return more > 0 ? `${named.join(", ")} and ${more} more` : named.join(", ");
}
