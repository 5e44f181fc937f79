// Admin › Policies (admins only): the policies with their main rules, and the full policy form (in sections,
// durations in minutes, hours or days) to create one or, via a row's Edit, change one.
import { type Policy, recordingMode } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h, replace, say } from "../shared/dom.ts";
import { formatMinutes } from "../shared/format.ts";
import { PolicyForm } from "./policy-form.ts";

/** "recording required, with keystrokes", "recorded (best effort)", "not recorded". */
function recordingWords(p: Policy): string {
  const mode = recordingMode(p);
  if (mode === "off") return "not recorded";
  const keys = p.recordKeystrokes ? ", with keystrokes" : "";
  return mode === "required" ? `recording required${keys}` : `recorded (best effort)${keys}`;
}

function controls(p: Policy): string {
  const on = [
    p.exclusive && "exclusive",
    recordingWords(p),
    p.masterPasswordRequired && "master password",
    p.mfaRequired && "MFA",
    p.idleTimeoutMinutes !== null && `idle ${formatMinutes(p.idleTimeoutMinutes)}`,
    p.extensionMinutes !== null &&
      p.maxExtensions > 0 &&
      `${p.maxExtensions}× +${formatMinutes(p.extensionMinutes)}${p.extensionApprovalRequired ? " (approved)" : ""}`,
    p.disconnectGraceMinutes !== null && `away ${formatMinutes(p.disconnectGraceMinutes)}`,
    p.liveViewAllowed && "live view",
  ].filter(Boolean);
  return on.join(", ") || "—";
}

export function renderPolicies(container: HTMLElement, { data }: AdminContext): Cleanup {
  let editing: Policy | null = null;
  const body = h("tbody", {}, emptyRow(6, "Loading policies…"));
  const listMessage = h("p", { id: "policies-error", class: "alert", role: "alert", hidden: true });
  const policyForm = new PolicyForm(data);
  const title = h("h3", { id: "policy-form-title" }, "Create a policy");
  const submit = h("button", { type: "submit", id: "policy-submit" }, "Create policy");
  const cancel = h("button", { type: "button", class: "button-quiet", hidden: true }, "Cancel");
  const message = h("p", { id: "policy-message", class: "alert", role: "alert", hidden: true });
  const form = h(
    "form",
    { id: "policy-form", class: "grid-form", novalidate: true },
    ...policyForm.fields,
    h("div", { class: "form-actions" }, submit, cancel),
    message,
  );

  function startEdit(policy: Policy | null): void {
    editing = policy;
    title.textContent = policy ? `Edit policy ${policy.name}` : "Create a policy";
    submit.textContent = policy ? "Save policy" : "Create policy";
    cancel.hidden = !policy;
    policyForm.fill(policy);
    if (policy) {
      form.scrollIntoView({ block: "nearest" });
      policyForm.name.focus();
    }
  }

  function approval(p: Policy): string {
    if (!p.approvalRequired) return "None";
    const group = p.approverGroupId ? (data.group(p.approverGroupId)?.name ?? "a group") : "no group";
    return `${p.quorum} of ${group}`;
  }

  function draw(): void {
    policyForm.refreshGroups();
    if (data.policies.length === 0) {
      replace(body, emptyRow(6, "No policies yet: every zone uses the built-in default (no approval, 8 h)."));
      return;
    }
    replace(
      body,
      ...data.policies.map((p) =>
        h(
          "tr",
          { "data-policy-id": p.id },
          h("th", { scope: "row" }, p.name),
          h("td", {}, approval(p)),
          h("td", {}, formatMinutes(p.maxCheckoutMinutes)),
          h("td", {}, formatMinutes(p.maxSessionMinutes)),
          h("td", { class: "small" }, controls(p)),
          h(
            "td",
            { class: "actions" },
            rowButton("Edit", "edit-policy", `policy ${p.name}`, () => {
              say(message, null);
              startEdit(p);
            }),
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
    const read = policyForm.read();
    if (!read.ok) {
      // The message is shown at the field (and read out with it when the focus lands there).
      say(message, null);
      read.control.focus();
      return;
    }
    const current = editing;
    say(message, null);
    void busy(submit, async () => {
      try {
        const saved = current ? await api.updatePolicy(current.id, read.body) : await api.createPolicy(read.body);
        say(
          message,
          current
            ? `Policy ${saved.name} saved.`
            : `Policy ${saved.name} created. Attach it to a zone or a credential.`,
          "ok",
        );
        startEdit(null);
        await data.reload("policies");
      } catch (failure) {
        say(message, errorText(failure, { conflict: `A policy named ${read.body.name} already exists.` }));
      }
    });
  });

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "policies",
      "Policies",
      "A policy decides how access is granted and watched: approval, windows, recording and step-up. Zones name a policy; a credential may override it.",
      dataTable(
        "policies-table",
        "Policies",
        ["Policy", "Approval", "Max checkout", "Max session", "Controls", ""],
        body,
      ),
      listMessage,
      h("div", { class: "subform" }, title, form),
    ),
  );
  data.reload("policies", "groups").catch((failure: unknown) => say(listMessage, errorText(failure)));
  return stop;
}
