// Admin › Sites: each site's seal-key state, site creation, and one-time enrollment tokens shown
// with the command that enrolls a connector.
import {
  type EnrollmentToken,
  SEAL_ROTATION_ERROR_TEXT,
  type SealKeyInfo,
  type Site,
} from "../../../protocol/index.ts";
import { renderConnectors } from "./admin-connectors.ts";
import type { AdminContext } from "./admin-data.ts";
import { dataTable, emptyRow, panel } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, field, h, replace, say } from "../shared/dom.ts";

function enrollCommand(token: string): string {
  return `npx psm-connector install --url ${location.origin} --token ${token}`;
}

export function renderSites(container: HTMLElement, ctx: AdminContext): Cleanup {
  const { data } = ctx;
  const sitesError = h("p", { id: "sites-error", class: "alert", role: "alert", hidden: true });
  const sitesBody = h("tbody", {}, emptyRow(3, "Loading sites…"));
  const tokenPanel = h("div", {
    id: "enrollment-token",
    class: "token-panel",
    role: "region",
    "aria-label": "Enrollment token",
    hidden: true,
  });
  const siteName = h("input", { id: "site-name", name: "name", required: true, maxlength: 128, autocomplete: "off" });
  const siteForm = h(
    "form",
    { id: "site-form", class: "inline-form" },
    field("New site name", siteName),
    h("button", { type: "submit" }, "Create site"),
  );

  function showToken(site: Site, token: EnrollmentToken): void {
    const command = enrollCommand(token.token);
    const copy = h("button", { type: "button", class: "button-quiet" }, "Copy command");
    copy.addEventListener("click", () => {
      navigator.clipboard?.writeText(command).then(
        () => (copy.textContent = "Copied"),
        () => (copy.textContent = "Copy failed; select the text"),
      );
    });
    const hide = h("button", { type: "button", class: "button-quiet" }, "Done, hide it");
    hide.addEventListener("click", () => {
      replace(tokenPanel);
      tokenPanel.hidden = true;
    });
    replace(
      tokenPanel,
      h("h3", {}, `Enroll a connector for ${site.name}`),
      h(
        "p",
        {},
        "Run this once on the connector host. The token is shown only now and expires ",
        h("time", { datetime: new Date(token.expiresAt).toISOString() }, new Date(token.expiresAt).toLocaleString()),
        ".",
      ),
      h("pre", { id: "enrollment-command", class: "command", tabindex: 0, "data-site-id": site.id }, command),
      h("div", { class: "button-row" }, copy, hide),
    );
    tokenPanel.hidden = false;
    tokenPanel.scrollIntoView({ block: "nearest" });
  }

  /** A key id is a 43-character thumbprint: its start is enough to tell keys apart on screen. */
  const shortKid = (kid: string) => kid.slice(0, 12);

  /** Where the site's key stands: the last rotation, and which connectors hold the current key. */
  function sealStatus(info: SealKeyInfo): string {
    const last = info.rotations[0];
    const holding = info.connectors.filter((c) => c.kid === info.kid).length;
    const holders = `${holding} of ${info.connectors.length} connectors hold it`;
    if (!last) return holders;
    if (last.state === "running") return "Rotating: a connector is re-sealing the credentials…";
    if (last.state === "failed")
      return `Last rotation failed: ${last.error ? SEAL_ROTATION_ERROR_TEXT[last.error] : "unknown"}. ${holders}.`;
    const waiting = info.connectors.filter((c) => c.deliveryPending).map((c) => c.name);
    return `Rotated ${new Date(last.finishedAt ?? last.requestedAt).toLocaleString()}: ${last.resealed ?? 0} credentials re-sealed${
      last.unopenable ? `, ${last.unopenable} could not be opened (already unusable)` : ""
    }. ${holders}${waiting.length ? `; waiting to receive it: ${waiting.join(", ")}` : ""}.`;
  }

  async function rotateSealKey(site: Site, button: HTMLButtonElement, status: HTMLElement): Promise<void> {
    if (
      !window.confirm(
        `Rotate the seal key of ${site.name}? A connector makes a new key and re-seals every credential of the site. Sessions starting during the swap may need a retry.`,
      )
    )
      return;
    button.disabled = true;
    say(sitesError, null);
    try {
      await api.rotateSealKey(site.id);
      status.textContent = "Rotating: a connector is re-sealing the credentials…";
      for (let i = 0; i < 60; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const info = await api.sealKey(site.id);
        status.textContent = sealStatus(info);
        if (info.rotations[0]?.state !== "running") break;
      }
      await data.reload("sites");
    } catch (failure) {
      say(
        sitesError,
        `Could not rotate the seal key of ${site.name}. ${errorText(failure, {
          connector_unavailable: "No connector of this site that holds its key is online.",
          conflict: "A rotation is already running for this site.",
          credential_rotating: "A credential of this site is being rotated; try again in a few minutes.",
        })}`,
      );
    } finally {
      button.disabled = false;
    }
  }

  async function createToken(site: Site, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    say(sitesError, null);
    try {
      showToken(site, await api.createEnrollmentToken(site.id));
    } catch (failure) {
      say(sitesError, `Could not create an enrollment token for ${site.name}. ${errorText(failure)}`);
    } finally {
      button.disabled = false;
    }
  }

  function drawSites(): void {
    if (data.sites.length === 0) {
      replace(sitesBody, emptyRow(3, "No sites yet. Create one below."));
      return;
    }
    replace(
      sitesBody,
      ...data.sites.map((site) => {
        const button = h(
          "button",
          { type: "button", class: "enroll", "data-site-id": site.id },
          "Create enrollment token",
        );
        button.addEventListener("click", () => void createToken(site, button));
        const kid = site.sealKey && typeof site.sealKey.kid === "string" ? site.sealKey.kid : null;
        const status = h("div", { class: "muted small seal-status", "data-site-id": site.id, "aria-live": "polite" });
        const rotate = h(
          "button",
          { type: "button", class: "button-quiet rotate-seal-key", "data-site-id": site.id },
          "Rotate seal key",
        );
        rotate.addEventListener("click", () => void rotateSealKey(site, rotate, status));
        if (site.sealKey)
          api.sealKey(site.id).then(
            (info) => (status.textContent = sealStatus(info)),
            () => {},
          );
        const zones = data.zones.filter((zone) => zone.siteId === site.id).map((zone) => zone.name);
        return h(
          "tr",
          { "data-site-id": site.id, "data-sealed": site.sealKey ? "yes" : "no" },
          h(
            "th",
            { scope: "row" },
            site.name,
            zones.length ? h("div", { class: "muted small" }, `Zones: ${zones.join(", ")}`) : null,
          ),
          h(
            "td",
            {},
            site.sealKey
              ? h("span", { class: "pill ok", title: kid ?? "" }, kid ? `Seal key ${shortKid(kid)}…` : "Seal key ready")
              : h("span", { class: "pill pending" }, "Waiting for first connector"),
            site.sealKey ? status : null,
          ),
          h("td", { class: "actions" }, button, site.sealKey ? rotate : null),
        );
      }),
    );
  }

  siteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = siteName.value.trim();
    if (!name) {
      say(sitesError, "Enter a name for the site.");
      siteName.focus();
      return;
    }
    say(sitesError, null);
    const submit = siteForm.querySelector("button")!;
    submit.disabled = true;
    try {
      const site = await api.createSite(name);
      siteName.value = "";
      await data.reload("sites");
      say(sitesError, `Site ${site.name} created. Create an enrollment token to connect its first connector.`, "ok");
    } catch (failure) {
      say(sitesError, errorText(failure, { conflict: `A site named ${name} already exists.` }));
    } finally {
      submit.disabled = false;
    }
  });

  const stop = data.listen(drawSites);
  append(
    container,
    panel(
      "sites",
      "Sites",
      "A site is a network a connector reaches. Its first connector provides the key credentials are sealed to; rotating it re-seals every credential on-prem.",
      dataTable("sites-table", "Sites", ["Site", "Seal key", "Actions"], sitesBody),
      tokenPanel,
      siteForm,
      sitesError,
    ),
  );
  data.reload("sites", "zones").catch((failure: unknown) => say(sitesError, errorText(failure)));
  const stopConnectors = renderConnectors(container, ctx);

  return () => {
    stop();
    stopConnectors();
    // The one-time token must not linger in a detached DOM.
    replace(tokenPanel);
  };
}
