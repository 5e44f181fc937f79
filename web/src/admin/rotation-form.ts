// Admin › Credentials › Rotation: where a vaulted credential's account lives (the SSH account on its server,
// or an OpenLDAP / Active Directory entry reached over TLS), which credential may reset it (say, root's key:
// the reconcile path for a secret changed outside the PSM), and its last rotations and checks.
import type { CredentialRotationInfo } from "../../../protocol/index.ts";
import { type AdminCredential, type AdminData, fillSelect } from "./admin-data.ts";
import { busy } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";
import { formatFullTime } from "../shared/format.ts";

const OUTCOME_TEXT: Record<string, string> = {
  rotated: "rotated",
  in_sync: "logs in",
  out_of_sync: "does not log in",
  timeout: "no connector answered",
};

export function renderRotationForm(container: HTMLElement, data: AdminData): Cleanup {
  const credential = h("select", { id: "rot-credential", required: true });
  const type = h(
    "select",
    { id: "rot-type" },
    h("option", { value: "ssh" }, "SSH account on its server"),
    h("option", { value: "ldap" }, "OpenLDAP entry (RFC 3062)"),
    h("option", { value: "ad" }, "Active Directory user (unicodePwd)"),
  );
  const url = h("input", {
    id: "rot-url",
    placeholder: "ldaps://dc1.corp.example",
    maxlength: 512,
    spellcheck: "false",
  });
  const dn = h("input", { id: "rot-dn", placeholder: "CN=svc-app,OU=Service,DC=corp,DC=example", maxlength: 1024 });
  const startTls = h("input", { id: "rot-starttls", type: "checkbox" });
  const rotateWith = h("select", { id: "rot-with" });
  const directory = h(
    "div",
    { id: "rot-directory", hidden: true },
    field("Directory URL", url, "LDAPS, or ldap:// with StartTLS: passwords never cross the network in clear."),
    field("Entry (DN)", dn),
    h("label", { class: "check" }, startTls, " Use StartTLS on ldap://"),
  );
  const message = h("p", { id: "rot-message", class: "alert", role: "status", hidden: true });
  const history = h("ul", { id: "rot-history", class: "small" });
  const save = h("button", { type: "submit", id: "rot-save" }, "Save rotation settings");
  const form = h(
    "form",
    { novalidate: true, id: "rotation-form" },
    field("Credential", credential),
    field("Account", type),
    directory,
    field(
      "Rotation credential",
      rotateWith,
      "Optional: a credential of the same site that may reset this one without its current secret (root's key, a directory admin). Needed to reconcile a secret changed outside the PSM.",
    ),
    h("div", { class: "actions" }, save),
    message,
    h("h3", {}, "Last rotations and checks"),
    history,
  );

  const vaulted = (): AdminCredential[] => data.zones.flatMap((z) => data.credentialsOf(z.id)).filter((c) => c.vaulted);

  function redraw(): void {
    const all = vaulted();
    fillSelect(
      credential,
      all.map((c) => ({ id: c.id, label: `${c.name} (${c.username})` })),
      { choose: "Choose a credential…" },
    );
    fillSelect(
      rotateWith,
      all.filter((c) => c.id !== credential.value).map((c) => ({ id: c.id, label: `${c.name} (${c.username})` })),
      { none: "None: the account changes its own secret" },
    );
  }

  function showInfo(info: CredentialRotationInfo): void {
    type.value = info.account.type;
    directory.hidden = info.account.type === "ssh";
    if (info.account.type !== "ssh") {
      url.value = info.account.url;
      dn.value = info.account.dn;
      startTls.checked = info.account.startTls;
    }
    rotateWith.value = info.rotateWith ?? "";
    replace(
      history,
      ...(info.history.length
        ? info.history.map((r) =>
            h(
              "li",
              { "data-outcome": r.outcome ?? "running" },
              `${formatFullTime(r.requestedAt)}: ${r.op === "rotate" ? "rotation" : "check"} (${r.cause}) — `,
              r.outcome === null ? "running" : (OUTCOME_TEXT[r.outcome] ?? r.outcome.replace(/^failed:/, "failed: ")),
            ),
          )
        : [h("li", {}, "None yet.")]),
    );
  }

  credential.addEventListener("change", () => {
    say(message, null);
    redraw();
    if (credential.value)
      api
        .rotation(credential.value)
        .then(showInfo)
        .catch((failure: unknown) => say(message, errorText(failure)));
  });
  type.addEventListener("change", () => {
    directory.hidden = type.value === "ssh";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(message, null);
    if (!credential.value) return say(message, "Choose a credential.");
    const account =
      type.value === "ssh"
        ? { type: "ssh" as const }
        : { type: type.value as "ldap" | "ad", url: url.value.trim(), dn: dn.value.trim(), startTls: startTls.checked };
    void busy(save, async () => {
      try {
        await api.setRotation(credential.value, { account, rotateWith: rotateWith.value || null });
        say(message, "Rotation settings saved.", "ok");
      } catch (failure) {
        say(
          message,
          errorText(failure, {
            bad_request:
              "Check the directory URL (LDAPS or StartTLS) and entry, and that the rotation credential is of the same site.",
          }),
        );
      }
    });
  });

  const stop = data.listen(redraw);
  redraw();
  append(
    container,
    h(
      "section",
      { class: "panel", "aria-labelledby": "rotation-form-title" },
      h("h2", { id: "rotation-form-title" }, "Rotation"),
      form,
    ),
  );
  return stop;
}
