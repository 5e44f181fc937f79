// Admin › Sites, per site: each connector's health (status, version, last heartbeat, sessions,
// last errors) and the servers its discovery found (seen, stale or retired), which an admin enables into a zone as
// SSH or RDP after confirming the proposed host key or certificate. Refreshed every 15 s while shown.
import type { ConnectorInfo, DiscoveredServer, DiscoveryLifecycleSettings, Site } from "../../../protocol/index.ts";
import type { AdminContext } from "./admin-data.ts";
import { busy, dataTable, emptyRow, panel } from "./admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, append, h, replace, say } from "../shared/dom.ts";
import { formatAgo, timeElement } from "../shared/format.ts";

/** How often the health view refreshes: 15 s, the connectors' heartbeat period. */
const REFRESH_MS = 15_000;

/**
 * Revoke: the connector's tokens stop working, its sockets close and its sessions end now. Confirmed
 * first; there is no undo (a replacement enrolls with a new token).
 */
function revokeButton(c: ConnectorInfo, message: HTMLElement, onRevoked: () => void): HTMLButtonElement | string {
  if (c.revoked) return "—";
  const button = h(
    "button",
    { type: "button", class: "small button-danger", "aria-label": `Revoke ${c.name}` },
    "Revoke",
  );
  button.addEventListener("click", () => {
    const sessions = c.sessions ? ` Its ${c.sessions} live session(s) end now.` : "";
    if (!window.confirm(`Revoke connector ${c.name}? It can no longer connect.${sessions} This cannot be undone.`))
      return;
    void busy(button, async () => {
      try {
        await api.revokeConnector(c.siteId, c.id);
        say(message, `Connector ${c.name} is revoked.`, "ok");
        onRevoked();
      } catch (failure) {
        say(message, `The connector was not revoked. ${errorText(failure)}`);
      }
    });
  });
  return button;
}

