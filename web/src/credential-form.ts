// The admin's add-credential form. The secret is sealed in this browser to the site's key
// (seal.ts), the textarea is cleared at once, and only the sealed JWE is sent to the edge.
import { CreateCredentialRequest, type CredentialKind } from "../../protocol/index.ts";
import { type AdminCatalog, fillSiteSelect } from "./admin-data.ts";
import { api, errorText } from "./api.ts";
import { type Cleanup, type Control, append, field, h, replace, say } from "./dom.ts";
import { sealSecret } from "./seal.ts";

const SECRET_HINT: Record<CredentialKind, string> = {
  password: "The password. It is sealed in this browser before anything is sent.",
  private_key: "The OpenSSH private key (PEM). It is sealed in this browser before anything is sent.",
};

export function renderCredentialForm(container: HTMLElement, catalog: AdminCatalog): Cleanup {
  const name = h("input", { id: "cred-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  const username = h("input", {
    id: "cred-username",
    name: "username",
    required: true,
    maxlength: 256,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
  });
  const kind = h(
    "select",
    { id: "cred-kind", name: "kind" },
    h("option", { value: "password" }, "Password"),
    h("option", { value: "private_key" }, "Private key"),
  );
  const site = h("select", { id: "cred-site", name: "siteId", required: true });
  const servers = h("div", { id: "cred-servers", class: "checklist", tabindex: -1 });
  const secret = h("textarea", {
    id: "cred-secret",
    name: "secret",
    rows: 4,
    required: true,
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    class: "mono secret masked",
    "data-1p-ignore": "true",
    "data-lpignore": "true",
  });
  const sealNote = h("p", { id: "cred-seal-note", class: "note", hidden: true });
  const message = h("p", { id: "cred-message", class: "alert", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", id: "cred-submit" }, "Seal and save credential");
  const secretField = field("Secret", secret, SECRET_HINT.password);
  secretField.classList.add("wide");

  const form = h(
    "form",
    { id: "credential-form", class: "grid-form", novalidate: true },
    field("Name", name),
    field("Username on the server", username),
    field("Kind", kind),
    field("Site", site),
    h("fieldset", { class: "field wide" }, h("legend", {}, "Servers"), servers),
    secretField,
    sealNote,
    h("div", { class: "form-actions" }, submit),
    message,
  );

  function drawServers(): void {
    const checked = new Set(
      Array.from(servers.querySelectorAll<HTMLInputElement>("input:checked"), (box) => box.value),
    );
    const inSite = catalog.servers.filter((server) => server.siteId === site.value);
    if (!site.value || inSite.length === 0) {
      replace(
        servers,
        h("p", { class: "muted" }, site.value ? "This site has no servers yet." : "Choose a site first."),
      );
    } else {
      replace(
        servers,
        ...inSite.map((server) =>
          h(
            "label",
            { class: "check" },
            h("input", { type: "checkbox", name: "serverIds", value: server.id, checked: checked.has(server.id) }),
            ` ${server.name}`,
            h("span", { class: "muted mono" }, ` ${server.host}`),
          ),
        ),
      );
    }
    const chosen = catalog.site(site.value);
    const sealable = Boolean(chosen?.sealKey);
    sealNote.hidden = !chosen || sealable;
    sealNote.textContent =
      chosen && !sealable
        ? `${chosen.name} has no seal key yet: enroll its first connector, then add credentials.`
        : "";
    submit.disabled = Boolean(chosen) && !sealable;
  }

  /** The first field that stops the form, with what to tell the admin; null when it can be sent. */
  function firstProblem(serverIds: string[]): readonly [Control, string] | null {
    const chosen = catalog.site(site.value);
    if (!name.value.trim()) return [name, "Enter a name for the credential."];
    if (!username.value.trim()) return [username, "Enter the username it logs in as."];
    if (!chosen) return [site, "Choose a site."];
    if (!chosen.sealKey) return [site, `${chosen.name} has no seal key yet: enroll its first connector first.`];
    if (serverIds.length === 0) return [servers, "Tick at least one server this credential opens."];
    if (!secret.value) return [secret, "Enter the secret."];
    return null;
  }

  function redraw(): void {
    fillSiteSelect(site, catalog.sites);
    drawServers();
  }

  site.addEventListener("change", drawServers);
  kind.addEventListener("change", () => {
    const value = kind.value as CredentialKind;
    secret.classList.toggle("masked", value === "password");
    secret.rows = value === "private_key" ? 8 : 4;
    const hint = form.querySelector("#cred-secret-hint");
    if (hint) hint.textContent = SECRET_HINT[value];
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const serverIds = Array.from(servers.querySelectorAll<HTMLInputElement>("input:checked"), (box) => box.value);
    const chosen = catalog.site(site.value);
    const problem = firstProblem(serverIds);
    if (problem) {
      say(message, problem[1]);
      problem[0].focus();
      return;
    }
    if (!chosen?.sealKey) return;
    say(message, null);
    submit.disabled = true;
    let sealed: string;
    try {
      sealed = await sealSecret(chosen.sealKey, secret.value);
    } catch {
      say(message, "The secret could not be sealed to this site's key. Nothing was sent.");
      submit.disabled = false;
      return;
    } finally {
      // The plaintext leaves the page as soon as it is sealed (or sealing failed).
      secret.value = "";
    }
    const body = CreateCredentialRequest.safeParse({
      name: name.value,
      username: username.value.trim(),
      kind: kind.value,
      siteId: chosen.id,
      sealed,
      serverIds,
    });
    if (!body.success) {
      say(message, "Check the fields, then enter the secret again.");
      submit.disabled = false;
      return;
    }
    try {
      await api.createCredential(body.data);
      say(message, `Credential ${body.data.name} saved, sealed to ${chosen.name}'s key.`, "ok");
      form.reset();
      kind.dispatchEvent(new Event("change"));
      redraw();
      await catalog.reload();
    } catch (failure) {
      say(message, `The credential was not saved. ${errorText(failure)} Enter the secret again to retry.`);
    } finally {
      submit.disabled = false;
    }
  });

  const stop = catalog.listen(redraw);
  redraw();
  append(
    container,
    h(
      "section",
      { class: "panel", "aria-labelledby": "credential-form-title" },
      h("h2", { id: "credential-form-title" }, "Add a credential"),
      form,
    ),
  );
  return stop;
}
