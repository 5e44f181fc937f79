// The edit form for one user (Admin › Users): roles, email, person id (links accounts of one
// person, so they cannot approve each other), disabled, and the zones they administer.
import { type Role, UpdateUserRequest, type UserSummary } from "../../../protocol/index.ts";
import type { AdminData } from "./admin-data.ts";
import { checkField, checkedValues, fillChecklist } from "./admin-ui.ts";
import { type Control, field, h, say } from "../shared/dom.ts";

export const ROLE_TEXT: Record<Role, string> = {
  requester: "Requester: requests access from the catalog",
  approver: "Approver: decides requests (as a member of an approver group)",
  auditor: "Auditor: reads, verifies and exports the audit log",
  admin: "Admin: administers everything",
  zone_admin: "Zone admin: administers the zones ticked below",
};

/** Role checkboxes named `roles`, one per role, ticked for `roles`. */
export function roleChecklist(box: HTMLElement, roles: readonly Role[]): void {
  fillChecklist(
    box,
    "roles",
    (Object.keys(ROLE_TEXT) as Role[]).map((role) => ({ id: role, label: ROLE_TEXT[role] })),
    new Set(roles),
    "",
  );
}

type Body = ReturnType<typeof UpdateUserRequest.parse>;

export class UserEditForm {
  readonly title = h("h3", { id: "user-edit-title" });
  readonly roles = h("div", { id: "user-edit-roles", class: "checklist vertical", tabindex: -1 });
  readonly email = h("input", { id: "user-edit-email", type: "email", autocomplete: "off", maxlength: 254 });
  readonly personId = h("input", { id: "user-edit-person", autocomplete: "off", spellcheck: "false", maxlength: 64 });
  readonly disabled = h("input", { id: "user-edit-disabled", type: "checkbox" });
  readonly zones = h("div", { id: "user-edit-zones", class: "checklist", tabindex: -1 });
  readonly submit = h("button", { type: "submit", id: "user-edit-submit" }, "Save user");
  readonly cancel = h("button", { type: "button", class: "button-quiet" }, "Cancel");
  readonly message = h("p", { id: "user-edit-message", class: "alert", role: "alert", hidden: true });
  readonly form: HTMLFormElement;
  user: UserSummary | null = null;

  constructor(private readonly data: AdminData) {
    this.form = h(
      "form",
      {
        id: "user-edit-form",
        class: "grid-form subform",
        hidden: true,
        novalidate: true,
        "aria-labelledby": "user-edit-title",
      },
      h("div", { class: "wide" }, this.title),
      h("fieldset", { class: "field wide" }, h("legend", {}, "Roles"), this.roles),
      field("Email", this.email, "Where approval requests and notices go. Empty: none."),
      field(
        "Person id",
        this.personId,
        "Give two accounts of one person the same id; neither can then approve the other's requests. Empty: this account alone.",
      ),
      checkField(this.disabled, "Disabled", "A disabled user cannot sign in, request or approve."),
      h("fieldset", { class: "field wide" }, h("legend", {}, "Zone admin of"), this.zones),
      h("div", { class: "form-actions" }, this.submit, this.cancel),
      this.message,
    );
    this.cancel.addEventListener("click", () => this.open(null));
  }

  open(user: UserSummary | null): void {
    this.user = user;
    this.form.hidden = !user;
    say(this.message, null);
    if (!user) return;
    this.title.textContent = `Edit ${user.username}`;
    roleChecklist(this.roles, user.roles);
    this.email.value = user.email ?? "";
    this.personId.value = user.personId === user.id ? "" : user.personId;
    this.disabled.checked = user.disabled;
    fillChecklist(
      this.zones,
      "zoneAdminOf",
      this.data.zones.map((z) => ({ id: z.id, label: z.name })),
      new Set(user.zoneAdminOf),
      "No zones yet.",
    );
    this.form.scrollIntoView({ block: "nearest" });
    this.roles.querySelector<HTMLInputElement>("input")?.focus();
  }

  /** The PATCH body, or the control to fix and what to say. */
  read(): { ok: true; body: Body } | { ok: false; control: Control; message: string } {
    const roles = checkedValues(this.roles);
    if (roles.length === 0) return { ok: false, control: this.roles, message: "Tick at least one role." };
    const parsed = UpdateUserRequest.safeParse({
      roles,
      email: this.email.value.trim() || null,
      personId: this.personId.value.trim() || null,
      disabled: this.disabled.checked,
      zoneAdminOf: checkedValues(this.zones),
    });
    if (parsed.success) return { ok: true, body: parsed.data };
    const key = parsed.error.issues[0]?.path[0];
    if (key === "email")
      return { ok: false, control: this.email, message: "Email: enter a valid address, or leave it empty." };
    return { ok: false, control: this.personId, message: "Person id: up to 64 characters." };
  }
}
