// Admin › Notifications: the organisation's SMTP relay (docs/notifications.md "SMTP relay") and the outbox rows that
// failed. The relay password is sealed to the chosen site in this browser (keys/seal.ts) before it is sent: the
// edge stores the sealed blob and only that site's connectors can open it. It is write-only: the page never gets it.
import type { JWK } from "jose";
import type { MailRelaySettings, OutboxRow, Site } from "../../../protocol/index.ts";
import { sealSecret } from "../../../keys/seal.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, checkField, panel, rowButton } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";

export function renderAdminNotifications(container: HTMLElement, _context: AdminContext): Cleanup {
  let disposed = false;
  let sites: Site[] = [];
  const enabled = h("input", { type: "checkbox", id: "mail-enabled" });
  const site = h("select", { id: "mail-site" });
  const host = h("input", { id: "mail-host", autocomplete: "off", maxlength: 253, spellcheck: false });
  const port = h("input", { id: "mail-port", type: "number", min: 1, max: 65535, value: "587" });
  const tls = h(
    "select",
    { id: "mail-tls" },
    h("option", { value: "required" }, "STARTTLS required (refuse a relay that does not offer it)"),
    h("option", { value: "opportunistic" }, "STARTTLS when the relay offers it"),
    h("option", { value: "implicit" }, "TLS from the first byte (port 465)"),
  );
  const user = h("input", { id: "mail-user", autocomplete: "off", maxlength: 256, spellcheck: false });
  const password = h("input", { id: "mail-password", type: "password", autocomplete: "new-password" });
  const from = h("input", { id: "mail-from", type: "email", autocomplete: "off", maxlength: 254 });
  const status = h("p", { id: "mail-status", class: "alert", role: "alert", hidden: true });
  const save = h("button", { type: "submit", id: "mail-save" }, "Save");
  const form = h(
    "form",
    { novalidate: true, id: "mail-form" },
    checkField(enabled, "Send email through our SMTP relay", "Instead of Cloudflare's email sending."),
    field("Site whose connectors carry the mail", site, "One of its online connectors relays each message."),
    field("Relay host", host, "As the connector reaches it, e.g. smtp.corp.example."),
    field("Port", port, "587 for STARTTLS, 465 for TLS, 25 inside the network."),
    field("Encryption", tls, "The relay's certificate is always checked (connector config mail.caFile adds a CA)."),
    field("User", user, "Leave empty for a relay that takes mail without AUTH."),
    field("Password", password, "Write-only, sealed to the site here. Leave empty to keep the stored one."),
    field("From address", from, "The sender of every notification."),
    status,
    h("div", { class: "actions" }, save),
  );
  const failures = h("div", { id: "outbox-failures" });
  replace(
    container,
    panel("mail-relay", "SMTP relay", "Where notification email goes out.", form),
    panel("outbox", "Undelivered notifications", "Failed ones are retried; dead ones were given up on.", failures),
  );

  const show = (s: MailRelaySettings) => {
    enabled.checked = s.enabled;
    replace(site, ...sites.map((x) => h("option", { value: x.id, selected: x.id === s.siteId }, x.name)));
    host.value = s.host ?? "";
    port.value = String(s.port ?? 587);
    tls.value = s.tls;
    user.value = s.user ?? "";
    password.value = "";
    password.placeholder = s.passwordSet ? "(stored)" : "";
    from.value = s.from ?? "";
  };
  const showFailures = (rows: OutboxRow[]) => {
    if (rows.length === 0) {
      replace(failures, h("p", { class: "note" }, "Nothing undelivered."));
      return;
    }
    replace(
      failures,
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h("tr", {}, ...["Event", "To", "State", "Tries", "Last error", ""].map((t) => h("th", { scope: "col" }, t))),
        ),
        h(
          "tbody",
          {},
          ...rows.map((r) =>
            h(
              "tr",
              { "data-outbox": r.id },
              h("td", {}, r.subject),
              h("td", {}, r.target),
              h("td", {}, r.state),
              h("td", {}, String(r.attempts)),
              h("td", {}, r.lastError ?? ""),
              h(
                "td",
                {},
                rowButton("Retry", "secondary", r.subject, () => {
                  api.retryNotification(r.id).then(loadFailures, (f: unknown) => say(status, errorText(f)));
                }),
              ),
            ),
          ),
        ),
      ),
    );
  };
  const loadFailures = () =>
    api.outbox("all").then(
      (rows) => !disposed && showFailures(rows),
      (f: unknown) => !disposed && say(status, errorText(f)),
    );
  Promise.all([api.sites(), api.mailRelay()]).then(
    ([s, relay]) => {
      if (disposed) return;
      sites = s;
      show(relay);
    },
    (f: unknown) => !disposed && say(status, errorText(f)),
  );
  void loadFailures();

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(status, null);
    void busy(save, async () => {
      try {
        const chosen = sites.find((s) => s.id === site.value);
        if (!chosen) throw new Error("no site");
        let sealed: string | undefined;
        if (password.value) {
          if (!chosen.sealKey) {
            say(status, "That site has no seal key yet: enrol a connector there first.");
            return;
          }
          sealed = await sealSecret(chosen.sealKey as JWK, password.value);
        }
        const saved = await api.saveMailRelay({
          enabled: enabled.checked,
          siteId: chosen.id,
          host: host.value.trim(),
          port: Number(port.value),
          tls: tls.value as MailRelaySettings["tls"],
          user: user.value.trim() || null,
          ...(sealed ? { password: sealed } : {}),
          from: from.value.trim(),
        });
        if (disposed) return;
        show(saved);
        say(status, "Saved.", "ok");
      } catch (failure) {
        if (!disposed)
          say(
            status,
            errorText(failure, {
              bad_request:
                "Check the fields: a user needs a password, a new site, host, port or TLS mode the password again.",
            }),
          );
      }
    });
  });
  return () => {
    disposed = true;
  };
}
