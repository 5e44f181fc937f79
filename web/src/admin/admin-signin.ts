// Admin › Sign-in: the deployment's Duo application (docs/auth.md "Duo"). The client secret is write-only:
// the page never receives it, and leaving the field empty keeps the stored one. Saving with Duo on runs
// Duo's health check; settings Duo refuses are not saved (duo_refused).
import type { DuoSettings } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, checkField, panel } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";

const HEALTH: Record<NonNullable<DuoSettings["health"]>, string> = {
  ok: "Duo answers its health check.",
  unhealthy: "Duo answers, but says it is not healthy.",
  unreachable: "Duo cannot be reached from the edge.",
};

export function renderAdminSignIn(container: HTMLElement, _context: AdminContext): Cleanup {
  let disposed = false;
  const enabled = h("input", { type: "checkbox", id: "duo-enabled" });
  const apiHost = h("input", { id: "duo-api-host", autocomplete: "off", maxlength: 253, spellcheck: false });
  const clientId = h("input", { id: "duo-client-id", autocomplete: "off", maxlength: 20, spellcheck: false });
  const clientSecret = h("input", { id: "duo-client-secret", type: "password", autocomplete: "off", maxlength: 40 });
  const failMode = h(
    "select",
    { id: "duo-fail-mode" },
    h("option", { value: "closed" }, "Closed: refuse sign-in with Duo while Duo is down"),
    h("option", { value: "open" }, "Open: let sign-in go on without Duo while Duo is down (audited)"),
  );
  const redirect = h("code", { id: "duo-redirect-uri" });
  const health = h("p", { id: "duo-health", class: "note", role: "status", hidden: true });
  const status = h("p", { id: "duo-status", class: "alert", role: "alert", hidden: true });
  const save = h("button", { type: "submit", id: "duo-save" }, "Save");
  const form = h(
    "form",
    { novalidate: true, id: "duo-form" },
    checkField(enabled, "Offer Duo as a second factor", "Every user is then asked for a second factor at sign-in."),
    field("API hostname", apiHost, "From Duo's Admin Panel, e.g. api-1234abcd.duosecurity.com."),
    field("Client ID", clientId),
    field("Client secret", clientSecret, "Write-only. Leave empty to keep the stored one."),
    field("When Duo is down", failMode, "Step-up at connect never goes on without a second factor."),
    h("p", {}, "Redirect URI to enter in Duo: ", redirect),
    health,
    status,
    h("div", { class: "actions" }, save),
  );
  replace(container, panel("duo", "Duo", "Duo's Universal Prompt (a Web SDK application in Duo's Admin Panel).", form));

  const show = (s: DuoSettings) => {
    enabled.checked = s.enabled;
    apiHost.value = s.apiHost ?? "";
    clientId.value = s.clientId ?? "";
    clientSecret.value = "";
    clientSecret.placeholder = s.secretSet ? "(stored)" : "";
    failMode.value = s.failMode;
    redirect.textContent = s.redirectUri;
    say(health, s.health ? HEALTH[s.health] : null, s.health === "ok" ? "ok" : "info");
  };
  api.duoSettings().then(
    (s) => !disposed && show(s),
    (failure: unknown) => !disposed && say(status, errorText(failure)),
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(status, null);
    void busy(save, async () => {
      try {
        const saved = await api.saveDuoSettings({
          enabled: enabled.checked,
          apiHost: apiHost.value.trim(),
          clientId: clientId.value.trim(),
          ...(clientSecret.value ? { clientSecret: clientSecret.value } : {}),
          failMode: failMode.value === "open" ? "open" : "closed",
        });
        if (disposed) return;
        show(saved);
        say(status, "Saved.", "ok");
      } catch (failure) {
        if (!disposed)
          say(status, errorText(failure, { bad_request: "Check the fields: a new client ID needs its secret." }));
      }
    });
  });
  return () => {
    disposed = true;
  };
}
