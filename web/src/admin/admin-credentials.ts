// Admin › Credentials: the credentials in the user's zones (gathered from the servers list, the
// only listing the edge offers) with their rotation state, Rotate now and Verify, and the
// add-credential form that seals secrets in the browser.
import type { AdminContext, AdminCredential } from "./admin-data.ts";
import { busy, dataTable, emptyRow, inlineAction, panel, rowButton } from "./admin-ui.ts";
import { ROTATION_ERROR_TEXT, type Zone } from "../../../protocol/index.ts";
import { sealSecret } from "../../../keys/seal.ts";
import { api, errorText } from "../shared/api.ts";
import { formatAgo, timeElement } from "../shared/format.ts";
import { renderCredentialForm } from "./credential-form.ts";
import { renderRotationForm } from "./rotation-form.ts";
import { type Cleanup, append, h, replace, say } from "../shared/dom.ts";

/** What each rotation state means to an admin (worker/access/rotation.ts). */
const ROTATION_TEXT: Record<AdminCredential["rotation"], string> = {
  ok: "In use",
  pending: "Rotation waiting for check-in",
  rotating: "Rotating now",
  failed: "Rotation failed: retrying",
  out_of_sync: "Out of sync",
};

function rotationCell(c: AdminCredential): HTMLElement {
  if (!c.vaulted) return h("td", { class: "small" }, "EmpowerID rotates it");
  const when = c.rotatedAt ?? c.verifiedAt;
  return h(
    "td",
    { class: "small", "data-rotation": c.rotation },
    h("span", { class: c.rotation === "ok" ? "pill ok" : "pill pending" }, ROTATION_TEXT[c.rotation]),
    c.rotationError ? h("div", {}, ROTATION_ERROR_TEXT[c.rotationError]) : null,
    when ? h("div", {}, c.rotatedAt ? "Rotated " : "Checked ", timeElement(when, formatAgo(when))) : null,
  );
}

