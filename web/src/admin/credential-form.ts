// The admin's add-credential form. The secret is sealed in this browser to the key of the zone's
// site (seal.ts), the textarea is cleared at once, and only the sealed JWE is sent to the edge. Or
// the secret stays in EmpowerID and only its reference is stored (docs/empowerid.md). A private key is
// parsed here first, as the connector's SSH library will parse it, and refused with the reason if it won't.
import { CreateCredentialRequest, type CredentialKind } from "../../../protocol/index.ts";
import { checkPrivateKey, privateKeyProblemText } from "../../../protocol/private-key.ts";
import { type AdminData, fillSelect, fillZoneSelect } from "./admin-data.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, type Control, append, field, h, replace, say } from "../shared/dom.ts";
import { sealSecret } from "../../../keys/seal.ts";

const SECRET_HINT: Record<CredentialKind, string> = {
  password: "The password. It is sealed in this browser before anything is sent.",
  private_key:
    "The private key file (OpenSSH, PEM or PuTTY v2), without a passphrase. It is checked and sealed in this browser before anything is sent.",
};

export function renderCredentialForm(container: HTMLElement, data: AdminData): Cleanup {
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
  const zone = h("select", { id: "cred-zone", name: "zoneId", required: true });
  const policy = h("select", { id: "cred-policy", name: "policyId" });
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
  // Where the secret lives: sealed here, or in EmpowerID (the edge then stores only its reference).
  const source = h(
    "select",
    { id: "cred-source", name: "source" },
    h("option", { value: "sealed" }, "Sealed in this browser"),
    h("option", { value: "empowerid" }, "EmpowerID (reference only)"),
  );
  const externalRef = h("input", {
    id: "cred-external-ref",
    name: "externalRef",
    maxlength: 256,
    autocomplete: "off",
    spellcheck: "false",
  });
  const refField = field(
    "EmpowerID credential reference",
    externalRef,
    "EmpowerID's id for the vaulted credential. The site's connector must use the empowerid provider.",
  );
  refField.hidden = true;
  const fromEmpowerId = () => source.value === "empowerid";
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
    field("Secret from", source),
    field("Zone", zone, "Sealed to the key of the zone's site; usable on the zone's servers."),
    field("Policy", policy, "Leave at the zone's policy unless this credential needs stricter rules."),
    h("fieldset", { class: "field wide" }, h("legend", {}, "Servers"), servers),
    secretField,
    refField,
    sealNote,
    h("div", { class: "form-actions" }, submit),
    message,
  );

  /** The chosen zone and its site (whose seal key the secret is sealed to). */
  function chosen() {
    const z = data.zone(zone.value);
    return z ? { zone: z, site: data.site(z.siteId) } : null;
  }

  function drawServers(): void {
    const checked = new Set(
      Array.from(servers.querySelectorAll<HTMLInputElement>("input:checked"), (box) => box.value),
    );
    const inZone = data.servers.filter((server) => server.zoneId === zone.value);
    if (!zone.value || inZone.length === 0) {
      replace(
        servers,
        h("p", { class: "muted" }, zone.value ? "This zone has no servers yet." : "Choose a zone first."),
      );
    } else {
      replace(
        servers,
        ...inZone.map((server) =>
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
    const target = chosen();
    const sealable = Boolean(target?.site?.sealKey) || fromEmpowerId();
    sealNote.hidden = !target || sealable;
    sealNote.textContent = !target || sealable ? "" : sealProblem(target.zone.name, target.site?.name);
    submit.disabled = Boolean(target) && !sealable;
  }

  function sealProblem(zoneName: string, siteName: string | undefined): string {
    if (!siteName) return `The site of ${zoneName} cannot be read, so there is no key to seal to. Ask an admin.`;
    return `${siteName} (the site of ${zoneName}) has no seal key yet: enroll its first connector, then add credentials.`;
  }

  /** The first field that stops the form, with what to tell the admin; null when it can be sent. */
  function firstProblem(serverIds: string[]): readonly [Control, string] | null {
    const target = chosen();
    if (!name.value.trim()) return [name, "Enter a name for the credential."];
    if (!username.value.trim()) return [username, "Enter the username it logs in as."];
    if (!target) return [zone, "Choose a zone."];
    if (serverIds.length === 0) return [servers, "Tick at least one server this credential opens."];
    if (fromEmpowerId()) return externalRef.value.trim() ? null : [externalRef, "Enter EmpowerID's reference."];
    if (!target.site?.sealKey) return [zone, sealProblem(target.zone.name, target.site?.name)];
    if (!secret.value) return [secret, "Enter the secret."];
    const keyProblem = secretKeyProblem();
    if (keyProblem) return [secret, keyProblem];
    return null;
  }

  /**
   * A key the connector could not load would end every session with `credential_invalid`: refuse it
   * now, saying what is wrong. A key pasted as a password would fail at the server: say so too.
   */
  function secretKeyProblem(): string | null {
    const verdict = checkPrivateKey(secret.value);
    if (kind.value === "private_key") return verdict.ok ? null : privateKeyProblemText(verdict);
    const keyLike = verdict.ok || (verdict.problem !== "unsupported_format" && verdict.problem !== "empty");
    return keyLike ? "This looks like a key, not a password: choose Kind: Private key." : null;
  }

  function redraw(): void {
    fillZoneSelect(zone, data);
    fillSelect(
      policy,
      data.policies.map((p) => ({ id: p.id, label: p.name })),
      { none: "The zone's policy" },
    );
    drawServers();
  }

  zone.addEventListener("change", drawServers);
  source.addEventListener("change", () => {
    secretField.hidden = fromEmpowerId();
    refField.hidden = !fromEmpowerId();
    secret.required = !fromEmpowerId();
    submit.textContent = fromEmpowerId() ? "Save credential reference" : "Seal and save credential";
    drawServers();
  });
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
    const target = chosen();
    const problem = firstProblem(serverIds);
    if (problem) {
      say(message, problem[1]);
      problem[0].focus();
      return;
    }
    if (!target) return;
    // Both sources send the same fields; only where the secret lives differs.
    const fields = {
      name: name.value,
      username: username.value.trim(),
      kind: kind.value,
      zoneId: target.zone.id,
      serverIds,
      policyId: policy.value || null,
    };
    if (fromEmpowerId()) {
      await save(
        CreateCredentialRequest.safeParse({ ...fields, externalRef: externalRef.value.trim() }),
        `Credential ${name.value} saved: its secret stays in EmpowerID.`,
      );
      return;
    }
    const sealKey = target.site?.sealKey;
    if (!sealKey) return;
    say(message, null);
    submit.disabled = true;
    let sealed: string;
    try {
      sealed = await sealSecret(sealKey, secret.value);
    } catch {
      say(message, "The secret could not be sealed to the zone's site key. Nothing was sent.");
      submit.disabled = false;
      return;
    } finally {
      // The plaintext leaves the page as soon as it is sealed (or sealing failed).
      secret.value = "";
    }
    await save(
      CreateCredentialRequest.safeParse({ ...fields, sealed }),
      `Credential ${name.value} saved, sealed to ${target.site?.name ?? "the site"}'s key.`,
    );
  });

  async function save(body: ReturnType<typeof CreateCredentialRequest.safeParse>, done: string): Promise<void> {
    submit.disabled = true;
    if (!body.success) {
      say(message, "Check the fields, then enter the secret again.");
      submit.disabled = false;
      return;
    }
    try {
      await api.createCredential(body.data);
      say(message, done, "ok");
      form.reset();
      kind.dispatchEvent(new Event("change"));
      source.dispatchEvent(new Event("change"));
      redraw();
      await data.reload("servers");
    } catch (failure) {
      say(message, `The credential was not saved. ${errorText(failure)} Enter the secret again to retry.`);
    } finally {
      submit.disabled = false;
    }
  }

  const stop = data.listen(redraw);
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