/** Rotate key: the online connector replaces its identity key; the old one stops authenticating. */
function rotateButton(c: ConnectorInfo, message: HTMLElement): HTMLButtonElement | null {
  if (c.revoked || !c.online) return null;
  const button = h("button", { type: "button", class: "small", "aria-label": `Rotate key: ${c.name}` }, "Rotate key");
  button.addEventListener("click", () => {
    void busy(button, async () => {
      try {
        await api.rotateConnectorKey(c.siteId, c.id);
        say(message, `Connector ${c.name} is replacing its identity key; the old key stops working.`, "ok");
      } catch (failure) {
        say(message, `The key was not rotated. ${errorText(failure)}`);
      }
    });
  });
  return button;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MiB`;

/**
 * The recording spool (docs/recording.md): how full it is, the oldest chunk waiting for upload, and since
 * when uploads fail. Flagged once it passes 80 % of its bound or uploads fail: chunks wait on the connector.
 */
function spoolCell(c: ConnectorInfo): HTMLTableCellElement {
  const s = c.spool;
  if (!s) return h("td", { class: "small" }, "—");
  const fraction = s.limit > 0 ? s.bytes / s.limit : 0;
  const alert = fraction >= 0.8 || s.failingSince !== null;
  return h(
    "td",
    { class: "small", "data-spool": alert ? "alert" : "ok" },
    h("span", { class: `pill ${alert ? "danger" : "ok"}` }, `${mib(s.bytes)} of ${mib(s.limit)}`),
    s.chunks > 0 && s.oldestAt !== null
      ? h(
          "div",
          {},
          `${s.chunks} chunk${s.chunks === 1 ? "" : "s"} waiting, oldest `,
          timeElement(s.oldestAt, formatAgo(s.oldestAt)),
        )
      : null,
    s.failingSince !== null
      ? h("div", {}, "uploads failing since ", timeElement(s.failingSince, formatAgo(s.failingSince)))
      : null,
  );
}

function connectorRow(c: ConnectorInfo, message: HTMLElement, onRevoked: () => void): HTMLTableRowElement {
  const status = c.revoked ? "revoked" : c.online ? "online" : "offline";
  const errors = c.errors.slice(-3).reverse();
  return h(
    "tr",
    { "data-connector-id": c.id, "data-status": status },
    h("th", { scope: "row" }, c.name),
    h("td", {}, h("span", { class: `pill ${c.online ? "ok" : "pending"}` }, status)),
    h("td", {}, c.agent ?? "—"),
    h("td", {}, c.lastHeartbeat ? timeElement(c.lastHeartbeat, formatAgo(c.lastHeartbeat)) : "—"),
    h("td", { class: "num" }, String(c.sessions)),
    spoolCell(c),
    h(
      "td",
      { class: "small" },
      errors.length
        ? h(
            "ul",
            { class: "plain" },
            ...errors.map((e) => h("li", {}, `${formatAgo(e.at)}: ${e.event}${e.reason ? ` (${e.reason})` : ""}`)),
          )
        : "none",
    ),
    h("td", {}, rotateButton(c, message), " ", revokeButton(c, message, onRevoked)),
  );
}

const LIFECYCLE_TEXT: Record<DiscoveredServer["lifecycle"], string> = {
  seen: "seen",
  stale: "stale: not seen lately",
  retired: "retired: no checkouts",
};

/** What a probe proposed for each protocol the host speaks: shown, never pre-filled into the pin. */
function proposals(s: DiscoveredServer): HTMLElement {
  const line = (label: string, value: string | null, note: string) =>
    value ? h("div", {}, `${label}: `, h("code", {}, value), h("div", { class: "muted" }, note)) : null;
  return h(
    "td",
    { class: "small" },
    line("SSH", s.proposedHostKey, `${s.hostKeyType ?? "host key"}, proposed by keyscan: verify before pinning`),
    line("RDP", s.proposedRdpCert, "certificate, proposed by the RDP probe: verify before pinning"),
    s.offers.length ? null : "no key or certificate seen",
  );
}

function discoveredRow(s: DiscoveredServer, ctx: AdminContext, onEnabled: () => void): HTMLTableRowElement {
  const zones = ctx.data.zones.filter((z) => z.siteId === s.siteId);
  const message = h("p", { class: "alert small", role: "alert", hidden: true });
  let action: HTMLElement | string = s.status === "enabled" ? "enabled" : "";
  if (s.status === "discovered" && s.lifecycle === "retired") action = "retired: enable when seen again";
  else if (s.status === "discovered" && !ctx.readOnly) {
    const zone = h(
      "select",
      { name: "zone", "aria-label": `Zone for ${s.name}` },
      ...zones.map((z) => h("option", { value: z.id }, z.name)),
    );
    // The protocol it offers first (RDP when only RDP answered); the admin may choose the other.
    const protocol = h(
      "select",
      { name: "protocol", "aria-label": `Protocol for ${s.name}` },
      h("option", { value: "ssh", selected: s.offers[0] !== "rdp" }, `SSH :${s.port}`),
      h("option", { value: "rdp", selected: s.offers[0] === "rdp" }, `RDP :${s.rdpPort ?? 3389}`),
    );
    const key = h("input", {
      name: "hostKey",
      value: "",
      placeholder: "SHA256:…",
      "aria-label": `Host key or certificate fingerprint to pin for ${s.name}`,
      size: 48,
      autocomplete: "off",
    });
    // The proposal is shown, never pre-filled: the admin confirms it out of band and types or pastes it.
    const button = h("button", { type: "submit" }, "Enable");
    const form = h("form", { class: "inline-form" }, zone, protocol, key, button, message);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      say(message, null);
      try {
        await api.enableDiscovered(s.id, {
          zoneId: zone.value,
          protocol: protocol.value === "rdp" ? "rdp" : "ssh",
          hostKey: key.value.trim(),
        });
        onEnabled();
      } catch (failure) {
        say(
          message,
          errorText(failure, {
            bad_request: "Choose a zone of this site and a SHA256 fingerprint (SSH host key or RDP certificate).",
          }),
        );
      } finally {
        button.disabled = false;
      }
    });
    action = zones.length ? form : "No zone in this site yet";
  }
  return h(
    "tr",
    { "data-discovered-id": s.id, "data-status": s.status, "data-lifecycle": s.lifecycle },
    h("th", { scope: "row" }, s.name, s.os ? h("div", { class: "muted small" }, s.os) : null),
    h("td", {}, `${s.host}:${s.port}`, s.rdpPort ? h("div", { class: "muted small" }, `RDP :${s.rdpPort}`) : null),
    h("td", {}, s.source),
    h(
      "td",
      {},
      LIFECYCLE_TEXT[s.lifecycle],
      s.lifecycle !== "seen" && s.lifecycleAt
        ? h("div", { class: "muted small" }, "since ", timeElement(s.lifecycleAt, formatAgo(s.lifecycleAt)))
        : null,
    ),
    h("td", {}, timeElement(s.lastSeen, formatAgo(s.lastSeen))),
    proposals(s),
    h("td", {}, action),
  );
}

/** A site's ages for hosts no rerun sees: stale after, then retired after (global admins change them). */
function lifecycleForm(site: Site, settings: DiscoveryLifecycleSettings, ctx: AdminContext): HTMLElement {
  const message = h("p", { class: "small", role: "status", hidden: true });
  const days = (name: string, label: string, value: number) =>
    h(
      "label",
      {},
      `${label} `,
      h("input", { name, type: "number", min: 1, max: 3650, value: String(value), size: 4, disabled: ctx.readOnly }),
      " days",
    );
  const stale = days("staleAfterDays", "Stale after", settings.staleAfterDays);
  const retire = days("retireAfterDays", "retired after", settings.retireAfterDays);
  const button = h("button", { type: "submit", class: "small", hidden: ctx.readOnly }, "Save ages");
  const form = h(
    "form",
    { class: "inline-form", "aria-label": `Discovery ages of ${site.name}`, "data-lifecycle-site": site.id },
    h("span", { class: "muted small" }, "Hosts discovery no longer sees: "),
    stale,
    retire,
    button,
    message,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (label: HTMLElement) => Number((label.querySelector("input") as HTMLInputElement).value);
    void busy(button, async () => {
      try {
        await api.setDiscoveryLifecycle(site.id, { staleAfterDays: value(stale), retireAfterDays: value(retire) });
        say(message, "Saved.", "ok");
      } catch (failure) {
        say(message, errorText(failure, { bad_request: "Retire after more days than stale (1 to 3650)." }));
      }
    });
  });
  return form;
}

export function renderConnectors(container: HTMLElement, ctx: AdminContext): Cleanup {
  const error = h("p", { id: "connectors-error", class: "alert", role: "alert", hidden: true });
  const sections = h("div", { id: "site-connectors" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  async function drawSite(site: Site): Promise<HTMLElement> {
    const [connectors, discovered, ages] = await Promise.all([
      api.siteConnectors(site.id),
      api.discovered(site.id),
      api.discoveryLifecycle(site.id),
    ]);
    const cBody = h(
      "tbody",
      {},
      ...(connectors.length
        ? connectors.map((c) => connectorRow(c, error, () => void refresh()))
        : [emptyRow(8, "No connector enrolled yet.")]),
    );
    const dBody = h(
      "tbody",
      {},
      ...(discovered.length
        ? discovered.map((s) => discoveredRow(s, ctx, () => void refresh()))
        : [emptyRow(7, "Nothing discovered yet. Configure discovery in the connector's config.json.")]),
    );
    return h(
      "div",
      { class: "site-health", "data-site-id": site.id },
      h("h3", {}, site.name),
      dataTable(
        `connectors-${site.id}`,
        `Connectors of ${site.name}`,
        ["Connector", "Status", "Version", "Last heartbeat", "Sessions", "Recording spool", "Last errors", "Key"],
        cBody,
      ),
      dataTable(
        `discovered-${site.id}`,
        `Discovered servers of ${site.name}`,
        ["Server", "Address", "Source", "State", "Last seen", "Proposed key or certificate", "Enable in zone"],
        dBody,
      ),
      lifecycleForm(site, ages, ctx),
    );
  }

  async function refresh(): Promise<void> {
    clearTimeout(timer);
    try {
      const drawn = await Promise.all(ctx.data.sites.map(drawSite));
      if (stopped) return;
      replace(sections, ...drawn);
      say(error, null);
    } catch (failure) {
      say(error, errorText(failure));
    }
    if (!stopped) timer = setTimeout(() => void refresh(), REFRESH_MS);
  }

  const stop = ctx.data.listen(() => void refresh());
  append(
    container,
    panel(
      "connectors",
      "Connectors and discovered servers",
      "Each site's connectors with their health, and the servers their discovery jobs found. A discovered server is usable only after you enable it in a zone as SSH or RDP and pin its host key or certificate. A host no rerun sees becomes stale, then retired: its server cannot be checked out until discovery sees it again.",
      sections,
      error,
    ),
  );
  void refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    stop();
  };
}