export function renderAdminCredentials(container: HTMLElement, { data }: AdminContext): Cleanup {
  const body = h("tbody", {}, emptyRow(6, "Loading credentials…"));
  const listMessage = h("p", { id: "credentials-error", class: "alert", role: "alert", hidden: true });

  /** "Rotate now" or "Verify": the site's connector does it; the table shows the outcome when it lands. */
  async function ask(c: AdminCredential, op: "rotate" | "verify", button: HTMLButtonElement): Promise<void> {
    say(listMessage, null);
    if (op === "rotate" && !window.confirm(`Rotate ${c.name} now? It is not handed out until the rotation succeeds.`))
      return;
    await busy(button, async () => {
      try {
        await api.rotationJob(c.id, op);
        say(
          listMessage,
          op === "rotate"
            ? `${c.name}: rotation asked. It runs once no checkout of it is open.`
            : `${c.name}: check asked.`,
          "ok",
        );
        await settle(c.id);
      } catch (failure) {
        say(listMessage, `${c.name}: ${errorText(failure, { conflict: "a rotation or check is already running." })}`);
      }
    });
  }

  /** Reloads until the job settles (or 30 s pass), so the admin sees the outcome without reloading. */
  async function settle(id: string): Promise<void> {
    for (let i = 0; i < 30; i++) {
      const info = await api.rotation(id);
      if (info.state !== "rotating" && info.history[0]?.finishedAt) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await data.reload("servers");
  }

  /**
   * Replace secret…: a new password or key, sealed here to the site's key the moment Save is pressed; the field
   * is emptied whatever happens next. For a password changed outside the PSM, or a new key.
   */
  function replaceControls(c: AdminCredential, zone: Zone): HTMLElement {
    const open = rowButton("Replace secret…", "replace-secret", c.name, () => {});
    const secret =
      c.kind === "private_key"
        ? h("textarea", { class: "mono replace-secret-value", rows: 4, autocomplete: "off", spellcheck: "false" })
        : h("input", { type: "password", class: "replace-secret-value", autocomplete: "new-password" });
    secret.setAttribute("aria-label", `New ${c.kind === "private_key" ? "private key" : "password"} for ${c.name}`);
    const save = h("button", { type: "submit", class: "small-button replace-secret-save" }, "Seal and save");
    return inlineAction({ open, field: secret, submit: save, onSubmit: (close) => submit(close) }).element;

    function submit(close: () => void): void {
      const sealKey = data.site(zone.siteId)?.sealKey;
      if (!secret.value || !sealKey) {
        say(listMessage, sealKey ? "Enter the new secret." : "This zone's site has no seal key yet.");
        return;
      }
      const plain = secret.value;
      secret.value = "";
      void busy(save, async () => {
        try {
          await api.replaceSecret(c.id, await sealSecret(sealKey, plain));
          close();
          say(listMessage, `${c.name}: the new secret is sealed and saved.`, "ok");
          await data.reload("servers");
        } catch (failure) {
          say(listMessage, `${c.name}: ${errorText(failure)}`);
        }
      });
    }
  }

  /** Rename…: an inline name field; the account and its secret stay. */
  function renameControls(c: AdminCredential): HTMLElement {
    const open = rowButton("Rename…", "rename-credential", c.name, () => {});
    const input = h("input", { class: "rename-value", maxlength: 128, autocomplete: "off" });
    input.setAttribute("aria-label", `New name for ${c.name}`);
    const save = h("button", { type: "submit", class: "small-button rename-save" }, "Rename");
    const action = inlineAction({ open, field: input, submit: save, onSubmit: (close) => submit(close) });
    open.addEventListener("click", () => {
      input.value = c.name;
    });
    return action.element;

    function submit(close: () => void): void {
      const wanted = input.value.trim();
      if (!wanted || wanted === c.name) {
        close();
        return;
      }
      void busy(save, async () => {
        try {
          await api.renameCredential(c.id, wanted);
          close();
          say(listMessage, `${c.name} is now ${wanted}.`, "ok");
          await data.reload("servers");
        } catch (failure) {
          say(listMessage, `${c.name}: ${errorText(failure, { conflict: `a credential named ${wanted} exists.` })}`);
        }
      });
    }
  }

  /** Delete, for a credential already turned off (Admin › Servers turns it off, ending what is open on it). */
  function deleteButton(c: AdminCredential): HTMLButtonElement {
    const button = rowButton("Delete", "delete-credential", c.name, () => {
      say(listMessage, null);
      if (!window.confirm(`Delete ${c.name}? Its checkouts, sessions and recordings keep it; nobody can use it again.`))
        return;
      void busy(button, async () => {
        try {
          await api.deleteCredential(c.id);
          say(listMessage, `${c.name} is deleted.`, "ok");
          await data.reload("servers");
        } catch (failure) {
          say(listMessage, `${c.name} was not deleted. ${errorText(failure)}`);
        }
      });
    });
    return button;
  }

  function actions(c: AdminCredential, zone: Zone): HTMLElement {
    const manage = [renameControls(c), c.enabled ? null : deleteButton(c)];
    if (!c.vaulted) return h("td", { class: "row-actions" }, ...manage);
    const rotate = rowButton("Rotate now", "rotate-now", c.name, () => void ask(c, "rotate", rotate));
    const verify = rowButton("Verify", "verify-now", c.name, () => void ask(c, "verify", verify));
    return h("td", { class: "row-actions" }, rotate, " ", verify, replaceControls(c, zone), ...manage);
  }

  function draw(): void {
    const rows = data.zones.flatMap((zone) => data.credentialsOf(zone.id).map((c) => ({ zone, c })));
    if (rows.length === 0) {
      replace(body, emptyRow(6, "No credentials yet. Add one below."));
      return;
    }
    replace(
      body,
      ...rows.map(({ zone, c }) =>
        h(
          "tr",
          { "data-credential-id": c.id },
          h("th", { scope: "row" }, c.name),
          h("td", { class: "mono" }, c.username),
          h("td", {}, zone.name),
          h("td", { class: "small" }, c.servers.join(", ")),
          rotationCell(c),
          actions(c, zone),
        ),
      ),
    );
  }

  const stop = data.listen(draw);
  append(
    container,
    panel(
      "credentials",
      "Credentials",
      "Secrets are sealed in your browser to the key of the zone's site; only that site's connectors can open them.",
      dataTable(
        "credentials-table",
        "Credentials",
        ["Credential", "Username", "Zone", "Servers", "Rotation", "Actions"],
        body,
      ),
      listMessage,
    ),
  );
  const stopRotation = renderRotationForm(container, data);
  const stopForm = renderCredentialForm(container, data);
  data
    .reload("servers", "zones", "sites", "policies")
    .catch((failure: unknown) => say(listMessage, errorText(failure)));
  return () => {
    stop();
    stopRotation();
    stopForm();
  };
}
