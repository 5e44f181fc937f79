// Admin › Users (admins only): every account with roles, email, person, status and zones; a form to
// create a local user; and a row's Edit opens the user edit form.
import { CreateUserRequest, type UserSummary } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, checkedValues, dataTable, emptyRow, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { UserEditForm, roleChecklist } from "./user-edit-form.ts";

export function renderUsers(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(7, "Loading users…"));
  const listMessage = h("p", { id: "users-error", class: "alert", role: "alert", hidden: true });
  const edit = new UserEditForm(data);

  const username = h("input", {
    id: "user-username",
    name: "username",
    required: true,
    maxlength: 64,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
  });
  const password = h("input", {
    id: "user-password",
    name: "password",
    type: "password",
    autocomplete: "new-password",
    minlength: 12,
    maxlength: 1024,
  });
  const roles = h("div", { id: "user-roles", class: "checklist vertical", tabindex: -1 });
  const submit = h("button", { type: "submit", id: "user-submit" }, "Create user");
  const message = h("p", { id: "user-message", class: "alert", role: "alert", hidden: true });
  const form = h(
    "form",
    { id: "user-form", class: "grid-form", novalidate: true },
    field("Username", username, "Letters, digits, dot, dash, underscore or @."),
    field("Initial password", password, "At least 12 characters. Tell the user over a separate channel."),
    h("fieldset", { class: "field wide" }, h("legend", {}, "Roles"), roles),
    h("div", { class: "form-actions" }, submit),
    message,
  );
  roleChecklist(roles, ["requester"]);

  function zoneNames(user: UserSummary): string {
    return user.zoneAdminOf.map((id) => data.zone(id)?.name ?? id).join(", ");
  }

  function draw(): void {
    if (edit.user) edit.user = data.users.find((u) => u.id === edit.user?.id) ?? null;
    if (data.users.length === 0) {
      replace(body, emptyRow(7, "No users."));
      return;
    }
    replace(
      body,
      ...data.users.map((user) =>
        h(
          "tr",
          { "data-user-id": user.id, "data-disabled": user.disabled ? "yes" : "no" },
          h(
            "th",
            { scope: "row" },
            user.username,
            // Provisioned by the identity provider (SCIM): it decides the name, the status and the groups.
            user.provisioned
              ? h("span", { class: "tag", title: "Provisioned by the identity provider (SCIM)" }, "SCIM")
              : null,
          ),
          h("td", { class: "small" }, user.roles.join(", ")),
          h("td", { class: "small" }, user.email ?? h("span", { class: "muted" }, "—")),
          h(
            "td",
            { class: "small mono" },
            user.personId === user.id ? h("span", { class: "muted" }, "own") : user.personId,
          ),
          h(
            "td",
            {},
            user.disabled ? h("span", { class: "pill danger" }, "Disabled") : h("span", { class: "pill ok" }, "Active"),
          ),
          h("td", { class: "small" }, zoneNames(user) || h("span", { class: "muted" }, "—")),
          h(
            "td",
            { class: "actions" },
            rowButton("Edit", "edit-user", user.username, () => edit.open(user)),
            rowButton("Reset MFA", "reset-mfa", user.username, () => {
              // Break-glass: the user lost their factors. They sign in with the password and enrol again.
              if (!confirm(`Remove every second factor of ${user.username} and end their sign-ins?`)) return;
              const alsoMaster = confirm("Also clear their master password (they set a new one at the next connect)?");
              api.resetMfa(user.id, alsoMaster).then(
                () => window.alert(`Second factors of ${user.username} were removed.`),
                (failure) => window.alert(errorText(failure)),
              );
            }),
          ),
        ),
      ),
    );
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const parsed = CreateUserRequest.safeParse({
      username: username.value,
      password: password.value,
      roles: checkedValues(roles),
    });
    if (!parsed.success) {
      const key = parsed.error.issues[0]?.path[0];
      const [control, text] =
        key === "password"
          ? [password, "The password needs at least 12 characters."]
          : key === "roles"
            ? [roles, "Tick at least one role."]
            : [username, "Username: up to 64 letters, digits, dots, dashes, underscores or @."];
      say(message, text);
      control.focus();
      return;
    }
    say(message, null);
    void busy(submit, async () => {
      try {
        await api.createUser(parsed.data);
        form.reset();
        roleChecklist(roles, ["requester"]);
        await data.reload("users");
        say(message, `User ${parsed.data.username} created. Add them to groups so they can request access.`, "ok");
      } catch (failure) {
        say(message, errorText(failure, { conflict: `A user named ${parsed.data.username} already exists.` }));
      }
    });
  });

  edit.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const user = edit.user;
    if (!user) return;
    const read = edit.read();
    if (!read.ok) {
      say(edit.message, read.message);
      read.control.focus();
      return;
    }
    void busy(edit.submit, async () => {
      try {
        const saved = await api.updateUser(user.id, read.body);
        edit.open(null);
        await data.reload("users");
        say(listMessage, `${saved.username} saved.`, "ok");
      } catch (failure) {
        say(
          edit.message,
          errorText(failure, { conflict: "That would leave no active admin. Make someone else an admin first." }),
        );
      }
    });
  });

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "users",
      "Users",
      null,
      dataTable("users-table", "Users", ["User", "Roles", "Email", "Person", "Status", "Zone admin of", ""], body),
      listMessage,
      edit.form,
    ),
    panel("user-create", "Create a user", null, form),
  );
  data.reload("users", "zones").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return stop;
}
